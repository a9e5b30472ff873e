/**
 * Hostile input: random and adversarial header sets, judged against the independent oracle.
 *
 * - `runHostileCore`: fast-check property over `verifier.verify` (headers as Node-style
 *   records, including string arrays, lone surrogates, NULs, huge values).
 * - `runHostileHttp`: hand-built HTTP/1.1 requests (raw bytes over `net`) against a real
 *   Express or Fastify example app: header injection, CTLs, latin1 and UTF-8 bytes, repeated
 *   and empty headers, huge X-Forwarded-For. Each response must be a 200/404 exactly when the
 *   oracle allows, a 403 when it denies, a 400/431 only when Node's parser may refuse the
 *   bytes, and never a 5xx or a dropped connection.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createOriginVerifier, type VerifyInput } from '@cdn-origin-guard/core';
import fc from 'fast-check';
import {
  CLOUDFRONT_ORIGIN_FACING_V4,
  CLOUDFRONT_ORIGIN_FACING_V6,
  CLOUDFRONT_VIEWER_FACING_V4,
} from '../../aws-local/fixtures.js';
import { type Framework, startApp } from '../support/apps.js';
import { nodeView, type OracleConfig, oracle, RangeSet } from '../support/oracle.js';
import { RawConnection, type RawResponse } from '../support/raw-http.js';
import {
  CF_RANGES,
  CF_RANGES_ENV,
  type HeaderList,
  newSecret,
  type RawRequest,
  serialize,
} from '../support/traffic.js';

// ---------------------------------------------------------------------------------------------
// Address text in every shape the ALB, CloudFront and attackers may write.

function v4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function v4Range(cidr: string): [number, number] {
  const [base, bits] = cidr.split('/') as [string, string];
  const n = base.split('.').reduce((a, p) => a * 256 + Number(p), 0);
  const size = 2 ** (32 - Number(bits));
  const start = n - (n % size);
  return [start, start + size - 1];
}

function v6Range(cidr: string): [bigint, bigint] {
  const [base, bits] = cidr.split('/') as [string, string];
  const [head, tail] = base.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const n = groups.reduce((a, g) => (a << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
  const host = 128n - BigInt(Number(bits));
  const start = (n >> host) << host;
  return [start, start + (1n << host) - 1n];
}

function v6Groups(n: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
}

function compress(groups: readonly string[]): string {
  // Longest run of zero groups (length >= 2) becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

const V4_RANGES = CLOUDFRONT_ORIGIN_FACING_V4.map(v4Range);
const V6_RANGES = CLOUDFRONT_ORIGIN_FACING_V6.map(v6Range);
const VIEWER_FACING = CLOUDFRONT_VIEWER_FACING_V4.map(v4Range);

/** Ways to write an IPv4 number (valid and not). */
const V4_FORMS: readonly ((x: number) => string)[] = [
  (x) => v4Text(x),
  (x) => `${v4Text(x)}:${443}`,
  (x) => `${v4Text(x)}:65535`,
  (x) => `${v4Text(x)}:65536`,
  (x) => `${v4Text(x)}:`,
  (x) => `::ffff:${v4Text(x)}`,
  (x) => `[::ffff:${v4Text(x)}]:80`,
  (x) => `::FFFF:${(x >>> 16).toString(16)}:${(x & 0xffff).toString(16)}`,
  (x) => `0:0:0:0:0:ffff:${v4Text(x)}`,
  (x) => `::${v4Text(x)}`,
  (x) => `[${v4Text(x)}]`,
  (x) => ` \t${v4Text(x)}\t `,
  (x) => v4Text(x).replace(/^(\d+)/, '0$1'),
  (x) => `${v4Text(x)}.`,
  (x) => `0x${x.toString(16)}`,
  (x) => String(x),
  (x) => `${v4Text(x)}%eth0`,
  (x) => v4Text(x).replace(/\./g, '\u3002'),
  (x) => `${v4Text(x)}\u0000`,
  (x) => `${v4Text(x)}/32`,
];

const v6Compressed = (x: bigint) => compress(v6Groups(x).map((g) => g.toString(16)));

