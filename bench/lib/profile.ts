/**
 * Attributing the samples of a V8 CPU profile (`Profiler.stop` of node:inspector, or a
 * `.cpuprofile` file) to the guard, the framework and the rest, by each frame's script URL.
 * @module
 */
import type { Summary } from './stats.js';
import { summarize } from './stats.js';

/** The parts of a V8 `Profiler.Profile` this module reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
    readonly children?: readonly number[];
  }[];
  /** The node id of each sample, in time order. */
  readonly samples?: readonly number[];
}

/** Where a sample's time goes. */
export type Bucket =
  | 'guard: core'
  | 'guard: adapter'
  | 'framework'
  | 'injection harness'
  | 'node internals'
  | 'garbage collector'
  | 'other';

export const BUCKETS: readonly Bucket[] = [
  'guard: core',
  'guard: adapter',
  'framework',
  'injection harness',
  'node internals',
  'garbage collector',
  'other',
];

/** Buckets whose frames own the node-internal and native frames they call. */
const OWNERS: ReadonlySet<Bucket> = new Set([
  'guard: core',
  'guard: adapter',
  'framework',
  'injection harness',
]);

/** The bucket of one frame, by its script URL (and V8's names for its pseudo-frames). */
export function bucketOf(url: string, functionName: string, root = ''): Bucket | 'idle' {
  if (url === '') {
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'garbage collector';
    return 'other';
  }
  if (url.startsWith('node:')) return 'node internals';
  // Relative to the repository, so that a checkout under a folder named `bench` still works.
  const path = url.replace(/^file:\/\//, '').replace(root, '');
  if (path.startsWith('packages/core/src/')) return 'guard: core';
  if (/^packages\/(express|fastify|nestjs)\/src\//.test(path)) return 'guard: adapter';
  if (path.includes('node_modules/light-my-request/') || path.startsWith('bench/'))
    return 'injection harness';
  if (path.includes('node_modules/')) return 'framework';
  return 'other';
}

/** A frame with its share of the samples. */
export interface FrameShare {
  /** `functionName (path:line)`, the path relative to the repository. */
  readonly frame: string;
  readonly bucket: Bucket;
  /** Fraction (0..1) of the non-idle samples. */
  readonly share: number;
}

/** Shares of one profile. */
export interface Attribution {
  /** Non-idle samples. */
  readonly samples: number;
  /** Fraction of samples per bucket, counting each frame's own (self) time only. */
  readonly self: Readonly<Record<Bucket, number>>;
  /**
   * The same with node-internal and native frames (no URL) charged to the nearest calling
   * frame of the guard, the framework or the harness (e.g. `timingSafeEqual` to the guard).
   */
  readonly owned: Readonly<Record<Bucket, number>>;
  /** Guard share (core + adapter, `owned`) in each of `slices` consecutive time slices. */
  readonly guardBySlice: Summary;
  /** Guard frames by `owned` share, largest first. */
  readonly topGuardFrames: readonly FrameShare[];
}

const zero = (): Record<Bucket, number> =>
  Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Record<Bucket, number>;

/**
 * Attributes the samples of `profile`. `root` (the repository's path, ending in `/`) is stripped
 * from URLs to classify and name frames. Idle
 * samples (the event loop waiting) are left out of every share.
 */
export function attribute(profile: CpuProfile, root = '', slices = 10): Attribution {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = new Map<number, Bucket | 'idle'>();
  const owner = new Map<number, { bucket: Bucket; frameId: number }>();
  for (const n of profile.nodes)
    own.set(n.id, bucketOf(n.callFrame.url, n.callFrame.functionName, root));
  const ownerOf = (id: number): { bucket: Bucket; frameId: number } => {
    const cached = owner.get(id);
    if (cached) return cached;
    const b = own.get(id)!;
    let result = { bucket: b === 'idle' ? ('other' as Bucket) : b, frameId: id };
    if (b === 'node internals' || b === 'other') {
      const p = parent.get(id);
      if (p !== undefined) {
        const up = ownerOf(p);
        if (OWNERS.has(up.bucket)) result = up;
      }
    }
    owner.set(id, result);
    return result;
  };

  const samples = (profile.samples ?? []).filter((id) => own.get(id) !== 'idle');
  const self = zero();
  const owned = zero();
  const frames = new Map<number, number>();
  for (const id of samples) {
    self[own.get(id) as Bucket]++;
    const o = ownerOf(id);
    owned[o.bucket]++;
    if (o.bucket === 'guard: core' || o.bucket === 'guard: adapter')
      frames.set(o.frameId, (frames.get(o.frameId) ?? 0) + 1);
  }
  const total = Math.max(1, samples.length);
  for (const b of BUCKETS) {
    self[b] /= total;
    owned[b] /= total;
  }

  const perSlice: number[] = [];
  const size = Math.floor(samples.length / slices);
  for (let s = 0; s < slices && size > 0; s++) {
    let guard = 0;
    for (let i = s * size; i < (s + 1) * size; i++) {
      const b = ownerOf(samples[i]!).bucket;
      if (b === 'guard: core' || b === 'guard: adapter') guard++;
    }
    perSlice.push(guard / size);
  }

  // Frames of one function at one place (V8 keeps a node per call path) are summed.
  const byFrame = new Map<string, { bucket: Bucket; count: number }>();
  for (const [id, count] of frames) {
    const { callFrame } = byId.get(id)!;
    const path = callFrame.url.replace(/^file:\/\//, '').replace(root, '');
    const key = `${callFrame.functionName || '(anonymous)'} (${path}:${callFrame.lineNumber + 1})`;
    const entry = byFrame.get(key) ?? { bucket: own.get(id) as Bucket, count: 0 };
    entry.count += count;
    byFrame.set(key, entry);
  }
  const topGuardFrames = [...byFrame]
    .map(([frame, { bucket, count }]) => ({ frame, bucket, share: count / total }))
    .sort((a, b) => b.share - a.share);

  return {
    samples: samples.length,
    self,
    owned,
    guardBySlice: summarize(perSlice),
    topGuardFrames,
  };
}
