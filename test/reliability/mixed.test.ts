/**
 * Mixed traffic for 5 s at full speed (60 s in `npm run soak`): legitimate CloudFront requests,
 * bots, another distribution, forged X-Forwarded-For and health checks in known proportions
 * through the Express and Fastify example apps. Every response matches its kind's expected
 * status; heap and event-loop delay are reported.
 */
import { describe, expect, it } from 'vitest';
import { MIX, runMixed } from './scenarios/mixed.js';
import { seedFromEnv } from './support/traffic.js';

describe('mixed traffic at full speed', () => {
  it('decides every request of every kind correctly for 5 s, with a flat heap', async () => {
    const seed = seedFromEnv();
    const r = await runMixed({ seconds: 5, seed });
    const rt = r.runtime;
    console.info(
      `[mixed] seed=${seed} requests=${r.load.requests} rps=${Math.round((r.load.requests * 1000) / r.load.ms)} mismatches=${r.load.violationCount} errors=${r.load.errors} kinds=${JSON.stringify(r.load.byKind)} legit-p99=${r.load.latency.legit?.p99.toFixed(2)}ms heap start/end/max=${rt.heapStartMb.toFixed(1)}/${rt.heapEndMb.toFixed(1)}/${rt.heapMaxMb.toFixed(1)} MB slope=${rt.heapSlopeMbPerMin.toFixed(2)} MB/min after-GC ${r.heapAfterGcStartMb.toFixed(1)}->${r.heapAfterGcEndMb.toFixed(1)} MB loop p50/p99/max=${rt.loopP50Ms.toFixed(2)}/${rt.loopP99Ms.toFixed(2)}/${rt.loopMaxMs.toFixed(2)} ms GetSecretValue=${r.getSecretValueCalls} (bound ${r.getSecretValueBound})`,
    );
    expect(r.load.violations, `seed ${seed}`).toEqual([]);
    expect(r.load.errors).toBe(0);
    for (const kind of Object.keys(MIX)) expect(r.load.byKind[kind]?.sent ?? 0).toBeGreaterThan(20);
    expect(r.load.requests).toBeGreaterThan(1_000);
    // A bot or another distribution cannot drive Secrets Manager calls.
    expect(r.getSecretValueCalls).toBeLessThanOrEqual(r.getSecretValueBound);
    // Nothing retained: the heap after a full GC grows by less than 16 MB.
    expect(r.heapAfterGcEndMb - r.heapAfterGcStartMb).toBeLessThan(16);
  }, 60_000);
});