/** Ways to write an IPv6 BigInt (valid and not). */
const V6_FORMS: readonly ((x: bigint) => string)[] = [
  (x) => v6Compressed(x),
  (x) => v6Compressed(x).toUpperCase(),
  (x) =>
    v6Groups(x)
      .map((g) => g.toString(16).padStart(4, '0'))
      .join(':'),
  (x) =>
    v6Groups(x)
      .map((g) => g.toString(16))
      .join(':'),
  (x) => `[${v6Compressed(x)}]`,
  (x) => `[${v6Compressed(x)}]:8443`,
  (x) => `[${v6Compressed(x)}]:99999`,
  (x) => `${v6Compressed(x)}:443`,
  (x) => `${v6Compressed(x)}%eth0`,
  (x) => {
    const g = v6Groups(x);
    const head = g
      .slice(0, 6)
      .map((v) => v.toString(16))
      .join(':');
    return `${head}:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  },
  (x) => `[${v6Compressed(x)}`,
  (x) => `${v6Compressed(x)}:::`,
  (x) =>
    v6Groups(x)
      .map((g) => g.toString(16).padStart(5, '0'))
      .join(':'),
];

/** `n` written canonically `plain` times in `plain + 1`, else in a random shape. */
function v4Written(n: fc.Arbitrary<number>, plain: number) {
  return fc
    .tuple(n, fc.nat(plain + V4_FORMS.length - 1))
    .map(([x, i]) => (i < plain ? v4Text(x) : V4_FORMS[i - plain]!(x)));
}
function v6Written(n: fc.Arbitrary<bigint>, plain: number) {
  return fc
    .tuple(n, fc.nat(plain + V6_FORMS.length - 1))
    .map(([x, i]) => (i < plain ? v6Compressed(x) : V6_FORMS[i - plain]!(x)));
}

/** A CloudFront origin-facing address, near or at range boundaries often, in any shape. */
const edgeV4 = fc
  .tuple(
    fc.nat(V4_RANGES.length - 1),
    fc.constantFrom('in', 'first', 'last', 'below', 'above'),
    fc.nat(),
  )
  .map(([i, where, r]) => {
    const [s, e] = V4_RANGES[i]!;
    const n =
      where === 'first'
        ? s
        : where === 'last'
          ? e
          : where === 'below'
            ? s - 1
            : where === 'above'
              ? e + 1
              : s + (r % (e - s + 1));
    return n >>> 0;
  });
const edgeV6 = fc
  .tuple(
    fc.nat(V6_RANGES.length - 1),
    fc.constantFrom('in', 'first', 'last', 'below', 'above'),
    fc.bigInt({ min: 0n, max: (1n << 72n) - 1n }),
  )
  .map(([i, where, r]) => {
    const [s, e] = V6_RANGES[i]!;
    return where === 'first'
      ? s
      : where === 'last'
        ? e
        : where === 'below'
          ? s - 1n
          : where === 'above'
            ? e + 1n
            : s + (r % (e - s + 1n));
  });

const anyV4 = fc.oneof(
  fc.nat({ max: 0xffffffff }),
  fc.nat(VIEWER_FACING.length - 1).map((i) => VIEWER_FACING[i]![0] + 7),
);

/** An address text: CloudFront edges (mostly well-formed), viewers, bots, garbage. */
const addressText = fc.oneof(
  { weight: 6, arbitrary: v4Written(edgeV4, 25) },
  { weight: 2, arbitrary: v6Written(edgeV6, 8) },
  { weight: 3, arbitrary: v4Written(anyV4, 20) },
  { weight: 1, arbitrary: fc.ipV6() },
  { weight: 1, arbitrary: fc.ipV4Extended() },
  { weight: 1, arbitrary: fc.string({ maxLength: 50 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\t',
      'unknown',
      '_hidden',
      '127.0.0.1',
      '10.0.0.1',
      '::1',
      'localhost',
    ),
  },
);

/** 1400 forged hops, and where the n-th one ends (cut, not rebuilt, for each case). */
const MANY_HOPS = Array.from(
  { length: 1400 },
  (_, i) => `198.18.${(i >> 8) & 255}.${i & 255}`,
).join(', ');
const MANY_HOPS_ENDS: number[] = [];
for (let i = 0, at = 0; i < 1400; i++) {
  at = MANY_HOPS.indexOf(',', at + 1);
  MANY_HOPS_ENDS.push(at < 0 ? MANY_HOPS.length : at);
}

/** X-Forwarded-For: viewer, edge, plus forged prefixes, separators, sizes. */
const xffValue = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(
        fc.array(addressText, { minLength: 0, maxLength: 4 }),
        addressText,
        addressText,
        fc.constantFrom(',', ', ', ' , ', ',\t', ',,'),
      )
      .map(([forged, viewer, edge, sep]) => [...forged, viewer, edge].join(sep)),
  },
  { weight: 1, arbitrary: fc.constantFrom('', ',', ', ', ' ') },
  {
    // Many entries, sometimes past the 16 KiB limit.
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 1400 }), addressText, addressText)
      .map(
        ([n, viewer, edge]) => `${MANY_HOPS.slice(0, MANY_HOPS_ENDS[n - 1])}, ${viewer}, ${edge}`,
      ),
  },
  {
    // Right at the length limit (16384) with a valid edge.
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: -3, max: 3 }), edgeV4).map(([delta, n]) => {
      const tail = `, 198.51.100.7, ${v4Text(n)}`;
      const pad = 16_384 + delta - tail.length;
      return `${'1'.repeat(Math.max(0, pad))}${tail}`;
    }),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
);

// ---------------------------------------------------------------------------------------------
// Secrets close to the real ones.

/** Near misses of a secret `s` (`at`: a position in it, `code`: the character there). */
const SECRET_VARIANTS: readonly ((s: string, at: number, code: number) => string)[] = [
  (s) => s.slice(0, -1),
  (s) => `${s}x`,
  (s) => `${s}${s}`,
  (s) => s.slice(1),
  (s) => ` ${s}`,
  (s) => `${s} `,
  (s) => `${s}\t`,
  (s) => `${s}\u0000`,
  (s) => `\u0000${s}`,
  (s, at) => `${s.slice(0, at)}\u0000${s.slice(at + 1)}`,
  (s, at, code) => `${s.slice(0, at)}${String.fromCharCode(code ^ 0x20)}${s.slice(at + 1)}`,
  (s, at, code) => `${s.slice(0, at)}${String.fromCharCode(code + 0x100)}${s.slice(at + 1)}`,
  (s, at, code) => `${s.slice(0, at)}${String.fromCharCode(code + 0xfee0)}${s.slice(at + 1)}`,
  (s, at, code) => `${s.slice(0, at)}${String.fromCharCode(code | 0x80)}${s.slice(at + 1)}`,
  (s, at) => `${s.slice(0, at)}\ud800${s.slice(at + 1)}`,
  (s) => s.replace(/./g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`),
  (s) => encodeURIComponent(`${s} `),
  (s) => Buffer.from(s).toString('base64'),
  (s) => s.toUpperCase(),
  (s) => `${s}, ${s}`,
  (s) => `${s},${s}`,
  (s) => s.padEnd(300, s),
  (s) => s.slice(0, 16),
];

function secretValue(secrets: readonly string[]) {
  const real = fc.constantFrom(...secrets);
  const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
  return fc.oneof(
    { weight: 8, arbitrary: real },
    {
      weight: 6,
      arbitrary: fc.tuple(real, fc.nat(), printable).map(([s, i, c]) => {
        const at = i % s.length;
        return s[at] === c
          ? `${s.slice(0, at)}${c === 'a' ? 'b' : 'a'}${s.slice(at + 1)}`
          : `${s.slice(0, at)}${c}${s.slice(at + 1)}`;
      }),
    },
    {
      weight: 6,
      arbitrary: fc.tuple(real, fc.nat(), fc.nat(SECRET_VARIANTS.length - 1)).map(([s, i, v]) => {
        const at = i % s.length;
        return SECRET_VARIANTS[v]!(s, at, s.charCodeAt(at));
      }),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 0, maxLength: 64 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 16, maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constant('') },
  );
}

const cfIdValue = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.string({
          unit: fc.constantFrom(
            ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/',
          ),
          minLength: 12,
          maxLength: 130,
        }),
        fc.constantFrom('', '=', '==', '==='),
      )
      .map(([s, pad]) => s + pad),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 140 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==, eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
      'a=b=cdefghijklmnopq',
      '================',
    ),
  },
);

