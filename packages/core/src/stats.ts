/**
 * Decision counters: by outcome, reason and secret stage.
 * @module
 */
import {
  ALLOW_REASONS,
  DENY_REASONS,
  type Decision,
  type DenyReason,
  type Reason,
} from './decision.js';
import type { SourceStats } from './sources/cache.js';

/** Counters since the verifier was created. Contains no secret value. */
export interface VerifierStats {
  /** Decisions made. */
  readonly total: number;
  /** Allowed decisions (including report-mode ones). */
  readonly allowed: number;
  /** Denied decisions. */
  readonly denied: number;
  /** Decisions by reason code (the final reason of each decision). */
  readonly byReason: Readonly<Record<Reason, number>>;
  /** Failures seen by reason, including the ones only reported (report mode). */
  readonly failures: Readonly<Record<DenyReason, number>>;
  /** Verified requests by the secret stage that matched (e.g. `AWSPREVIOUS` falling to 0 after a rotation). */
  readonly bySecretStage: Readonly<Record<string, number>>;
  /** Health of the two sources. */
  readonly sources: { readonly secret: SourceStats; readonly ranges: SourceStats };
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Counts decisions; `record` is on the hot path (no allocation). */
export class DecisionCounters {
  #total = 0;
  #allowed = 0;
  #denied = 0;
  readonly #byReason = zeroRecord<Reason>([...ALLOW_REASONS, ...DENY_REASONS]);
  readonly #failures = zeroRecord(DENY_REASONS);
  /**
   * Verified requests by stage, as two parallel arrays searched linearly (at most a few stages):
   * cheaper per request than a dictionary keyed by stage text.
   */
  readonly #stageNames: string[] = [];
  readonly #stageCounts: number[] = [];

  /** Count one decision. */
  record(decision: Decision): void {
    this.#total++;
    this.#byReason[decision.reason]++;
    if (decision.allowed) {
      this.#allowed++;
      if (decision.reason === 'verified') this.#countStage(decision.secretStage);
      else if (decision.reason === 'reported')
        for (const failure of decision.failures) this.#failures[failure]++;
    } else {
      this.#denied++;
      for (const failure of decision.failures) this.#failures[failure]++;
    }
  }

  #countStage(stage: string): void {
    const names = this.#stageNames;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === stage) {
        this.#stageCounts[i]!++;
        return;
      }
    }
    names.push(stage);
    this.#stageCounts.push(1);
  }

  /** A copy of the counters, with the sources' health added. */
  snapshot(sources: VerifierStats['sources']): VerifierStats {
    return {
      total: this.#total,
      allowed: this.#allowed,
      denied: this.#denied,
      byReason: { ...this.#byReason },
      failures: { ...this.#failures },
      bySecretStage: Object.fromEntries(
        this.#stageNames.map((stage, i) => [stage, this.#stageCounts[i]!]),
      ),
      sources,
    };
  }
}
