/**
 * The one table of option defaults and bounds. Resolution, `optionsFromEnv` and the sources
 * read it; the TSDoc and the README state the same values (a default is written here once).
 * @module
 */
import type { SecretStage } from '../decision.js';
import type { LogLevel, Mode, OptionKey, TrustedProxyName } from './types.js';

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

/** The log levels, in order. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze([
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'silent',
]);

/**
 * The default of every option that has one, by option path (`undefined`: off / not set).
 * `prefixListNames` adds {@link CLOUDFRONT_PREFIX_LIST_IPV6} when `ipv6` is true.
 */
export const DEFAULTS = Object.freeze({
  headerName: 'x-origin-verify',
  ranges: 'ip-ranges',
  prefixListNames: Object.freeze([CLOUDFRONT_PREFIX_LIST]),
  ipv6: false,
  ipRangesUrl: DEFAULT_IP_RANGES_URL,
  allowInsecureIpRangesUrl: false,
  secretStages: DEFAULT_SECRET_STAGES,
  proxyHops: 1,
  trustedProxies: Object.freeze(['loopback', 'uniquelocal'] as const satisfies TrustedProxyName[]),
  requireCfId: true,
  healthCheckPaths: Object.freeze([] as string[]),
  excludePaths: Object.freeze([] as string[]),
  mode: 'enforce' as Mode,
  secretRefreshMs: 300_000,
  maxStaleMs: undefined,
  previousMaxAgeMs: undefined,
  rangesRefreshMs: 3_600_000,
  rangesMaxStaleMs: undefined,
  refreshJitter: 0.1,
  mismatchRefreshMs: 30_000,
  timeoutMs: 3_000,
  maxForwardedForLength: 16_384,
  'denyResponse.status': 403,
  'denyResponse.body': 'Forbidden',
  logLevel: 'info' as LogLevel,
  failOnStartupError: true,
} as const satisfies Partial<
  Record<OptionKey | 'denyResponse.status' | 'denyResponse.body', unknown>
>);

/** The range of a numeric option: `min` to `max` inclusive, `unit` for messages. */
export interface Bound {
  readonly min: number;
  readonly max: number;
  /** Shown after the range in messages, e.g. `' (ms)'`. */
  readonly unit: string;
  /** Whether only whole numbers are accepted (else any number in the range). */
  readonly integer: boolean;
  /** Why the range is what it is, added to the message of a value outside it. */
  readonly why?: string;
}

/** The bounds of every numeric option, by option path. */
export const BOUNDS = Object.freeze({
  proxyHops: { min: 1, max: 32, unit: '', integer: true },
  secretRefreshMs: { min: 1_000, max: 86_400_000, unit: ' (ms)', integer: true },
  rangesRefreshMs: { min: 1_000, max: 604_800_000, unit: ' (ms)', integer: true },
  // setTimeout holds at most 2^31-1 ms (~24.8 days).
  maxStaleMs: { min: 1_000, max: 1_728_000_000, unit: ' (ms)', integer: true },
  rangesMaxStaleMs: { min: 1_000, max: 1_728_000_000, unit: ' (ms)', integer: true },
  // Checked per request against the clock (no timer), so any span up to a year. The floor:
  // requests already in flight when a rotation promotes the new value still carry the old one.
  previousMaxAgeMs: {
    min: 3_600_000,
    max: 31_536_000_000,
    unit: ' (ms)',
    integer: true,
    why: 'It counts from the creation of the AWSCURRENT version, which a rotation creates before CloudFront sends it (at least an hour keeps requests of a rotation in flight accepted; a day is typical).',
  },
  // The floor keeps the promise that a flood of wrong values cannot drive AWS calls: with 0,
  // one process made ~500 GetSecretValue calls a second (outside review).
  mismatchRefreshMs: {
    min: 1_000,
    max: 86_400_000,
    unit: ' (ms)',
    integer: true,
    why: 'It rate-limits the Secrets Manager refresh a wrong secret value forces, so a flood of wrong values cannot drive AWS calls; it cannot be turned off (a rotation is still picked up by the refresh at the end of the window).',
  },
  timeoutMs: { min: 50, max: 120_000, unit: ' (ms)', integer: true },
  maxForwardedForLength: { min: 64, max: 1_048_576, unit: '', integer: true },
  refreshJitter: { min: 0, max: 0.5, unit: '', integer: false },
  'denyResponse.status': { min: 400, max: 599, unit: '', integer: true },
} as const satisfies Record<string, Bound>);

/** An option path that has bounds (a numeric option). */
export type BoundedOption = keyof typeof BOUNDS & keyof typeof DEFAULTS;

/**
 * Defaults and bounds of the interval options, in ms (a view of {@link DEFAULTS} and
 * {@link BOUNDS} for `optionsFromEnv`, which shows them in seconds).
 */
export const INTERVALS = Object.freeze({
  secretRefreshMs: { default: DEFAULTS.secretRefreshMs, ...BOUNDS.secretRefreshMs },
  rangesRefreshMs: { default: DEFAULTS.rangesRefreshMs, ...BOUNDS.rangesRefreshMs },
  maxStaleMs: { default: DEFAULTS.maxStaleMs, ...BOUNDS.maxStaleMs },
  rangesMaxStaleMs: { default: DEFAULTS.rangesMaxStaleMs, ...BOUNDS.rangesMaxStaleMs },
  previousMaxAgeMs: { default: DEFAULTS.previousMaxAgeMs, ...BOUNDS.previousMaxAgeMs },
});