/** A header value in the core's input: absent, a string, or an array of strings. */
function headerValue(value: fc.Arbitrary<string>) {
  return fc.oneof(
    { weight: 12, arbitrary: value },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.array(value, { minLength: 0, maxLength: 3 }) },
  );
}

const EXTRA_NAMES = [
  'x-forwarded-host',
  'x-real-ip',
  'forwarded',
  'x-amz-cf-pop',
  'via',
  'cloudfront-viewer-address',
  'X-Origin-Verify',
  'X-Forwarded-For',
  'x-origin-verify ',
  'cookie',
  'accept',
];

/** Well-formed CloudFront-side values, in every shape the ALB and CloudFront may write them. */
const VALID_V4_FORMS: readonly ((x: number) => string)[] = [
  (x) => v4Text(x),
  (x) => `${v4Text(x)}:443`,
  (x) => `::ffff:${v4Text(x)}`,
  (x) => `[::ffff:${v4Text(x)}]:80`,
  (x) => ` ${v4Text(x)}\t`,
];
const VALID_V6_FORMS: readonly ((x: bigint) => string)[] = [
  (x) => v6Compressed(x),
  (x) => v6Compressed(x).toUpperCase(),
  (x) => `[${v6Compressed(x)}]`,
  (x) => `[${v6Compressed(x)}]:8443`,
  (x) =>
    v6Groups(x)
      .map((g) => g.toString(16).padStart(4, '0'))
      .join(':'),
];
const validEdge = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(edgeV4, fc.nat(VALID_V4_FORMS.length - 1))
      .map(([n, i]) => VALID_V4_FORMS[i]!(n)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(edgeV6, fc.nat(VALID_V6_FORMS.length - 1))
      .map(([n, i]) => VALID_V6_FORMS[i]!(n)),
  },
);
const validViewer = fc.oneof(
  fc.nat({ max: 0xffffffff }).map(v4Text),
  fc.ipV6(),
  fc.nat({ max: 0xffffffff }).map((n) => `${v4Text(n)}:${n & 0xffff}`),
);
const validXff = fc
  .tuple(
    fc.array(validViewer, { maxLength: 2 }),
    validViewer,
    validEdge,
    fc.constantFrom(',', ', ', ' ,\t'),
  )
  .map(([forged, viewer, edge, sep]) => [...forged, viewer, edge].join(sep));
