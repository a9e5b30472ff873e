/**
 * A stand-in for the ALB's own front door, on 127.0.0.1 only: an HTTPS server (self-signed
 * certificate made with openssl) that answers every request with a fixed status, and a plain-HTTP
 * one that answers as an ALB redirect action does. The audit's
 * `--probe` is pointed at it with `probeAddress: '127.0.0.1'`.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running stand-in. */
export interface ProbeTarget {
  readonly port: number;
  /** Requests received (the probe sends one per listener). */
  readonly requests: number;
  /** Whether any request carried the origin header (it must not). */
  readonly sawHeader: boolean;
  close(): Promise<void>;
}

let cached: { key: Buffer; cert: Buffer } | undefined;

/** A throwaway self-signed certificate, made once per process. */
function certificate(): { key: Buffer; cert: Buffer } {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-audit-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    cached = { key: readFileSync(keyFile), cert: readFileSync(certFile) };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Listen on an ephemeral port of 127.0.0.1; resolves with the port. */
async function listenLocally(server: HttpServer | Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

/** Close `server` and every connection it holds. */
function closeServer(server: HttpServer | Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Start an HTTPS server on 127.0.0.1 that answers `status` to everything. */
export async function startProbeTarget(
  status: number,
  headerName = 'x-origin-verify',
): Promise<ProbeTarget> {
  let requests = 0;
  let sawHeader = false;
  const server: Server = createServer(certificate(), (req, res) => {
    requests++;
    if (req.headers[headerName] !== undefined) sawHeader = true;
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
    res.end(status < 400 ? 'app content' : 'Forbidden');
  });
  const port = await listenLocally(server);
  return {
    port,
    get requests() {
      return requests;
    },
    get sawHeader() {
      return sawHeader;
    },
    close: () => closeServer(server),
  };
}

/** A running plain-HTTP stand-in for a listener that redirects. */
export interface RedirectTarget {
  readonly port: number;
  /** Requests received. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Start a plain HTTP server on 127.0.0.1 that answers every request as an ALB redirect action
 * does: `status` with `Location: <protocol>://<host of the request>/` (or `host` when given).
 */
export async function startRedirectTarget(
  to: {
    readonly status?: number;
    readonly protocol?: 'https' | 'http';
    readonly host?: string;
  } = {},
): Promise<RedirectTarget> {
  let requests = 0;
  const server = createHttpServer((req, res) => {
    requests++;
    const host = to.host ?? (req.headers.host ?? '').replace(/:\d+$/, '');
    res.writeHead(to.status ?? 301, {
      location: `${to.protocol ?? 'https'}://${host}:443/`,
      connection: 'close',
    });
    res.end();
  });
  const port = await listenLocally(server);
  return {
    port,
    get requests() {
      return requests;
    },
    close: () => closeServer(server),
  };
}
