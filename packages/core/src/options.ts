/**
 * Public options, and their one-time resolution into an internal, validated config.
 * @module
 */
import type { CheckName, Decision, SecretStage } from './decision.js';
import { InvalidOptionError } from './errors.js';
import { secretValueProblem } from './secret/compare.js';
import { requirePeer } from './sources/peer.js';
import { type StaticSecret, staticSecretSnapshot } from './sources/static.js';
import type { AwsSdkClient, RangeSource, SecretSnapshot, SecretSource } from './sources/types.js';

/** Enforce a check (deny on failure) or only report it (allow, and say what would be denied). */
export type Mode = 'enforce' | 'report';

/** A named group of trusted proxy ranges. */
export type TrustedProxyName = 'loopback' | 'linklocal' | 'uniquelocal';

/** Where CloudFront's origin-facing ranges come from. */
export type RangesOption = 'prefix-list' | 'ip-ranges' | readonly string[] | RangeSource;

/** What the verifier is given for one request. Framework-free. */
export interface VerifyInput {
  /** Node-style lower-case headers (`req.headers`). */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The socket's peer address (`req.socket.remoteAddress`), never a proxy-derived one. */
  readonly remoteAddress: string | undefined;
  /** The HTTP method, for logs and hooks. */
  readonly method?: string | undefined;
  /**
   * The path the framework routes on (its parsed pathname), else the raw request target. The
   * guard cuts it at the first `?` or `#` and turns an absolute-form target
   * (`http://host/p`) into its path; health-check paths and exclusions only ever match a path
   * that starts with `/` and has no `.`/`..` segment, `;`, `\` or encoded `.`, `/`, `\`.
   */
  readonly path?: string | undefined;
  /**
   * Node's `req.rawHeaders` (name, value, name, value, ...). When given, a request with more
   * than one `X-Forwarded-For` line is denied with `malformed-forwarded-for`. Adapters pass it.
   */
  readonly rawHeaders?: readonly string[] | undefined;
}

/**
 * Options shared by both ways of giving the secret: everything but `secret`, `secretId`,
 * `jsonKey`, `secretStages` and `secretsManagerClient`. Type your overrides with it to spread
 * them over `optionsFromEnv()`'s result.
 * @example
 * ```ts
 * import { type BaseGuardOptions, createOriginVerifier, optionsFromEnv } from '@cdn-origin-guard/core';
 * const overrides: BaseGuardOptions = { proxyHops: 2 };
 * createOriginVerifier({ ...optionsFromEnv(), ...overrides });
 * ```
 */