const validCfId = fc
  .tuple(
    fc.string({
      unit: fc.constantFrom(
        ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/',
      ),
      minLength: 16,
      maxLength: 126,
    }),
    fc.constantFrom('', '=', '=='),
  )
  .map(([s, pad]) => s + pad);

interface Parts {
  readonly remote: string | undefined;
  readonly path: string | undefined;
  readonly xff: string | readonly string[] | undefined;
  readonly cfId: string | readonly string[] | undefined;
  readonly secret: string | readonly string[] | undefined;
}

/** Inputs for `verifier.verify`: near-legitimate ones, one-field mutations, and anything. */
export function coreInputArb(secrets: readonly string[]): fc.Arbitrary<VerifyInput> {
  const hostile = {
    remote: fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom(
          '127.0.0.1',
          '::1',
          '::ffff:127.0.0.1',
          '10.0.3.7',
          '172.31.255.254',
          '192.168.0.9',
          'fd12:3456::1',
        ),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '172.32.0.1',
          '169.254.169.254',
          'fe80::1',
          '203.0.113.5',
          '3.10.17.130',
          '::ffff:3.10.17.130',
          undefined,
          '',
          'localhost',
          '127.0.0.1:8080',
          ' 127.0.0.1',
          '127.1',
        ),
      },
      { weight: 1, arbitrary: addressText },
    ),
    path: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom('/', '/whoami', '/healthz', '/healthz?probe=1', undefined),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/healthz/',
          '/HEALTHZ',
          '/%68ealthz',
          '?/healthz',
          '',
          '/healthz#x',
          '//healthz',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    ),
    xff: headerValue(xffValue),
    cfId: headerValue(cfIdValue),
    secret: headerValue(secretValue(secrets)),
  };
  const legit = {
    remote: fc.constantFrom(
      '127.0.0.1',
      '::1',
      '::ffff:127.0.0.1',
      '10.0.3.7',
      '172.31.255.254',
      '192.168.0.9',
      'fd12:3456::1',
    ),
    path: fc.constantFrom('/', '/whoami', '/whoami?x=1', undefined),
    xff: fc.oneof(
      { weight: 5, arbitrary: validXff },
      { weight: 1, arbitrary: validXff.map((x) => [x]) },
    ),
    cfId: fc.oneof(
      { weight: 5, arbitrary: validCfId },
      { weight: 1, arbitrary: validCfId.map((x) => [x]) },
    ),
    secret: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...secrets) },
      { weight: 1, arbitrary: fc.constantFrom(...secrets).map((x) => [x]) },
    ),
  };
  const fields = Object.keys(legit) as (keyof Parts)[];
  // One field hostile, the others well-formed.
  const mutated = fc.oneof(
    ...fields.map((field) =>
      fc.record({ ...legit, [field]: hostile[field] } as {
        [K in keyof Parts]: fc.Arbitrary<Parts[K]>;
      }),
    ),
  );
  const parts: fc.Arbitrary<Parts> = fc.oneof(
    { weight: 2, arbitrary: fc.record(legit) },
    { weight: 3, arbitrary: mutated },
    { weight: 3, arbitrary: fc.record(hostile) },
  );
  const extra = fc.dictionary(
    fc.oneof(fc.constantFrom(...EXTRA_NAMES), fc.string({ minLength: 1, maxLength: 12 })),
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
    ),
    { maxKeys: 3 },
  );
  return fc.tuple(parts, extra).map(([p, extra]) => {
    const headers: Record<string, string | readonly string[] | undefined> = { ...extra };
    // Keys present with `undefined` occur in real code as well as absent keys.
    headers['x-forwarded-for'] = p.xff;
    headers['x-amz-cf-id'] = p.cfId;
    headers['x-origin-verify'] = p.secret;
    return { headers, remoteAddress: p.remote, method: 'GET', path: p.path };
  });
}

