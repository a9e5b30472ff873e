/**
 * A secret header value that cannot be printed by accident, compared in constant time.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const REDACTED = '[redacted]';

/**
 * A secret value (a Secrets Manager stage, a CloudFront origin header, an ALB rule value).
 * `String()`, `JSON.stringify()` and `util.inspect()` all give `[redacted]`.
 */
export class SecretText {
  readonly #digest: Buffer;
  /** The digest of the value in lower case: what an ALB `http-header` condition compares. */
  readonly #folded: Buffer;

  constructor(value: string) {
    // Only SHA-256 digests are kept: equal length for every value, so the compares below take
    // the same time whatever the values and wherever they differ.
    this.#digest = createHash('sha256').update(value, 'utf8').digest();
    this.#folded = createHash('sha256').update(value.toLowerCase(), 'utf8').digest();
  }

  /** Constant-time equality with another value. */
  equals(other: SecretText): boolean {
    return timingSafeEqual(this.#digest, other.#digest);
  }

  /** Whether any of `others` equals this value; compares against every one without stopping early. */
  equalsAny(others: Iterable<SecretText>): boolean {
    let found = false;
    for (const other of others) found = this.equals(other) || found;
    return found;
  }

  /**
   * Constant-time equality ignoring case, as an ALB `http-header` condition compares its values
   * ("the comparison strings are case insensitive").
   */
  equalsIgnoringCase(other: SecretText): boolean {
    return timingSafeEqual(this.#folded, other.#folded);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/**
 * The staging labels of `values` whose value equals `candidate` (constant time per label);
 * with `ignoreCase`, equal ignoring case, as an ALB `http-header` condition compares.
 */
export function matchingStages(
  candidate: SecretText,
  values: ReadonlyMap<string, SecretText>,
  ignoreCase = false,
): string[] {
  const out: string[] = [];
  for (const [stage, value] of values)
    if (ignoreCase ? candidate.equalsIgnoringCase(value) : candidate.equals(value)) out.push(stage);
  return out;
}