export interface BaseGuardOptions {
  /**
   * Header that carries the secret, as CloudFront's custom origin header is named.
   * Defaults to `x-origin-verify`.
   * @example
   * ```ts
   * import { createOriginVerifier } from '@cdn-origin-guard/core';
   * createOriginVerifier({ secret: process.env.ORIGIN_SECRET!, headerName: 'x-edge-secret', ranges: 'ip-ranges' });
   * ```
   */
  readonly headerName?: string;
  /**
   * CloudFront origin-facing ranges: `'prefix-list'` (EC2 managed prefix list, needs
   * `ec2:DescribeManagedPrefixLists` and `ec2:GetManagedPrefixListEntries`), `'ip-ranges'`
   * (AWS's public ip-ranges.json, no credentials needed), a static CIDR list, or your own
   * `RangeSource`. Defaults to `'ip-ranges'`.
   */
  readonly ranges?: RangesOption;
  /**
   * Managed prefix-list names for `ranges: 'prefix-list'`.
   * Defaults to `['com.amazonaws.global.cloudfront.origin-facing']`, plus the IPv6 list when
   * `ipv6` is true.
   */
  readonly prefixListNames?: readonly string[];
  /** Also load CloudFront's IPv6 origin-facing prefix list (`prefix-list` only). Defaults to `false`. */
  readonly ipv6?: boolean;
  /**
   * URL of the ip-ranges document for `ranges: 'ip-ranges'`; must be `https:` unless
   * `allowInsecureIpRangesUrl` is true. Defaults to AWS's public URL.
   */
  readonly ipRangesUrl?: string;
  /**
   * Accept an `http:` `ipRangesUrl` (local tests, a mirror on a trusted network). Anyone on the
   * path of a plain-HTTP fetch can widen the edge check. Defaults to `false`.
   */
  readonly allowInsecureIpRangesUrl?: boolean;
  /**
   * An EC2 client (`EC2Client` from `@aws-sdk/client-ec2`) to use for `prefix-list`; yours is
   * never closed by the guard. Defaults to one created with `region` (then
   * `@aws-sdk/client-ec2` must be installed).
   */
  readonly ec2Client?: AwsSdkClient;
  /** AWS region for the clients the guard creates. Defaults to the SDK's default chain (`AWS_REGION`). */
  readonly region?: string;
  /**
   * How many proxies sit between CloudFront and the app (the ALB is one). The edge address is
   * the `X-Forwarded-For` entry the outermost of them appended. Defaults to `1`.
   */
  readonly proxyHops?: number;
  /**
   * Ranges the socket peer, and every hop right of the edge entry, must be in: CIDRs and the
   * names `loopback`, `linklocal`, `uniquelocal` (10/8, 172.16/12, 192.168/16, fc00::/7).
   * Defaults to `['loopback', 'uniquelocal']`.
   */
  readonly trustedProxies?: readonly (TrustedProxyName | (string & {}))[];
  /** Require a well-formed `X-Amz-Cf-Id`. Defaults to `true`. */
  readonly requireCfId?: boolean;
  /**
   * Paths (exact, without query string) where an ALB health check passes: only when the peer
   * is a trusted proxy and there is no `X-Forwarded-For`. Defaults to `[]`.
   */
  readonly healthCheckPaths?: readonly string[];
  /** Paths let through without any check (exact strings or RegExps on the path). Defaults to `[]`. */
  readonly excludePaths?: readonly (string | RegExp)[];
  /**
   * `'enforce'` denies failed checks; `'report'` allows and reports them. Either for the whole
   * guard or per check (`{ secret: 'enforce', edge: 'report' }`, unspecified checks enforce).
   * Defaults to `'enforce'`.
   */
  readonly mode?: Mode | Readonly<Partial<Record<CheckName, Mode>>>;
  /**
   * Called with every decision (logging, metrics). `input` is a copy whose `headers` and
   * `rawHeaders` hold no secret header. Errors it throws are swallowed. Defaults to none.
   */
  readonly onDecision?: (decision: Decision, input: VerifyInput) => void;
  /** Called when a source fails to load (the last-known-good value stays in use). Defaults to none. */
  readonly onSourceError?: (error: Error) => void;
  /** Secret refresh interval in ms. Defaults to `300000` (5 minutes). */
  readonly secretRefreshMs?: number;
  /**
   * Longest time, in ms, the guard keeps trusting secret values it could not re-read: when no
   * secret load has succeeded for this long (Secrets Manager keeps failing), requests are denied
   * with `secret-unavailable` until a load succeeds, so a revoked value is not accepted forever.
   * At least `secretRefreshMs`; ignored for a static `secret`. Defaults to off (`undefined`:
   * the last-known-good values stay in use for as long as the outage lasts).
   */
  readonly maxStaleMs?: number;
  /** Ranges refresh interval in ms. Defaults to `3600000` (1 hour). */
  readonly rangesRefreshMs?: number;
  /** Jitter on refresh timers, as a fraction of the interval (0 to 0.5). Defaults to `0.1`. */
  readonly refreshJitter?: number;
  /**
   * Minimum time between two refreshes forced by an unknown secret value, in ms. Bounds the
   * AWS calls a flood of bad values can cause. Defaults to `30000`.
   */
  readonly mismatchRefreshMs?: number;
  /** Timeout of one source load (each AWS or HTTP call is bounded by it), in ms. Defaults to `3000`. */
  readonly timeoutMs?: number;
  /** Longest `X-Forwarded-For` accepted, in characters; longer is `malformed-forwarded-for`. Defaults to `16384`. */
  readonly maxForwardedForLength?: number;
  /**
   * The one response adapters send for every deny, whatever the reason (the reason is never
   * sent to the client). Defaults to `{ status: 403, body: 'Forbidden' }` as `text/plain`.
   * An object body is sent as JSON.
   * @example
   * ```ts
   * import { cdnOriginGuard } from '@cdn-origin-guard/express';
   * app.use(cdnOriginGuard({ secretId: 'prod/origin-verify', denyResponse: { status: 404, body: { error: 'not found' } } }));
   * ```
   */
  readonly denyResponse?: DenyResponseOptions;
  /** Log level adapters with a logger (Fastify, Nest) use for denies. Defaults to `'info'`. */
  readonly logLevel?: LogLevel;
  /**
   * Whether adapter startup (`app.ready()`, Nest bootstrap) fails when a source cannot be
   * loaded. When `false`, the app starts and denies with `secret-unavailable` /
   * `ranges-unavailable` until the sources load. Defaults to `true`.
   */
  readonly failOnStartupError?: boolean;
}

