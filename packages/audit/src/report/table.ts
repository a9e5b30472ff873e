/**
 * The report for people: grouped by check, the fix on each failing line, coloured only when asked
 * (the CLI asks on a TTY).
 * @module
 */
import { incompleteChecks } from '../checks/result.js';
import type { AuditReport, CheckStatus, EvidenceValue, Skip } from '../types.js';

/** Options of {@link renderTable}. */
export interface TableOptions {
  /** ANSI colours. Defaults to `false`. */
  readonly color?: boolean;
}

const COLOURS: Record<CheckStatus | 'INCOMPLETE', string> = {
  PASS: '32',
  WARN: '33',
  FAIL: '31',
  SKIPPED: '2',
  INCOMPLETE: '35',
};

function evidenceText(evidence: Readonly<Record<string, EvidenceValue>>): string {
  return Object.entries(evidence)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ');
}

/** Counts of checks by status. */
export function summarize(report: AuditReport): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { PASS: 0, WARN: 0, FAIL: 0, SKIPPED: 0 };
  for (const c of report.checks) counts[c.status]++;
  return counts;
}

/** Why a check did not (fully) look, with the missing IAM action when there is one. */
function skipText(skip: Skip): string {
  return skip.missingAction === undefined
    ? skip.message
    : `${skip.message} (missing ${skip.missingAction})`;
}

/** The report as text lines (no trailing newline). */
export function renderTable(report: AuditReport, options: TableOptions = {}): string {
  const paint = (status: CheckStatus | 'INCOMPLETE', text: string) =>
    options.color === true ? `\x1b[${COLOURS[status]}m${text}\x1b[0m` : text;
  const bold = (text: string) => (options.color === true ? `\x1b[1m${text}\x1b[0m` : text);
  const counts = summarize(report);
  const width = Math.max(...report.checks.map((c) => c.title.length), 20) + 2;
  const lines = [
    bold(
      `cdn-origin-guard audit: ${report.loadBalancer.name} (${report.region}): ${paint(report.status, report.status)}`,
    ),
    `${counts.FAIL} fail, ${counts.WARN} warn, ${counts.PASS} pass, ${counts.SKIPPED} skipped`,
  ];
  const incomplete = incompleteChecks(report.checks);
  if (incomplete.length > 0)
    lines.push(
      `could not run (or not everywhere): ${incomplete.map((c) => c.id).join(', ')}: the holes they look for may be there (exit code ${report.exitCode})`,
    );
  for (const check of report.checks) {
    lines.push('', `${bold(check.title.padEnd(width))}${paint(check.status, check.status)}`);
    if (check.skipped !== undefined)
      lines.push(`  ${paint('SKIPPED', 'SKIPPED')} ${skipText(check.skipped)}`);
    if (check.incomplete !== undefined)
      lines.push(
        `  ${paint('INCOMPLETE', 'INCOMPLETE')} could not look everywhere: ${skipText(check.incomplete)}`,
      );
    for (const f of check.findings) {
      lines.push(`  ${paint(f.status, f.status.padEnd(4))}  ${f.message}`);
      if (f.status === 'PASS') continue;
      const evidence = evidenceText(f.evidence);
      if (evidence !== '') lines.push(`        evidence: ${evidence}`);
      if (f.fix !== undefined) lines.push(`        fix: ${f.fix}`);
    }
  }
  return lines.join('\n');
}
