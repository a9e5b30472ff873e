/**
 * Hostile input: at least 1e5 random and adversarial header sets through `verifier.verify`,
 * and at least 1e4 hand-built requests over real HTTP to the Express and Fastify example apps.
 * Never a 5xx, never a throw or a dropped connection, never an allow the independent oracle
 * does not also give (and never a deny of a request it allows).
 */
import { describe, expect, it } from 'vitest';
import { runHostileCore, runHostileHttp } from './scenarios/hostile.js';
import { seedFromEnv } from './support/traffic.js';

const CORE_RUNS = 100_000;
const HTTP_EXPRESS = 6_000;
const HTTP_FASTIFY = 4_000;

describe('hostile input', () => {
  it('verify() agrees with the oracle on 1e5 random and adversarial header sets, and never throws', () => {
    const seed = seedFromEnv();
    const r = runHostileCore({ runs: CORE_RUNS, seed });
    console.info(
      `[hostile/core] seed=${seed} runs=${r.runs} allowed=${r.allowed} denied=${r.denied} mismatches=${r.mismatches} throws=${r.throws} in ${Math.round(r.ms)} ms`,
    );
    expect(r.counterexample, `seed ${seed}`).toBeUndefined();
    expect(r.runs).toBeGreaterThanOrEqual(CORE_RUNS);
    expect(r.throws).toBe(0);
    expect(r.mismatches).toBe(0);
    // The generator must exercise both outcomes in earnest.
    expect(r.allowed).toBeGreaterThan(CORE_RUNS * 0.05);
  }, 60_000);

  it.each([
    ['express', HTTP_EXPRESS],
    ['fastify', HTTP_FASTIFY],
  ] as const)(
    'a real %s app answers hand-built hostile requests as the oracle says, never 5xx',
    async (framework, count) => {
      const seed = seedFromEnv();
      const r = await runHostileHttp({ framework, count, seed });
      console.info(
        `[hostile/http/${framework}] seed=${seed} requests=${r.requests} allowed=${r.allowed} denied=${r.denied} parser-rejected=${r.parserRejected} parser-dropped=${r.parserDropped} 5xx=${r.serverErrors} dropped=${r.dropped} mismatches=${r.mismatches} status=${JSON.stringify(r.byStatus)} in ${Math.round(r.ms)} ms`,
      );
      expect(r.examples, `seed ${seed}`).toEqual([]);
      expect(r.requests).toBe(count);
      expect(r.serverErrors).toBe(0);
      expect(r.dropped).toBe(0);
      expect(r.mismatches).toBe(0);
      expect(r.allowed).toBeGreaterThan(count * 0.03);
    },
    60_000,
  );
});
