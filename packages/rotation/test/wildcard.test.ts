/**
 * The ALB-style wildcard match the rotation uses to tell which header rules accept a value
 * (`*` any run, `?` one character), written without regular expressions so that a pattern of
 * many `*` stays cheap: it must agree with the regular-expression reading on any input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wildcardMatches } from '../src/aws/alb.js';

/** The reference: the pattern as an anchored regular expression. */
function byRegex(pattern: string, text: string): boolean {
  const body = pattern
    .replace(/[\\^$.|+()[\]{}]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's').test(text);
}

describe('wildcardMatches', () => {
  const chars = fc.constantFrom('a', 'b', '*', '?', '.', '+', '(', '\\', '[');
  it('agrees with the regular-expression reading', () => {
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 8 }).map((c) => c.join('')),
        fc
          .array(fc.constantFrom('a', 'b', '.', '+', '(', '\\', '['), { maxLength: 10 })
          .map((c) => c.join('')),
        (pattern, text) => {
          expect(wildcardMatches(pattern, text)).toBe(byRegex(pattern, text));
        },
      ),
      { numRuns: 5000 },
    );
  });

  // No timing asserted: the regular-expression reading of this pattern backtracks for minutes,
  // so a regression would show as this test's timeout.
  it('answers a pattern of many stars that does not match without unbounded backtracking', () => {
    expect(wildcardMatches(`${'*a'.repeat(20)}*b`, 'a'.repeat(128))).toBe(false);
    expect(wildcardMatches(`${'*a'.repeat(20)}*`, 'a'.repeat(128))).toBe(true);
  });
});
