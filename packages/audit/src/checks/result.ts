/**
 * Building blocks shared by the checks: findings, the worst status, skips.
 * @module
 */
import type {
  AccountSnapshot,
  CheckId,
  CheckResult,
  CheckStatus,
  EvidenceValue,
  Finding,
  Gathered,
  Skip,
} from '../types.js';

/** One check: a pure function over the snapshot. */
export interface Check {
  readonly id: CheckId;
  readonly title: string;
  readonly run: (snapshot: AccountSnapshot) => CheckResult;
}

const RANK: Record<CheckStatus, number> = { SKIPPED: 0, PASS: 1, WARN: 2, FAIL: 3 };

/** The worst of `statuses` (`PASS` for none). */
export function worst(statuses: Iterable<CheckStatus>): CheckStatus {
  let out: CheckStatus = 'PASS';
  for (const s of statuses) if (RANK[s] > RANK[out]) out = s;
  return out;
}

type Evidence = Readonly<Record<string, EvidenceValue | undefined>>;

function clean(evidence: Evidence): Record<string, EvidenceValue> {
  const out: Record<string, EvidenceValue> = {};
  for (const [k, v] of Object.entries(evidence)) if (v !== undefined) out[k] = v;
  return out;
}

/** A PASS finding. */
export function pass(message: string, evidence: Evidence = {}): Finding {
  return { status: 'PASS', message, evidence: clean(evidence) };
}

/** A WARN finding with its fix. */
export function warn(message: string, fix: string, evidence: Evidence = {}): Finding {
  return { status: 'WARN', message, evidence: clean(evidence), fix };
}

/** A FAIL finding with its fix. */
export function fail(message: string, fix: string, evidence: Evidence = {}): Finding {
  return { status: 'FAIL', message, evidence: clean(evidence), fix };
}

/** A result from findings (status = the worst). */
export function result(check: Pick<Check, 'id' | 'title'>, findings: Finding[]): CheckResult {
  return {
    id: check.id,
    title: check.title,
    status: worst(findings.map((f) => f.status)),
    findings,
  };
}

/** A SKIPPED result. */
export function skipped(check: Pick<Check, 'id' | 'title'>, skip: Skip): CheckResult {
  return { id: check.id, title: check.title, status: 'SKIPPED', findings: [], skipped: skip };
}

/** The first part that could not be read, as a skip; `undefined` when every part was read. */
export function firstSkip(...parts: Gathered<unknown>[]): Skip | undefined {
  for (const part of parts) if (!part.ok) return part.skip;
  return undefined;
}

/** Why a check may be skipped without leaving a hole unlooked-for. */
const CHOSEN_SKIPS: ReadonlySet<Skip['reason']> = new Set(['not-requested', 'not-applicable']);

/**
 * The checks that could not run (access denied, throttled, an AWS error), or ran but could not
 * look everywhere (`incomplete`).
 */
export function incompleteChecks(checks: readonly CheckResult[]): CheckResult[] {
  return checks.filter(
    (c) =>
      (c.status === 'SKIPPED' && c.skipped !== undefined && !CHOSEN_SKIPS.has(c.skipped.reason)) ||
      (c.incomplete !== undefined && !CHOSEN_SKIPS.has(c.incomplete.reason)),
  );
}

/** `checked` marked as not having looked everywhere, for `why` (no mark without one). */
export function partly(checked: CheckResult, why: Skip | undefined): CheckResult {
  return why === undefined ? checked : { ...checked, incomplete: why };
}