/** Log levels adapters may use for deny lines. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The uniform deny response. */
export interface DenyResponseOptions {
  /** HTTP status, 400 to 599. Defaults to `403`. */
  readonly status?: number;
  /** Body: a string (sent as text/plain) or an object (sent as JSON). Defaults to `'Forbidden'`. */
  readonly body?: string | Readonly<Record<string, unknown>>;
}

/** The resolved deny response: exactly what adapters write. */
export interface DenyResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Secret given as static values (development, tests) or your own source. */
export interface StaticSecretOptions extends BaseGuardOptions {
  /**
   * Accepted secret values (printable ASCII, 16 to 128 characters), or your own `SecretSource`.
   * Exclusive with `secretId`.
   * @example
   * ```ts
   * import { createOriginVerifier } from '@cdn-origin-guard/core';
   * createOriginVerifier({ secret: ['current-value-0123456789abcdef'], ranges: ['130.176.0.0/18'] });
   * ```
   */
  readonly secret: string | readonly StaticSecret[] | SecretSource;
  readonly secretId?: never;
  readonly jsonKey?: never;
  readonly secretStages?: never;
  readonly secretsManagerClient?: never;
}

/** Secret loaded from AWS Secrets Manager. */
export interface SecretsManagerOptions extends BaseGuardOptions {
  readonly secret?: never;
  /**
   * Secrets Manager secret name or ARN holding the header value. Exclusive with `secret`.
   * @example
   * ```ts
   * import { createOriginVerifier } from '@cdn-origin-guard/core';
   * createOriginVerifier({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
   * ```
   */
  readonly secretId: string;
  /** Key to read when the secret is a JSON object. Defaults to none (the whole string). */
  readonly jsonKey?: string;
  /**
   * Staging labels accepted. Narrow it (e.g. `['AWSCURRENT']`) to revoke the previous value at
   * once after a leak. Defaults to `['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']` (missing
   * optional stages are fine).
   */
  readonly secretStages?: readonly SecretStage[];
  /**
   * A Secrets Manager client (`SecretsManagerClient` from `@aws-sdk/client-secrets-manager`) to
   * use; yours is never closed by the guard. Defaults to one created with `region` (then
   * `@aws-sdk/client-secrets-manager` must be installed).
   */
  readonly secretsManagerClient?: AwsSdkClient;
}

/** Options of `createOriginVerifier` and of every adapter. */
export type OriginGuardOptions = StaticSecretOptions | SecretsManagerOptions;