export interface HostileCoreResult {
  readonly runs: number;
  readonly allowed: number;
  readonly denied: number;
  readonly mismatches: number;
  readonly throws: number;
  readonly seed: number;
  readonly ms: number;
  /** The first counterexample (shrunk), described without the secrets. */
  readonly counterexample: string | undefined;
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  secrets.forEach((s, i) => {
    out = out.split(s).join(`<SECRET${i}>`);
  });
  return out;
}

/** The fast-check property over `verifier.verify`. */
export function runHostileCore(options: { runs: number; seed: number }): HostileCoreResult {
  const secrets = [newSecret('cur', 40), newSecret('prev', 40)];
  const verifier = createOriginVerifier({
    secret: [
      { value: secrets[0]!, stage: 'AWSCURRENT' },
      { value: secrets[1]!, stage: 'AWSPREVIOUS' },
    ],
    ranges: CF_RANGES,
    healthCheckPaths: ['/healthz'],
  });
  const cfg: OracleConfig = {
    secrets,
    cloudFront: new RangeSet(CF_RANGES),
    healthCheckPaths: ['/healthz'],
  };
  let allowed = 0;
  let denied = 0;
  let mismatches = 0;
  let throws = 0;
  let runs = 0;
  const started = performance.now();
  const details = fc.check(
    fc.property(coreInputArb(secrets), (input) => {
      runs++;
      let decision: ReturnType<typeof verifier.verify>;
      try {
        decision = verifier.verify(input);
      } catch (error) {
        throws++;
        throw error;
      }
      const expected = oracle(cfg, input);
      if (decision.allowed) allowed++;
      else denied++;
      if (decision.allowed !== expected.allow) {
        mismatches++;
        throw new Error(
          `guard ${decision.allowed ? 'allowed' : 'denied'} (${decision.reason}); oracle ${expected.allow ? 'allows' : 'denies'} (${expected.why})`,
        );
      }
    }),
    { numRuns: options.runs, seed: options.seed },
  );
  void verifier.close();
  return {
    runs: details.failed ? runs : details.numRuns,
    allowed,
    denied,
    mismatches,
    throws,
    seed: options.seed,
    ms: performance.now() - started,
    counterexample: details.failed
      ? redact(
          `${JSON.stringify(details.counterexample)} -> ${String((details.errorInstance as Error | undefined)?.message)}`,
          secrets,
        )
      : undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP.

/** A header value as latin1 bytes: plain, UTF-8 encoded, or with hostile bytes mixed in. */
function rawValue(value: fc.Arbitrary<string>) {
  return fc
    .tuple(
      value,
      fc.oneof(
        { weight: 24, arbitrary: fc.constant('plain') },
        { weight: 3, arbitrary: fc.constant('utf8') },
        { weight: 2, arbitrary: fc.constant('injection') },
        { weight: 1, arbitrary: fc.constantFrom('ctl', 'obs-fold', 'lone-lf') },
      ),
      fc.nat(),
    )
    .map(([v, how, r]) => {
      // Characters above U+00FF cannot be one byte: send their UTF-8 bytes (as Node reads them: latin1).
      const bytes =
        /[^\u0000-\u00ff]/.test(v) || how === 'utf8'
          ? Buffer.from(v, 'utf8').toString('latin1')
          : v;
      const at = bytes.length === 0 ? 0 : r % bytes.length;
      switch (how) {
        case 'ctl':
          return `${bytes.slice(0, at)}${String.fromCharCode(r % 32 === 9 ? 0 : r % 32)}${bytes.slice(at)}`;
        case 'injection':
          return `${bytes}\r\nx-origin-verify: injected-${r}\r\nx-forwarded-for: 3.10.17.130`;
        case 'obs-fold':
          return `${bytes}\r\n ${bytes}`;
        case 'lone-lf':
          return `${bytes.slice(0, at)}\n${bytes.slice(at)}`;
        default:
          return bytes;
      }
    })
    .map((v) => v.replace(/\r\n\r\n/g, '\r\n'));
}

export function rawRequestArb(secrets: readonly string[]): fc.Arbitrary<RawRequest> {
  const name = (canonical: string) =>
    fc.constantFrom(
      canonical,
      canonical,
      canonical,
      canonical.toUpperCase(),
      canonical.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase()),
    );
  const header = (canonical: string, value: fc.Arbitrary<string>) =>
    fc.tuple(name(canonical), rawValue(value));
  // Each of the three headers the guard reads: one well-formed value (3 times in 4), or
  // anything (absent, repeated, hostile bytes).
  const key = (canonical: string, valid: fc.Arbitrary<string>, value: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(name(canonical), valid).map((h) => [h]) },
      { weight: 1, arbitrary: fc.array(header(canonical, value), { minLength: 0, maxLength: 2 }) },
    );
  const keyHeaders = fc.tuple(
    key('x-forwarded-for', validXff, xffValue),
    key('x-amz-cf-id', validCfId, cfIdValue),
    key('x-origin-verify', fc.constantFrom(...secrets), secretValue(secrets)),
  );
  const weights = (n: number) => fc.array(fc.nat(), { minLength: n, maxLength: n });
  const extra = fc.array(
    fc.tuple(
      fc.oneof(
        {
          weight: 8,
          arbitrary: fc.constantFrom(
            'x-forwarded-host',
            'forwarded',
            'x-real-ip',
            'via',
            'x-amz-cf-pop',
            'accept',
            'x-origin-verify-2',
            'x-forwarded-for-original',
          ),
        },
        {
          weight: 2,
          arbitrary: fc.string({
            unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&*+^`|~'),
            minLength: 1,
            maxLength: 12,
          }),
        },
        { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 10 }) },
      ),
      rawValue(fc.string({ unit: 'binary', maxLength: 30 })),
    ),
    { maxLength: 3 },
  );
  const avoid =
    /^(host|content-length|transfer-encoding|connection|expect|upgrade|te|trailer|keep-alive|proxy-connection)$/i;
  return fc
    .record({
      method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'OPTIONS'),
      path: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom('/', '/whoami', '/healthz', '/healthz?probe=1') },
        {
          weight: 3,
          arbitrary: fc.constantFrom('/healthz/', '/%68ealthz', '/whoami?x=%00', '/HEALTHZ'),
        },
        { weight: 1, arbitrary: fc.constant('/whoami?\u0000') },
      ),
      keyHeaders,
      extra,
      order: weights(8),
      // Whether to send `connection: close` (forces a fresh connection next time).
      close: fc.boolean(),
    })
    .map(({ method, path, keyHeaders: [x, c, s], extra, order, close }) => {
      const list: (readonly [string, string])[] = [
        ...x,
        ...c,
        ...s,
        ...extra.filter(([n]) => !avoid.test(n.trim())),
      ];
      // Shuffle deterministically with the drawn weights.
      const keyed = list.map((h, i) => ({ h, k: order[i % order.length]! + i / 1000 }));
      keyed.sort((a, b) => a.k - b.k);
      const headers: HeaderList = [
        ...keyed.map(({ h }) => h),
        ...(close ? [['connection', 'close'] as const] : []),
      ];
      return { method, path, headers };
    });
}

/** Re-parse the serialised head the way a strict HTTP/1.1 parser splits it into header lines. */
function headerLines(bytes: Buffer): {
  list: [string, string][];
  malformed: boolean;
  split: boolean;
} {
  const text = bytes.toString('latin1');
  let lines = text.slice(0, -4).split('\r\n').slice(1);
  // An injected blank line ends the head early: the server answers the request made of the
  // lines before it, then reads the rest as a second (usually malformed) request on the same
  // connection. Judge the first answer on those lines; the caller drops the connection.
  const blank = lines.indexOf('');
  const split = blank >= 0;
  if (split) lines = lines.slice(0, blank);
  const head = split ? `${text.slice(0, text.indexOf('\r\n\r\n'))}` : text.slice(0, -4);
  // A CR or LF that is not part of a CRLF pair.
  let malformed = /[\r\n]/.test(head.replace(/\r\n/g, '  '));
  const list: [string, string][] = [];
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      malformed = true;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      malformed = true;
      continue;
    }
    list.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return { list, malformed, split };
}

export interface HostileHttpResult {
  readonly framework: Framework;
  readonly requests: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly allowed: number;
  readonly denied: number;
  readonly parserRejected: number;
  readonly serverErrors: number;
  /** Connections dropped on a request with clean bytes: a violation. */
  readonly dropped: number;
  /** Connections dropped by the HTTP parser on unparseable or oversized bytes (no app involved). */
  readonly parserDropped: number;
  readonly mismatches: number;
  readonly examples: readonly string[];
  readonly seed: number;
  readonly ms: number;
}

/** Send `count` hostile requests to a real example app and judge every response. */
export async function runHostileHttp(options: {
  framework: Framework;
  count: number;
  seed: number;
  concurrency?: number;
}): Promise<HostileHttpResult> {
  const secrets = [newSecret('cur', 40), newSecret('prev', 40)];
  const maxHeaderSize = options.framework === 'express' ? 64 * 1024 : 16 * 1024;
  // Repeated X-Forwarded-For lines are denied by the core when the adapter hands it
  // `req.rawHeaders` (issue 9); the oracle applies that rule to adapters that do.
  const countsLines = adapterPassesRawHeaders(options.framework);
  const app = await startApp(options.framework, {
    env: {
      CDN_ORIGIN_GUARD_SECRET: secrets[0],
      CDN_ORIGIN_GUARD_SECRET_PREVIOUS: secrets[1],
      CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
    },
    maxHeaderSize: options.framework === 'express' ? maxHeaderSize : undefined,
  });
  const cfg: OracleConfig = {
    secrets,
    cloudFront: new RangeSet(CF_RANGES),
    healthCheckPaths: ['/healthz'],
  };
  const byStatus: Record<string, number> = {};
  let allowed = 0;
  let denied = 0;
  let parserRejected = 0;
  let serverErrors = 0;
  let dropped = 0;
  let parserDropped = 0;
  let mismatches = 0;
  const examples: string[] = [];
  const note = (s: string) => {
    if (examples.length < 5) examples.push(redact(s, secrets));
  };
  const arb = rawRequestArb(secrets);
  const concurrency = options.concurrency ?? 8;
  const chunk = 500;
  const started = performance.now();
  let sent = 0;
  try {
    for (let base = 0; base < options.count; base += chunk) {
      const n = Math.min(chunk, options.count - base);
      const batch = fc.sample(arb, { numRuns: n, seed: options.seed + base });
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          const connection = new RawConnection(app.port);
          try {
            while (next < batch.length) {
              const req = batch[next++]!;
              const bytes = serialize(req);
              const { list, malformed, split } = headerLines(bytes);
              const view = nodeView({ ...req, headers: list }, bytes.length);
              const rejectable =
                malformed || view.rejectable || /[\u0000-\u001f\u007f]/.test(req.path);
              const oversize = bytes.length > maxHeaderSize - 1024;
              sent++;
              let res: RawResponse;
              try {
                res = await connection.request(bytes, req.method === 'HEAD');
                // The rest of a split request is still on the wire: never reuse the stream.
                if (split) connection.reset();
              } catch (error) {
                if (split) connection.reset();
                // Node (or Fastify's clientError handler) may answer a request it cannot parse
                // and reset the connection at once, losing the answer: fine for those bytes only.
                if (rejectable || oversize) {
                  parserDropped++;
                  continue;
                }
                dropped++;
                note(
                  `no response: ${(error as Error).message} for ${bytes.toString('latin1').slice(0, 300)}`,
                );
                continue;
              }
              byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
              if (res.status >= 500) {
                serverErrors++;
                note(`${res.status} for ${bytes.toString('latin1').slice(0, 300)}`);
                continue;
              }
              if (res.status === 400 || res.status === 431) {
                parserRejected++;
                // After a split request the parser's 400 for the rest may overtake the first
                // answer (Fastify's clientError handler writes it at once and closes).
                if (!(rejectable || split || (oversize && res.status === 431))) {
                  mismatches++;
                  note(
                    `unexpected ${res.status} for a clean request: ${bytes.toString('latin1').slice(0, 300)}`,
                  );
                }
                continue;
              }
              const expected = oracle(cfg, {
                headers: view.headers,
                remoteAddress: '127.0.0.1',
                path: view.path,
                forwardedForLines: countsLines ? view.forwardedForLines : undefined,
              });
              const wasAllowed = res.status !== 403;
              if (wasAllowed) allowed++;
              else denied++;
              if (
                res.status === 403 &&
                res.body.length > 0 &&
                res.body.toString() !== 'Forbidden'
              ) {
                mismatches++;
                note(`deny body differs: ${res.body.toString().slice(0, 100)}`);
              }
              if (wasAllowed !== expected.allow) {
                mismatches++;
                note(
                  `status ${res.status}, oracle ${expected.allow ? 'allows' : 'denies'} (${expected.why}): ${bytes.toString('latin1').slice(0, 400)}`,
                );
              }
            }
          } finally {
            connection.close();
          }
        }),
      );
    }
  } finally {
    await app.close();
  }
  return {
    framework: options.framework,
    requests: sent,
    byStatus,
    allowed,
    denied,
    parserRejected,
    serverErrors,
    dropped,
    parserDropped,
    mismatches,
    examples,
    seed: options.seed,
    ms: performance.now() - started,
  };
}

/** Whether the adapter's source hands `rawHeaders` to the core (then repeated lines deny). */
function adapterPassesRawHeaders(framework: Framework): boolean {
  const source = new URL(`../../../packages/${framework}/src/index.ts`, import.meta.url);
  return readFileSync(source, 'utf8').includes('rawHeaders');
}
