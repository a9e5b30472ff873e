/**
 * The report for CI: a stable JSON document (`schemaVersion` 1), described in the README.
 * @module
 */
import type { AuditReport, CheckResult, CheckStatus } from '../types.js';
import { summarize } from './table.js';

/** The JSON document `--json` prints. */
export interface AuditJson {
  /** Bumped on any breaking change of this shape. */
  readonly schemaVersion: 1;
  readonly tool: 'cdn-origin-guard';
  readonly command: 'audit';
  readonly region: string;
  readonly loadBalancer: AuditReport['loadBalancer'];
  readonly status: AuditReport['status'];
  readonly exitCode: AuditReport['exitCode'];
  readonly summary: Readonly<Record<CheckStatus, number>>;
  readonly checks: readonly CheckResult[];
}

/** The report as the `--json` document. */
export function toJson(report: AuditReport): AuditJson {
  return {
    schemaVersion: 1,
    tool: 'cdn-origin-guard',
    command: 'audit',
    region: report.region,
    loadBalancer: report.loadBalancer,
    status: report.status,
    exitCode: report.exitCode,
    summary: summarize(report),
    checks: report.checks,
  };
}