/** Internal, validated and precomputed configuration. */
export interface ResolvedOptions {
  readonly headerName: string;
  readonly secret:
    | { readonly kind: 'static'; readonly snapshot: SecretSnapshot }
    | { readonly kind: 'source'; readonly source: SecretSource }
    | {
        readonly kind: 'secrets-manager';
        readonly secretId: string;
        readonly jsonKey: string | undefined;
        readonly stages: readonly SecretStage[];
        readonly client: unknown;
      };
  readonly ranges:
    | { readonly kind: 'source'; readonly source: RangeSource }
    | { readonly kind: 'static'; readonly cidrs: readonly string[] }
    | {
        readonly kind: 'prefix-list';
        readonly names: readonly string[];
        readonly client: unknown;
      }
    | { readonly kind: 'ip-ranges'; readonly url: string; readonly allowInsecure: boolean };
  readonly region: string | undefined;
  readonly proxyHops: number;
  readonly trustedProxies: readonly string[];
  readonly requireCfId: boolean;
  readonly healthCheckPaths: ReadonlySet<string>;
  readonly excludeExact: ReadonlySet<string>;
  readonly excludePatterns: readonly RegExp[];
  readonly modes: Readonly<Record<CheckName, Mode>>;
  readonly onDecision: ((decision: Decision, input: VerifyInput) => void) | undefined;
  readonly onSourceError: ((error: Error) => void) | undefined;
  readonly secretRefreshMs: number;
  readonly maxStaleMs: number | undefined;
  readonly rangesRefreshMs: number;
  readonly refreshJitter: number;
  readonly mismatchRefreshMs: number;
  readonly timeoutMs: number;
  readonly maxForwardedForLength: number;
  readonly denyResponse: DenyResponse;
  readonly logLevel: LogLevel;
  readonly failOnStartupError: boolean;
}

/** AWS's public ip-ranges document. */
export const DEFAULT_IP_RANGES_URL = 'https://ip-ranges.amazonaws.com/ip-ranges.json';
/** CloudFront's IPv4 origin-facing managed prefix list. */
export const CLOUDFRONT_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';
/** CloudFront's IPv6 origin-facing managed prefix list. */
export const CLOUDFRONT_PREFIX_LIST_IPV6 = 'com.amazonaws.global.ipv6.cloudfront.origin-facing';
/** Staging labels accepted by default. */
export const DEFAULT_SECRET_STAGES: readonly SecretStage[] = Object.freeze([
  'AWSCURRENT',
  'AWSPREVIOUS',
  'AWSPENDING',
]);

const KNOWN_OPTIONS = [
  'headerName',
  'secret',
  'secretId',
  'jsonKey',
  'secretStages',
  'secretsManagerClient',
  'ranges',
  'prefixListNames',
  'ipv6',
  'ipRangesUrl',
  'allowInsecureIpRangesUrl',
  'ec2Client',
  'region',
  'proxyHops',
  'trustedProxies',
  'requireCfId',
  'healthCheckPaths',
  'excludePaths',
  'mode',
  'onDecision',
  'onSourceError',
  'secretRefreshMs',
  'maxStaleMs',
  'rangesRefreshMs',
  'refreshJitter',
  'mismatchRefreshMs',
  'timeoutMs',
  'maxForwardedForLength',
  'denyResponse',
  'logLevel',
  'failOnStartupError',
] as const;

/**
 * Defaults and bounds of the interval options, in ms: one table read by the resolution and by
 * `optionsFromEnv` (which shows them in seconds).
 */
export const INTERVALS = {
  secretRefreshMs: { default: 300_000, min: 1_000, max: 86_400_000 },
  rangesRefreshMs: { default: 3_600_000, min: 1_000, max: 604_800_000 },
  // setTimeout holds at most 2^31-1 ms (~24.8 days).
  maxStaleMs: { default: undefined, min: 1_000, max: 1_728_000_000 },
} as const satisfies Record<string, { default: number | undefined; min: number; max: number }>;

/** An interval option, in ms, within its {@link INTERVALS} bounds. */
function msOption(name: keyof typeof INTERVALS, value: unknown): number {
  const { min, max } = INTERVALS[name];
  return integer(name, value, INTERVALS[name].default ?? min, min, max, ' (ms)');
}

/** The log levels, in order. */
export const LOG_LEVELS: readonly LogLevel[] = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'silent',
];

