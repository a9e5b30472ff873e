/**
 * The public option types, and the internal resolved configuration they turn into. Defaults
 * stated here are the ones in the defaults table (./defaults.ts), where each is written once.
 * @module
 */
import type { CheckName, Decision, SecretStage } from '../decision.js';
import type { StaticSecret } from '../sources/static.js';
import type { AwsSdkClient, RangeSource, SecretSnapshot, SecretSource } from '../sources/types.js';

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
 * `jsonKey`, `secretStages`, `secretsManagerClient` and `previousMaxAgeMs`. Type your overrides with it to spread
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
   * createOriginVerifier({ secret: process.env.ORIGIN_SECRET!, headerName: 'x-cdn-secret', ranges: 'ip-ranges' });
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
  /**
   * AWS region for the clients the guard creates (`secretId` without `secretsManagerClient`,
   * `'prefix-list'` without `ec2Client`); given anywhere else it would be ignored, so it is an
   * error. Defaults to the SDK's default chain (`AWS_REGION`).
   */
  readonly region?: string;
  /**
   * How many proxies sit between CloudFront and the app (the ALB is one). The edge address is
   * the `X-Forwarded-For` entry the outermost of them appended. Defaults to `1`.
   */
  readonly proxyHops?: number;
  /**
   * Ranges the socket peer, and every hop right of the edge entry, must be in: CIDRs and the
   * names `loopback`, `linklocal`, `uniquelocal` (10/8, 172.16/12, 192.168/16, fc00::/7).
   * Not empty (no request would pass). Defaults to `['loopback', 'uniquelocal']`.
   */
  readonly trustedProxies?: readonly (TrustedProxyName | (string & {}))[];
  /** Require a well-formed `X-Amz-Cf-Id`. Defaults to `true`. */
  readonly requireCfId?: boolean;
  /**
   * Paths (exact, without query string) where an ALB health check passes: only when the peer
   * is a trusted proxy and there is no `X-Forwarded-For` header at all (an empty one does not
   * count). A path no request can match (with `?` or `#`, a dot segment, `\`, `;`, an encoded
   * `.`, `/`, `\` or `%`, a space or a non-ASCII character) is an error. Defaults to `[]`.
   */
  readonly healthCheckPaths?: readonly string[];
  /**
   * Paths let through without any check (exact strings, checked as `healthCheckPaths`, or
   * RegExps on the path). Anchor every alternative of a RegExp at the start
   * (`/^\/static\//`): one that is not, or starts with `^.*` or `^.+`, gets a process warning
   * (`CDN_ORIGIN_GUARD_UNANCHORED_EXCLUDE`); one that matches random paths (`/^\//`) is an
   * error. Neither this nor `healthCheckPaths` applies to what `guardUpgrades` checks on the
   * server (WebSocket handshakes, CONNECT, Socket.IO requests): those listeners do not route by
   * path. Defaults to `[]`.
   */
  readonly excludePaths?: readonly (string | RegExp)[];
  /**
   * `'enforce'` denies failed checks; `'report'` allows and reports them. Either for the whole
   * guard or per check (`{ secret: 'enforce', edge: 'report' }`, unspecified checks enforce).
   * Defaults to `'enforce'`.
   */
  readonly mode?: Mode | Readonly<Partial<Record<CheckName, Mode>>>;
  /**
   * Called with every decision (logging, metrics). `input` is a copy whose `headers` and
   * `rawHeaders` hold no secret header. Errors it throws, and the rejection of an `async`
   * hook, are swallowed and reported once as a process warning. Defaults to none.
   */
  readonly onDecision?: (decision: Decision, input: VerifyInput) => void;
  /**
   * Called when a source fails to load (the last-known-good value stays in use), and when a
   * load succeeds with a warning or a skipped stage (e.g. an invalid `AWSPENDING`, a configured
   * custom staging label no version carries). Never with a secret value. Errors it throws, and
   * an `async` callback's rejection, are dropped. Defaults to none.
   */
  readonly onSourceError?: (error: Error) => void;
  /** Secret refresh interval in ms. Defaults to `300000` (5 minutes). */
  readonly secretRefreshMs?: number;
  /**
   * Longest time, in ms, the guard keeps trusting secret values it could not re-read: when no
   * secret load has succeeded for this long (Secrets Manager keeps failing), requests are denied
   * with `secret-unavailable` until a load succeeds, so a revoked value is not accepted forever.
   * At least `secretRefreshMs`; ignored for a static `secret`. With it set, a scheduled refresh
   * reads the values again with `GetSecretValue` once they were last read `maxStaleMs / 2` ago
   * (a `DescribeSecret` that still lists the labels does not count as reading them), so values
   * that can no longer be read (KMS key disabled, `GetSecretValue` revoked) expire too.
   * Defaults to off (`undefined`: the last-known-good values stay in use for as long as the
   * outage lasts).
   */
  readonly maxStaleMs?: number;
  /** Ranges refresh interval in ms. Defaults to `3600000` (1 hour). */
  readonly rangesRefreshMs?: number;
  /**
   * Longest time, in ms, the guard keeps trusting a range list AWS has not confirmed as current:
   * when no ranges load has succeeded for this long (the prefix list or ip-ranges.json keeps
   * failing: an IAM change, a blocked endpoint), the list is dropped and requests are denied
   * with `ranges-unavailable` until a load succeeds, so ranges AWS has since withdrawn from
   * CloudFront are not accepted for ever. Every successful load confirms the list and restarts
   * the countdown: a full read, an ip-ranges `304 Not Modified` (the ETag is still current) and
   * a prefix list whose version has not moved alike; a failed or refused load does not. At least
   * `rangesRefreshMs`; an error with a static `ranges` list, which is never refreshed. Defaults
   * to off (`undefined`: the last-known-good list stays in use for as long as the outage lasts).
   * @example
   * ```ts
   * import { createOriginVerifier } from '@cdn-origin-guard/core';
   * createOriginVerifier({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list', rangesMaxStaleMs: 86_400_000 });
   * ```
   */
  readonly rangesMaxStaleMs?: number;
  /** Jitter on refresh timers, as a fraction of the interval (0 to 0.5). Defaults to `0.1`. */
  readonly refreshJitter?: number;
  /**
   * Minimum time between two refreshes forced by an unknown secret value, in ms, at least
   * `1000`. Bounds the AWS calls a flood of bad values can cause. Defaults to `30000`.
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
  /** Log level the adapters (Express, Fastify, Nest) use for deny lines. Defaults to `'info'`. */
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
  readonly previousMaxAgeMs?: never;
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
   * once after a leak. Custom labels are accepted; one within two edits of an AWS label, or
   * differing only in case (`AWSPREVIUS`), is an error. Defaults to
   * `['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']` (missing optional stages are fine).
   */
  readonly secretStages?: readonly SecretStage[];
  /**
   * Longest time, in ms, the `AWSPREVIOUS` value stays accepted, counted from the creation of the
   * `AWSCURRENT` version (Secrets Manager's `CreatedDate`: a rotation creates the new version
   * first and promotes it only once CloudFront sends it). Past that, a request carrying the
   * previous value is denied with `expired-secret` (logged: a leaked old value in use, or
   * CloudFront still sending it), so a rotation retires the old value within this time instead of
   * at the next rotation, up to 90 days later. At least 3600000 (1 hour); a day is typical. A
   * version whose `CreatedDate` is unknown gives `AWSPREVIOUS` no time at all; one created after
   * the `AWSCURRENT` version (a rollback) is not limited. Defaults to none
   * (`AWSPREVIOUS` accepted for as long as it holds the label).
   * @example
   * ```ts
   * import { createOriginVerifier } from '@cdn-origin-guard/core';
   * createOriginVerifier({ secretId: 'prod/cloudfront/origin-verify', previousMaxAgeMs: 86_400_000 });
   * ```
   */
  readonly previousMaxAgeMs?: number;
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
        /** `AWSPREVIOUS`'s time after `AWSCURRENT`'s creation, in ms; undefined: no limit. */
        readonly previousMaxAgeMs: number | undefined;
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
  /** Undefined: off, and always with static ranges (an error at resolution). */
  readonly rangesMaxStaleMs: number | undefined;
  readonly refreshJitter: number;
  readonly mismatchRefreshMs: number;
  readonly timeoutMs: number;
  readonly maxForwardedForLength: number;
  readonly denyResponse: DenyResponse;
  readonly logLevel: LogLevel;
  readonly failOnStartupError: boolean;
}

/** Every top-level option key, of either way of giving the secret. */
export type OptionKey = keyof StaticSecretOptions | keyof SecretsManagerOptions;
