/**
 * `runAudit`: gather the account, run every check, sum up.
 * @module
 */
import { runChecks } from './checks/index.js';
import { worst } from './checks/result.js';
import { gatherSnapshot } from './gather/index.js';
import { type AuditOptions, resolveOptions } from './options.js';
import type { AccountSnapshot, AuditReport, CheckResult } from './types.js';

/** The report of already-run checks. */
export function buildReport(
  snapshot: AccountSnapshot,
  checks: readonly CheckResult[],
): AuditReport {
  const status = worst(checks.map((c) => c.status));
  const overall = status === 'SKIPPED' ? 'PASS' : status;
  return {
    region: snapshot.region,
    loadBalancer: {
      arn: snapshot.loadBalancer.arn,
      name: snapshot.loadBalancer.name,
      dnsName: snapshot.loadBalancer.dnsName,
    },
    checks,
    status: overall,
    exitCode: overall === 'FAIL' ? 1 : 0,
  };
}

/**
 * Audit the AWS side of a CloudFront -> ALB origin with read-only calls.
 * Resolves with the report (exit code 0 or 1); rejects with an `AuditError` (exit code 2) when
 * it cannot run: bad options, no credentials, no such load balancer.
 * @example
 * import { runAudit } from '@cdn-origin-guard/audit';
 * const report = await runAudit({ loadBalancer: 'prod-web', secretId: 'prod/origin-verify' });
 * process.exitCode = report.exitCode;
 */
export async function runAudit(options: Readonly<AuditOptions>): Promise<AuditReport> {
  const resolved = resolveOptions(options);
  const snapshot = await gatherSnapshot(resolved);
  return buildReport(snapshot, runChecks(snapshot));
}