function resolveDenyResponse(value: unknown): DenyResponse {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw new InvalidOptionError(
      'denyResponse',
      `is ${describe(value)}; expected { status?, body? }.`,
    );
  const v = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(v))
    if (key !== 'status' && key !== 'body')
      throw new InvalidOptionError(`denyResponse.${key}`, 'is not known; use `status` and `body`.');
  const status = integer('denyResponse.status', v.status, 403, 400, 599);
  const body = v.body ?? 'Forbidden';
  if (typeof body === 'string')
    return Object.freeze({
      status,
      body,
      headers: Object.freeze({
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
      }),
    });
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    let json: string;
    try {
      json = JSON.stringify(body);
    } catch (error) {
      throw new InvalidOptionError('denyResponse.body', 'cannot be serialised to JSON.', {
        cause: error,
      });
    }
    return Object.freeze({
      status,
      body: json,
      headers: Object.freeze({
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(json)),
        'cache-control': 'no-store',
      }),
    });
  }
  throw new InvalidOptionError(
    'denyResponse.body',
    `is ${describe(body)}; expected a string or a plain object.`,
  );
}

const CHECKS: readonly CheckName[] = ['secret', 'edge', 'cfId'];
const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The known option closest to `name`, for "Did you mean" hints. */
export function suggestOption(
  name: string,
  known: readonly string[] = KNOWN_OPTIONS,
): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}

/** Read a numeric option, accepting numeric strings (from the environment). */
function integer(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  unit = '',
): number {
  if (value === undefined) return fallback;
  let n = value;
  if (typeof n === 'string' && /^\s*\d+\s*$/.test(n)) n = Number(n);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw new InvalidOptionError(
      name,
      `is ${describe(value)}; expected a whole number from ${min} to ${max}${unit}.`,
    );
  return n;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(name, `is ${describe(value)}; expected true or false.`);
  return value;
}

function stringList(name: string, value: unknown, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value))
    throw new InvalidOptionError(name, `is ${describe(value)}; expected an array of strings.`);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || item.trim() === '')
      throw new InvalidOptionError(
        `${name}[${i}]`,
        `is ${describe(item)}; expected a non-empty string.`,
      );
  });
  return Object.freeze(value.map((s: string) => s.trim()));
}

function isSource(value: unknown): value is SecretSource & RangeSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { load?: unknown }).load === 'function'
  );
}

function resolveSecret(o: Record<string, unknown>): ResolvedOptions['secret'] {
  const hasSecret = o.secret !== undefined;
  const hasId = o.secretId !== undefined;
  if (hasSecret && hasId)
    throw new InvalidOptionError(
      'secret',
      'and `secretId` are both set; give static values in `secret` or a Secrets Manager secret in `secretId`, not both.',
    );
  if (!hasSecret && !hasId)
    throw new InvalidOptionError(
      'secretId',
      'is missing; set `secretId` to the Secrets Manager secret that CloudFront’s X-Origin-Verify value comes from, or `secret` to static values for development.',
    );
  if (hasSecret) {
    for (const key of ['jsonKey', 'secretStages', 'secretsManagerClient'] as const)
      if (o[key] !== undefined)
        throw new InvalidOptionError(
          key,
          'only applies with `secretId`; remove it or use `secretId`.',
        );
    const secret = o.secret;
    if (isSource(secret)) {
      if (typeof secret.name !== 'string')
        throw new InvalidOptionError(
          'secret.name',
          'must be a string naming the custom secret source.',
        );
      return { kind: 'source', source: secret };
    }
    const list = typeof secret === 'string' ? [secret] : secret;
    if (!Array.isArray(list) || list.length === 0)
      throw new InvalidOptionError(
        'secret',
        `is ${describe(secret)}; expected a string, a non-empty array of strings, or a SecretSource.`,
      );
    const values = list.map((item: unknown, i: number) => {
      const path = typeof secret === 'string' ? 'secret' : `secret[${i}]`;
      const value =
        typeof item === 'object' && item !== null ? (item as { value?: unknown }).value : item;
      const problem = secretValueProblem(value);
      if (problem) throw new InvalidOptionError(path, `${problem}.`);
      const stage =
        typeof item === 'object' && item !== null ? (item as { stage?: unknown }).stage : undefined;
      if (stage !== undefined && (typeof stage !== 'string' || stage === ''))
        throw new InvalidOptionError(`${path}.stage`, 'must be a non-empty string.');
      return item as StaticSecret;
    });
    return { kind: 'static', snapshot: staticSecretSnapshot(values) };
  }
  const secretId = o.secretId;
  if (typeof secretId !== 'string' || secretId.trim() === '' || secretId.length > 2048)
    throw new InvalidOptionError(
      'secretId',
      `is ${describe(secretId)}; expected a secret name or ARN.`,
    );
  const jsonKey = o.jsonKey;
  if (jsonKey !== undefined && (typeof jsonKey !== 'string' || jsonKey === ''))
    throw new InvalidOptionError(
      'jsonKey',
      `is ${describe(jsonKey)}; expected the JSON key holding the value.`,
    );
  const stages = stringList('secretStages', o.secretStages, DEFAULT_SECRET_STAGES);
  if (stages.length === 0)
    throw new InvalidOptionError('secretStages', 'is empty; list at least `AWSCURRENT`.');
  const client = awsClient(
    'secretsManagerClient',
    o.secretsManagerClient,
    'a SecretsManagerClient from @aws-sdk/client-secrets-manager',
  );
  if (client === undefined)
    requirePeer('secretId', '@aws-sdk/client-secrets-manager', 'secretsManagerClient');
  return { kind: 'secrets-manager', secretId: secretId.trim(), jsonKey, stages, client };
}

