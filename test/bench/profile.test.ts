import { describe, expect, it } from 'vitest';
import { attribute, bucketOf, type CpuProfile } from '../../bench/lib/profile.js';

const ROOT = '/repo/';
const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber: id * 10 },
  children,
});

/** root → framework handle → guard verify → node:crypto timingSafeEqual → native; plus GC and idle. */
const PROFILE: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 6, 7]),
    frame(2, 'handle', 'file:///repo/node_modules/express/lib/router.js', [3]),
    frame(3, 'verify', 'file:///repo/packages/core/src/verifier.ts', [4]),
    frame(4, 'timingSafeEqual', 'node:crypto', [5]),
    frame(5, 'TimingSafeEqual', ''),
    frame(6, '(garbage collector)', ''),
    frame(7, '(idle)', ''),
  ],
  // 2 framework, 3 verify, 2 node:crypto, 1 native, 2 GC, 5 idle (left out).
  samples: [2, 3, 4, 5, 3, 2, 6, 7, 7, 4, 3, 6, 7, 7, 7],
};

describe('bucketOf', () => {
  it('classifies frames by their path inside the repository, even one checked out under bench/', () => {
    const root = '/work/wt/bench/';
    expect(bucketOf('file:///work/wt/bench/packages/core/src/verifier.ts', 'f', root)).toBe(
      'guard: core',
    );
    expect(bucketOf('file:///work/wt/bench/packages/fastify/src/index.ts', 'f', root)).toBe(
      'guard: adapter',
    );
    expect(bucketOf('file:///work/wt/bench/node_modules/fastify/lib/route.js', 'f', root)).toBe(
      'framework',
    );
    expect(
      bucketOf('file:///work/wt/bench/node_modules/light-my-request/index.js', 'f', root),
    ).toBe('injection harness');
    expect(bucketOf('file:///work/wt/bench/bench/inject.ts', 'f', root)).toBe('injection harness');
    expect(bucketOf('node:events', 'emit', root)).toBe('node internals');
    expect(bucketOf('', '(idle)', root)).toBe('idle');
  });
});

describe('attribute', () => {
  const a = attribute(PROFILE, ROOT, 2);

  it('leaves idle samples out and counts self time by the frame that ran', () => {
    expect(a.samples).toBe(10);
    expect(a.self['guard: core']).toBeCloseTo(0.3, 10);
    expect(a.self['node internals']).toBeCloseTo(0.2, 10);
    expect(a.self.other).toBeCloseTo(0.1, 10);
    expect(a.self['garbage collector']).toBeCloseTo(0.2, 10);
  });

  it('charges node-internal and native frames to the guard frame that called them', () => {
    expect(a.owned['guard: core']).toBeCloseTo(0.6, 10);
    expect(a.owned.framework).toBeCloseTo(0.2, 10);
    expect(a.owned['node internals']).toBe(0);
    expect(a.owned.other).toBe(0);
    expect(a.topGuardFrames).toEqual([
      { frame: 'verify (packages/core/src/verifier.ts:31)', bucket: 'guard: core', share: 0.6 },
    ]);
  });

  it('gives the guard share of each time slice', () => {
    // Non-idle samples in order: 2 3 4 5 3 | 2 6 4 3 6 → guard 4/5, then 2/5.
    expect(a.guardBySlice.min).toBeCloseTo(0.4, 10);
    expect(a.guardBySlice.max).toBeCloseTo(0.8, 10);
  });
});
