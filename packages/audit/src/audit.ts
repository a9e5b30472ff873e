/**
 * `runAudit`: gather the account, run every check, sum up.
 * @module
 */
import { runChecks } from './checks/index.js';
import { incompleteChecks, worst } from './checks/result.js';
import { gatherSnapshot } from './gather/index.js';
import { type AuditOptions, resolveOptions } from './options.js';
import type { AccountSnapshot, AuditReport, AuditStatus, CheckResult } from './types.js';

/**
 * The report of already-run checks. A check that could not run makes the audit INCOMPLETE
 * (exit code 3) unless `allowIncomplete`, which keeps the status and exits 0.
 */
export function buildReport(
  snapshot: AccountSnapshot,
  checks: readonly CheckResult[],
  allowIncomplete = false,
): AuditReport {
  const status = worst(checks.map((c) => c.status));
  const overall: AuditStatus =
    status === 'FAIL'
      ? 'FAIL'
      : incompleteChecks(checks).length > 0
        ? 'INCOMPLETE'
        : status === 'SKIPPED'
          ? 'PASS'
          : status;
  return {
    region: snapshot.region,
    loadBalancer: {
      arn: snapshot.loadBalancer.arn,
      name: snapshot.loadBalancer.name,
      dnsName: snapshot.loadBalancer.dnsName,
    },
    checks,
    status: overall,
    exitCode: overall === 'FAIL' ? 1 : overall === 'INCOMPLETE' && !allowIncomplete ? 3 : 0,
  };
}

/**
 * Audit the AWS side of a CloudFront -> ALB origin with read-only calls.
 * Resolves with the report (exit code 0, 1 for a FAIL, or 3 when a check could not run); rejects
 * with an `AuditError` (exit code 2) when it cannot run at all: bad options, no credentials, no
 * such load balancer.
 * @example
 * import { runAudit } from '@cdn-origin-guard/audit';
 * const report = await runAudit({ loadBalancer: 'prod-web', secretId: 'prod/origin-verify' });
 * process.exitCode = report.exitCode;
 */
export async function runAudit(options: Readonly<AuditOptions>): Promise<AuditReport> {
  const resolved = resolveOptions(options);
  const snapshot = await gatherSnapshot(resolved);
  return buildReport(snapshot, runChecks(snapshot), resolved.allowIncomplete);
}
