import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWellFormedCfId } from '../src/index.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/';

/** The rule written out plainly: 16-128 characters, base64/base64url, up to two final '='. */
function reference(s: string): boolean {
  if (s.length < 16 || s.length > 128) return false;
  const body = s.replace(/={1,2}$/, '');
  return body.length > 0 && [...body].every((c) => ALPHABET.includes(c));
}

const ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';

describe('isWellFormedCfId', () => {
  it('accepts CloudFront ids with 0, 1 or 2 padding characters and both alphabets', () => {
    expect(isWellFormedCfId(ID)).toBe(true);
    expect(isWellFormedCfId(ID.slice(0, -1))).toBe(true);
    expect(isWellFormedCfId(ID.slice(0, -2))).toBe(true);
    expect(isWellFormedCfId('ab+/cd-_ef+/gh-_ij')).toBe(true);
    expect(isWellFormedCfId('A'.repeat(16))).toBe(true);
    expect(isWellFormedCfId('A'.repeat(128))).toBe(true);
    expect(isWellFormedCfId(`${'A'.repeat(15)}=`)).toBe(true);
  });

  it('rejects bad lengths, misplaced or excess padding, and any other character', () => {
    expect(isWellFormedCfId('A'.repeat(15))).toBe(false);
    expect(isWellFormedCfId('A'.repeat(129))).toBe(false);
    expect(isWellFormedCfId(`${ID.slice(0, -2)}===`)).toBe(false);
    expect(isWellFormedCfId(`${ID.slice(0, 10)}=${ID.slice(11)}`)).toBe(false);
    expect(isWellFormedCfId('='.repeat(20))).toBe(false);
    expect(isWellFormedCfId(`${ID.slice(0, 10)} ${ID.slice(11)}`)).toBe(false);
    expect(isWellFormedCfId(`${ID.slice(0, 10)}.${ID.slice(11)}`)).toBe(false);
    expect(isWellFormedCfId(`${ID.slice(0, 10)}é${ID.slice(11)}`)).toBe(false);
    // A line break at either end (`$` must not match before a final newline).
    expect(isWellFormedCfId(`${ID.slice(0, -2)}\n`)).toBe(false);
    expect(isWellFormedCfId(`${ID}\n`)).toBe(false);
    expect(isWellFormedCfId(`\n${ID.slice(0, -2)}`)).toBe(false);
  });

  it('agrees with the plainly written rule (property)', () => {
    const unit = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...ALPHABET) },
      { weight: 1, arbitrary: fc.constantFrom('=', ' ', '\n', '.', ',', 'é', '\u0141', '\u0000') },
    );
    const id = fc.string({ unit, minLength: 10, maxLength: 135 });
    const padded = fc.tuple(id, fc.constantFrom('', '=', '==', '===')).map(([a, b]) => a + b);
    fc.assert(
      fc.property(fc.oneof(id, padded), (s) => {
        expect(isWellFormedCfId(s)).toBe(reference(s));
      }),
      { numRuns: 5_000 },
    );
  });
});
