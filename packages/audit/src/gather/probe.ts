/**
 * `--probe`: one request per listener to the ALB's DNS name, without the header.
 * @module
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { ListenerInfo, ProbeResult } from '../types.js';

/** A DNS lookup that answers `address` for every name (like curl's `--resolve`). */
function fixedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return (_hostname, options, callback) => {
    if (options.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

/**
 * GET `url` without any origin header; bounded by `timeoutMs`. With `address`, connect there
 * instead of resolving the host (the Host header and SNI keep the DNS name). Never throws.
 */
export function probeUrl(url: string, timeoutMs: number, address?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    let done = false;
    const finish = (result: ProbeResult) => {
      if (done) return;
      done = true;
      resolve(result);
    };
    const req = send(
      url,
      {
        method: 'GET',
        agent: false,
        timeout: timeoutMs,
        headers: { 'user-agent': 'cdn-origin-guard-audit-probe' },
        ...(address === undefined ? {} : { lookup: fixedLookup(address) }),
        // The ALB's certificate names the site, not the ALB's DNS name: the probe asks only
        // whether anything is served, so it does not verify the certificate.
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        const { location } = res.headers;
        finish({
          url,
          outcome: 'served',
          statusCode: res.statusCode ?? 0,
          ...(location === undefined ? {} : { location }),
        });
        req.destroy();
      },
    );
    req.on('timeout', () => {
      finish({ url, outcome: 'timeout', detail: `no answer within ${timeoutMs} ms` });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? 'error';
      if (code === 'ECONNREFUSED') finish({ url, outcome: 'refused', detail: code });
      else if (code === 'ECONNRESET') finish({ url, outcome: 'reset', detail: code });
      else finish({ url, outcome: 'error', detail: code });
    });
    req.end();
  });
}

/**
 * The URLs to probe: each HTTP/HTTPS listener; 443 and 80 only when the listeners could not be
 * read (`undefined`). Read listeners with none on HTTP or HTTPS give none: an ALB answers only on
 * its listener ports, so there is nothing to probe.
 */
export function probeUrls(
  dnsName: string,
  listeners: readonly Pick<ListenerInfo, 'port' | 'protocol'>[] | undefined,
): string[] {
  const host = dnsName.includes(':') ? `[${dnsName}]` : dnsName;
  if (listeners === undefined) return [`https://${host}:443/`, `http://${host}:80/`];
  return listeners
    .filter((l) => l.protocol === 'HTTP' || l.protocol === 'HTTPS')
    .map((l) => `${l.protocol.toLowerCase()}://${host}:${l.port}/`);
}