/** An AWS SDK v3 client the user brings (anything with `send`), or undefined. */
function awsClient(name: string, value: unknown, expected: string): unknown {
  if (
    value !== undefined &&
    (typeof value !== 'object' ||
      value === null ||
      typeof (value as { send?: unknown }).send !== 'function')
  )
    throw new InvalidOptionError(name, `is ${describe(value)}; expected ${expected}.`);
  return value;
}

function resolveRanges(o: Record<string, unknown>): ResolvedOptions['ranges'] {
  const ranges = o.ranges ?? 'ip-ranges';
  const names = o.prefixListNames;
  const ipv6 = boolean('ipv6', o.ipv6, false);
  if (ranges !== 'prefix-list') {
    for (const key of ['prefixListNames', 'ec2Client'] as const)
      if (o[key] !== undefined)
        throw new InvalidOptionError(
          key,
          "only applies with `ranges: 'prefix-list'`; remove it or set `ranges: 'prefix-list'`.",
        );
    if (o.ipv6 !== undefined)
      throw new InvalidOptionError(
        'ipv6',
        "only applies with `ranges: 'prefix-list'` (ip-ranges always includes IPv6).",
      );
  }
  if (ranges !== 'ip-ranges' && o.ipRangesUrl !== undefined)
    throw new InvalidOptionError('ipRangesUrl', "only applies with `ranges: 'ip-ranges'`.");
  if (ranges === 'prefix-list') {
    const list = stringList('prefixListNames', names, [
      CLOUDFRONT_PREFIX_LIST,
      ...(ipv6 ? [CLOUDFRONT_PREFIX_LIST_IPV6] : []),
    ]);
    if (list.length === 0)
      throw new InvalidOptionError(
        'prefixListNames',
        'is empty; list at least one prefix-list name.',
      );
    const client = awsClient('ec2Client', o.ec2Client, 'an EC2Client from @aws-sdk/client-ec2');
    if (client === undefined) requirePeer('ranges', '@aws-sdk/client-ec2', 'ec2Client');
    return { kind: 'prefix-list', names: list, client };
  }
  if (ranges === 'ip-ranges') {
    const allowInsecure = boolean('allowInsecureIpRangesUrl', o.allowInsecureIpRangesUrl, false);
    const url = o.ipRangesUrl ?? DEFAULT_IP_RANGES_URL;
    let parsed: URL | undefined;
    try {
      parsed = typeof url === 'string' ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:'))
      throw new InvalidOptionError(
        'ipRangesUrl',
        `is ${describe(url)}; expected an https URL of an ip-ranges.json document.`,
      );
    if (parsed.protocol === 'http:' && !allowInsecure)
      throw new InvalidOptionError(
        'ipRangesUrl',
        `is an http: URL (${parsed.origin}); use https:, or set \`allowInsecureIpRangesUrl: true\` for a local test server or a mirror on a trusted network.`,
      );
    return { kind: 'ip-ranges', url: parsed.href, allowInsecure };
  }
  if (isSource(ranges)) {
    if (typeof ranges.name !== 'string')
      throw new InvalidOptionError(
        'ranges.name',
        'must be a string naming the custom range source.',
      );
    return { kind: 'source', source: ranges };
  }
  if (Array.isArray(ranges)) {
    if (ranges.length === 0)
      throw new InvalidOptionError(
        'ranges',
        "is an empty list; give CloudFront's origin-facing CIDRs, or 'prefix-list' / 'ip-ranges'.",
      );
    return { kind: 'static', cidrs: stringList('ranges', ranges, []) };
  }
  throw new InvalidOptionError(
    'ranges',
    `is ${describe(ranges)}; expected 'prefix-list', 'ip-ranges', an array of CIDRs, or a RangeSource.`,
  );
}

function resolveModes(value: unknown): Record<CheckName, Mode> {
  const isMode = (m: unknown): m is Mode => m === 'enforce' || m === 'report';
  if (value === undefined) return { secret: 'enforce', edge: 'enforce', cfId: 'enforce' };
  if (isMode(value)) return { secret: value, edge: value, cfId: value };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(
      'mode',
      `is ${describe(value)}; expected 'enforce', 'report', or { secret?, edge?, cfId? }.`,
    );
  const modes: Record<CheckName, Mode> = { secret: 'enforce', edge: 'enforce', cfId: 'enforce' };
  for (const [key, mode] of Object.entries(value)) {
    if (!CHECKS.includes(key as CheckName)) {
      const hint = suggestOption(key, CHECKS);
      throw new InvalidOptionError(
        `mode.${key}`,
        `is not a check; the checks are secret, edge and cfId.${hint ? ` Did you mean \`mode.${hint}\`?` : ''}`,
      );
    }
    if (mode === undefined) continue;
    if (!isMode(mode))
      throw new InvalidOptionError(
        `mode.${key}`,
        `is ${describe(mode)}; expected 'enforce' or 'report'.`,
      );
    modes[key as CheckName] = mode;
  }
  return modes;
}

function resolvePaths(name: string, value: unknown): readonly string[] {
  const list = stringList(name, value, []);
  list.forEach((p, i) => {
    if (!p.startsWith('/'))
      throw new InvalidOptionError(
        `${name}[${i}]`,
        `is ${describe(p)}; expected a path starting with "/".`,
      );
  });
  return list;
}

function optionalFunction<T>(name: string, value: unknown): T | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new InvalidOptionError(name, `is ${describe(value)}; expected a function.`);
  return value as T | undefined;
}

function resolveLogLevel(value: unknown): LogLevel {
  if (value === undefined) return 'info';
  if (!LOG_LEVELS.includes(value as LogLevel))
    throw new InvalidOptionError(
      'logLevel',
      `is ${describe(value)}; expected one of ${LOG_LEVELS.join(', ')}.`,
    );
  return value as LogLevel;
}

/**
 * Validate `options` once and return the resolved configuration. Throws `InvalidOptionError`
 * naming the option, the problem and the fix. Never mutates `options`.
 */
export function resolveOptions(options: Readonly<OriginGuardOptions>): ResolvedOptions {
  if (options === undefined)
    throw new InvalidOptionError(
      'options',
      "is missing: the guard was called without an options object. Pass at least the secret, e.g. `{ secretId: 'prod/cloudfront/origin-verify' }` or `{ ...optionsFromEnv() }`.",
    );
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError('options', `is ${describe(options)}; expected an options object.`);
  const o = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      const hint = suggestOption(key);
      throw new InvalidOptionError(
        key,
        `is not a known option.${hint ? ` Did you mean \`${hint}\`?` : ''}`,
      );
    }
  }
  const headerName = o.headerName ?? 'x-origin-verify';
  if (typeof headerName !== 'string' || !HEADER_TOKEN.test(headerName.toLowerCase()))
    throw new InvalidOptionError(
      'headerName',
      `is ${describe(headerName)}; expected an HTTP header name such as "x-origin-verify".`,
    );
  const region = o.region;
  if (region !== undefined && (typeof region !== 'string' || !/^[a-z0-9-]{2,40}$/.test(region)))
    throw new InvalidOptionError(
      'region',
      `is ${describe(region)}; expected an AWS region such as "us-east-1".`,
    );
  const excludes = o.excludePaths ?? [];
  if (!Array.isArray(excludes))
    throw new InvalidOptionError(
      'excludePaths',
      `is ${describe(excludes)}; expected an array of paths or RegExps.`,
    );
  const excludeExact: string[] = [];
  const excludePatterns: RegExp[] = [];
  excludes.forEach((e: unknown, i: number) => {
    if (e instanceof RegExp)
      excludePatterns.push(new RegExp(e.source, e.flags.replace(/[gy]/g, '')));
    else if (typeof e === 'string' && e.startsWith('/')) excludeExact.push(e);
    else
      throw new InvalidOptionError(
        `excludePaths[${i}]`,
        `is ${describe(e)}; expected a path starting with "/" or a RegExp.`,
      );
  });
  const refreshJitterRaw = o.refreshJitter ?? 0.1;
  if (typeof refreshJitterRaw !== 'number' || !(refreshJitterRaw >= 0 && refreshJitterRaw <= 0.5))
    throw new InvalidOptionError(
      'refreshJitter',
      `is ${describe(refreshJitterRaw)}; expected a fraction from 0 to 0.5.`,
    );
  const trustedProxies = stringList('trustedProxies', o.trustedProxies, [
    'loopback',
    'uniquelocal',
  ]);
  const resolved: ResolvedOptions = {
    headerName: headerName.toLowerCase(),
    secret: resolveSecret(o),
    ranges: resolveRanges(o),
    region,
    proxyHops: integer('proxyHops', o.proxyHops, 1, 1, 32),
    trustedProxies,
    requireCfId: boolean('requireCfId', o.requireCfId, true),
    healthCheckPaths: new Set(resolvePaths('healthCheckPaths', o.healthCheckPaths)),
    excludeExact: new Set(excludeExact),
    excludePatterns,
    modes: Object.freeze(resolveModes(o.mode)),
    onDecision: optionalFunction('onDecision', o.onDecision),
    onSourceError: optionalFunction('onSourceError', o.onSourceError),
    secretRefreshMs: msOption('secretRefreshMs', o.secretRefreshMs),
    maxStaleMs: o.maxStaleMs === undefined ? undefined : msOption('maxStaleMs', o.maxStaleMs),
    rangesRefreshMs: msOption('rangesRefreshMs', o.rangesRefreshMs),
    refreshJitter: refreshJitterRaw,
    mismatchRefreshMs: integer(
      'mismatchRefreshMs',
      o.mismatchRefreshMs,
      30_000,
      0,
      86_400_000,
      ' (ms)',
    ),
    timeoutMs: integer('timeoutMs', o.timeoutMs, 3_000, 50, 120_000, ' (ms)'),
    maxForwardedForLength: integer(
      'maxForwardedForLength',
      o.maxForwardedForLength,
      16_384,
      64,
      1_048_576,
    ),
    denyResponse: resolveDenyResponse(o.denyResponse),
    logLevel: resolveLogLevel(o.logLevel),
    failOnStartupError: boolean('failOnStartupError', o.failOnStartupError, true),
  };
  if (resolved.maxStaleMs !== undefined && resolved.maxStaleMs < resolved.secretRefreshMs)
    throw new InvalidOptionError(
      'maxStaleMs',
      `is ${resolved.maxStaleMs} ms, shorter than \`secretRefreshMs\` (${resolved.secretRefreshMs} ms), so values would expire between two refreshes; set it to at least \`secretRefreshMs\` (a few intervals is typical).`,
    );
  if (resolved.headerName === 'x-forwarded-for' || resolved.headerName === 'x-amz-cf-id')
    throw new InvalidOptionError(
      'headerName',
      `is "${resolved.headerName}", which CloudFront and the ALB set themselves; use a custom header such as "x-origin-verify".`,
    );
  return Object.freeze(resolved);
}
