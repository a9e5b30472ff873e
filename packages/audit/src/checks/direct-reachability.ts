/**
 * Direct reachability (`--probe`): the ALB's DNS name must not serve a request without the header.
 * @module
 */
import type { AccountSnapshot, Finding } from '../types.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'direct-reachability', title: 'Direct reachability (--probe)' } as const;

function run(snapshot: AccountSnapshot) {
  const { probes, headerName } = snapshot;
  const skip = firstSkip(probes);
  if (skip !== undefined || !probes.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const findings: Finding[] = probes.value.map((p) => {
    const evidence = {
      url: p.url,
      outcome: p.outcome,
      statusCode: p.statusCode,
      detail: p.detail,
    };
    // No answer at all (DNS, routing, TLS): nothing was learned, so it is not a PASS.
    if (p.outcome === 'error')
      return warn(
        `${p.url} without ${headerName}: could not probe: ${p.detail ?? 'error'}`,
        "Run the audit where the ALB's DNS name resolves and routes (or pass --probe-address <ALB node IP>), then probe again",
        evidence,
      );
    if (p.outcome !== 'served')
      return pass(`${p.url} without ${headerName}: ${p.outcome}`, evidence);
    const code = p.statusCode ?? 0;
    if (code >= 400 && code < 500) return pass(`${p.url} without ${headerName}: ${code}`, evidence);
    const fix =
      'Allow only the CloudFront origin-facing prefix list in the ALB security group, make the listener default a fixed 403, and point uptime checks at the CloudFront URL';
    if (code >= 500)
      return warn(
        `${p.url} without ${headerName}: ${code} (reached the ALB, not a 4xx)`,
        fix,
        evidence,
      );
    return fail(
      `${p.url} without ${headerName} was served (${code}): the ALB is reachable around CloudFront`,
      fix,
      evidence,
    );
  });
  return result(check, findings);
}

/** Direct reachability. */
export const directReachabilityCheck: Check = { ...check, run };
