/**
 * `optionsFromEnv`: one way to configure every adapter and example from the environment.
 * @module
 */
import { InvalidOptionError } from './errors.js';
import { RangeMatcher } from './net/matcher.js';
import { INTERVALS, LOG_LEVELS } from './options/defaults.js';
import { ownProperties } from './options/readers.js';
import { resolveOptions, suggestOption } from './options/resolve.js';
import type { LogLevel, Mode, OriginGuardOptions } from './options/types.js';

/** The environment variables read by {@link optionsFromEnv}. */
export const ENV_VARIABLES = [
  'CDN_ORIGIN_GUARD_SECRET',
  'CDN_ORIGIN_GUARD_SECRET_PREVIOUS',
  'CDN_ORIGIN_GUARD_SECRET_ID',
  'CDN_ORIGIN_GUARD_SECRET_JSON_KEY',
  'CDN_ORIGIN_GUARD_SECRET_STAGES',
  'CDN_ORIGIN_GUARD_PREVIOUS_MAX_AGE_SECONDS',
  'CDN_ORIGIN_GUARD_HEADER',
  'CDN_ORIGIN_GUARD_RANGES',
  'CDN_ORIGIN_GUARD_IP_RANGES_URL',
  'CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL',
  'CDN_ORIGIN_GUARD_IPV6',
  'CDN_ORIGIN_GUARD_PROXY_HOPS',
  'CDN_ORIGIN_GUARD_TRUSTED_PROXIES',
  'CDN_ORIGIN_GUARD_HEALTH_PATHS',
  'CDN_ORIGIN_GUARD_EXCLUDE_PATHS',
  'CDN_ORIGIN_GUARD_MODE',
  'CDN_ORIGIN_GUARD_REQUIRE_CF_ID',
  'CDN_ORIGIN_GUARD_REFRESH_SECONDS',
  'CDN_ORIGIN_GUARD_SECRET_REFRESH_SECONDS',
  'CDN_ORIGIN_GUARD_RANGES_REFRESH_SECONDS',
  'CDN_ORIGIN_GUARD_MAX_STALE_SECONDS',
  'CDN_ORIGIN_GUARD_RANGES_MAX_STALE_SECONDS',
  'CDN_ORIGIN_GUARD_TIMEOUT_MS',
  'CDN_ORIGIN_GUARD_LOG_LEVEL',
  'CDN_ORIGIN_GUARD_FAIL_ON_STARTUP_ERROR',
] as const;

/** Prefix of every variable {@link optionsFromEnv} reads; any other variable with it is an error. */
const PREFIX = 'CDN_ORIGIN_GUARD_';

type Env = Readonly<Record<string, string | undefined>>;

const VARIABLE_OF_OPTION: Readonly<Record<string, string>> = {
  secret: 'CDN_ORIGIN_GUARD_SECRET',
  secretId: 'CDN_ORIGIN_GUARD_SECRET_ID',
  jsonKey: 'CDN_ORIGIN_GUARD_SECRET_JSON_KEY',
  secretStages: 'CDN_ORIGIN_GUARD_SECRET_STAGES',
  previousMaxAgeMs: 'CDN_ORIGIN_GUARD_PREVIOUS_MAX_AGE_SECONDS',
  headerName: 'CDN_ORIGIN_GUARD_HEADER',
  ranges: 'CDN_ORIGIN_GUARD_RANGES',
  ipRangesUrl: 'CDN_ORIGIN_GUARD_IP_RANGES_URL',
  allowInsecureIpRangesUrl: 'CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL',
  ipv6: 'CDN_ORIGIN_GUARD_IPV6',
  proxyHops: 'CDN_ORIGIN_GUARD_PROXY_HOPS',
  trustedProxies: 'CDN_ORIGIN_GUARD_TRUSTED_PROXIES',
  healthCheckPaths: 'CDN_ORIGIN_GUARD_HEALTH_PATHS',
  excludePaths: 'CDN_ORIGIN_GUARD_EXCLUDE_PATHS',
  mode: 'CDN_ORIGIN_GUARD_MODE',
  requireCfId: 'CDN_ORIGIN_GUARD_REQUIRE_CF_ID',
  secretRefreshMs: 'CDN_ORIGIN_GUARD_SECRET_REFRESH_SECONDS',
  rangesRefreshMs: 'CDN_ORIGIN_GUARD_RANGES_REFRESH_SECONDS',
  maxStaleMs: 'CDN_ORIGIN_GUARD_MAX_STALE_SECONDS',
  rangesMaxStaleMs: 'CDN_ORIGIN_GUARD_RANGES_MAX_STALE_SECONDS',
  timeoutMs: 'CDN_ORIGIN_GUARD_TIMEOUT_MS',
  logLevel: 'CDN_ORIGIN_GUARD_LOG_LEVEL',
  failOnStartupError: 'CDN_ORIGIN_GUARD_FAIL_ON_STARTUP_ERROR',
};

function list(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new InvalidOptionError(name, 'lists nothing; unset it or give comma-separated values.');
  return items;
}

/** A seconds variable feeding the interval option `option`, in ms; errors speak seconds. */
function seconds(env: Env, name: string, option: keyof typeof INTERVALS): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const min = INTERVALS[option].min / 1000;
  const max = INTERVALS[option].max / 1000;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new InvalidOptionError(
      name,
      `is "${raw}"; expected a whole number of seconds from ${min} to ${max} (option \`${option}\`).`,
    );
  return n * 1000;
}

/**
 * The seconds variable of a staleness bound (`maxStaleMs`, `rangesMaxStaleMs`), in ms, checked
 * against the refresh interval `options` already holds (else its default); errors speak seconds.
 */
function staleBound(
  env: Env,
  options: Readonly<Record<string, unknown>>,
  option: 'maxStaleMs' | 'rangesMaxStaleMs',
  interval: 'secretRefreshMs' | 'rangesRefreshMs',
): number | undefined {
  const name = VARIABLE_OF_OPTION[option]!;
  const ms = seconds(env, name, option);
  if (ms === undefined) return undefined;
  const intervalMs = (options[interval] as number | undefined) ?? INTERVALS[interval].default;
  if (ms < intervalMs)
    throw new InvalidOptionError(
      name,
      `is ${ms / 1000} seconds, shorter than the ${interval === 'secretRefreshMs' ? 'secret' : 'ranges'} refresh interval (${intervalMs / 1000} seconds); set it to at least that (a few intervals is typical).`,
    );
  return ms;
}

/** Throw on a `CDN_ORIGIN_GUARD_*` variable that is not read, with the closest known name. */
function rejectUnknown(env: Env): void {
  for (const name of Object.keys(env)) {
    if (!name.startsWith(PREFIX) || env[name] === undefined) continue;
    if ((ENV_VARIABLES as readonly string[]).includes(name)) continue;
    const hint = suggestOption(name, ENV_VARIABLES);
    throw new InvalidOptionError(
      name,
      `is not a variable cdn-origin-guard reads.${hint ? ` Did you mean ${hint}?` : ''} The variables are listed in the README (ENV_VARIABLES).`,
    );
  }
}

function whole(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new InvalidOptionError(name, `is "${raw}"; expected a whole number.`);
  return Number(raw);
}

function bool(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new InvalidOptionError(name, `is "${env[name]}"; expected true or false.`);
}

/**
 * Build guard options from environment variables (see the README's table). Unset variables
 * leave the option at its default; bad values throw `InvalidOptionError` naming the variable.
 * The returned object can be spread with your own overrides and passed to any adapter.
 *
 * @example
 * ```ts
 * import { createOriginVerifier, optionsFromEnv } from '@cdn-origin-guard/core';
 * const verifier = createOriginVerifier({ ...optionsFromEnv(), onDecision: (d) => d.allowed || console.log(d.reason) });
 * ```
 */
export function optionsFromEnv(variables: Env = process.env): OriginGuardOptions {
  if (typeof variables !== 'object' || variables === null)
    throw new InvalidOptionError('env', 'must be an object of environment variables.');
  // Own variables only: `process.env` reads a missing name through `Object.prototype`, which
  // prototype pollution elsewhere in an app could have given a `CDN_ORIGIN_GUARD_MODE`.
  const env = ownProperties(variables) as Env;
  rejectUnknown(env);
  const options: Record<string, unknown> = {};
  // One value each, never split: a secret may contain a comma.
  const secret = env.CDN_ORIGIN_GUARD_SECRET?.trim() || undefined;
  const previous = env.CDN_ORIGIN_GUARD_SECRET_PREVIOUS?.trim() || undefined;
  const secretId = env.CDN_ORIGIN_GUARD_SECRET_ID?.trim() || undefined;
  if (previous && !secret)
    throw new InvalidOptionError(
      'CDN_ORIGIN_GUARD_SECRET_PREVIOUS',
      'only applies with CDN_ORIGIN_GUARD_SECRET (the value being rotated out, accepted next to it).',
    );
  if (secret && secretId)
    throw new InvalidOptionError(
      'CDN_ORIGIN_GUARD_SECRET',
      'and CDN_ORIGIN_GUARD_SECRET_ID are both set; use CDN_ORIGIN_GUARD_SECRET_ID in production and CDN_ORIGIN_GUARD_SECRET only for development.',
    );
  if (!secret && !secretId)
    throw new InvalidOptionError(
      'CDN_ORIGIN_GUARD_SECRET_ID',
      'is not set; set it to the Secrets Manager secret holding the X-Origin-Verify value (or CDN_ORIGIN_GUARD_SECRET to static values for development).',
    );
  if (secret) options.secret = previous ? [secret, previous] : secret;
  if (secretId) {
    options.secretId = secretId;
    const jsonKey = env.CDN_ORIGIN_GUARD_SECRET_JSON_KEY?.trim();
    if (jsonKey) options.jsonKey = jsonKey;
    const stages = list(env, 'CDN_ORIGIN_GUARD_SECRET_STAGES');
    if (stages) options.secretStages = stages;
    const previousMaxAge = seconds(
      env,
      'CDN_ORIGIN_GUARD_PREVIOUS_MAX_AGE_SECONDS',
      'previousMaxAgeMs',
    );
    if (previousMaxAge !== undefined) options.previousMaxAgeMs = previousMaxAge;
  } else {
    for (const name of [
      'CDN_ORIGIN_GUARD_SECRET_JSON_KEY',
      'CDN_ORIGIN_GUARD_SECRET_STAGES',
      'CDN_ORIGIN_GUARD_PREVIOUS_MAX_AGE_SECONDS',
    ])
      if (env[name]?.trim())
        throw new InvalidOptionError(name, 'only applies with CDN_ORIGIN_GUARD_SECRET_ID.');
  }
  const header = env.CDN_ORIGIN_GUARD_HEADER?.trim();
  if (header) options.headerName = header;
  const ranges = env.CDN_ORIGIN_GUARD_RANGES?.trim();
  if (ranges) {
    const lower = ranges.toLowerCase();
    if (lower === 'prefix-list' || lower === 'ip-ranges') options.ranges = lower;
    else options.ranges = list(env, 'CDN_ORIGIN_GUARD_RANGES');
  }
  const url = env.CDN_ORIGIN_GUARD_IP_RANGES_URL?.trim();
  if (url) options.ipRangesUrl = url;
  const insecure = bool(env, 'CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL');
  // Only meaningful with ip-ranges; harmless (and not an error) with other ranges.
  if (insecure !== undefined && (options.ranges ?? 'ip-ranges') === 'ip-ranges')
    options.allowInsecureIpRangesUrl = insecure;
  const ipv6 = bool(env, 'CDN_ORIGIN_GUARD_IPV6');
  if (ipv6 !== undefined) options.ipv6 = ipv6;
  const hops = whole(env, 'CDN_ORIGIN_GUARD_PROXY_HOPS');
  if (hops !== undefined) options.proxyHops = hops;
  const trusted = list(env, 'CDN_ORIGIN_GUARD_TRUSTED_PROXIES');
  if (trusted) options.trustedProxies = trusted;
  const health = list(env, 'CDN_ORIGIN_GUARD_HEALTH_PATHS');
  if (health) options.healthCheckPaths = health;
  const exclude = list(env, 'CDN_ORIGIN_GUARD_EXCLUDE_PATHS');
  if (exclude) options.excludePaths = exclude;
  const mode = env.CDN_ORIGIN_GUARD_MODE?.trim().toLowerCase();
  if (mode) {
    if (mode !== 'enforce' && mode !== 'report')
      throw new InvalidOptionError(
        'CDN_ORIGIN_GUARD_MODE',
        `is "${env.CDN_ORIGIN_GUARD_MODE}"; expected "enforce" or "report".`,
      );
    options.mode = mode satisfies Mode;
  }
  const requireCfId = bool(env, 'CDN_ORIGIN_GUARD_REQUIRE_CF_ID');
  if (requireCfId !== undefined) options.requireCfId = requireCfId;
  // REFRESH_SECONDS sets both intervals; the specific variables override it.
  const refresh = seconds(env, 'CDN_ORIGIN_GUARD_REFRESH_SECONDS', 'secretRefreshMs');
  const secretRefresh = seconds(env, 'CDN_ORIGIN_GUARD_SECRET_REFRESH_SECONDS', 'secretRefreshMs');
  const rangesRefresh = seconds(env, 'CDN_ORIGIN_GUARD_RANGES_REFRESH_SECONDS', 'rangesRefreshMs');
  if ((secretRefresh ?? refresh) !== undefined) options.secretRefreshMs = secretRefresh ?? refresh;
  if ((rangesRefresh ?? refresh) !== undefined) options.rangesRefreshMs = rangesRefresh ?? refresh;
  const maxStale = staleBound(env, options, 'maxStaleMs', 'secretRefreshMs');
  if (maxStale !== undefined) options.maxStaleMs = maxStale;
  const rangesMaxStale = staleBound(env, options, 'rangesMaxStaleMs', 'rangesRefreshMs');
  if (rangesMaxStale !== undefined) options.rangesMaxStaleMs = rangesMaxStale;
  const timeout = whole(env, 'CDN_ORIGIN_GUARD_TIMEOUT_MS');
  if (timeout !== undefined) options.timeoutMs = timeout;
  const logLevel = env.CDN_ORIGIN_GUARD_LOG_LEVEL?.trim().toLowerCase();
  if (logLevel) {
    if (!LOG_LEVELS.includes(logLevel as LogLevel))
      throw new InvalidOptionError(
        'CDN_ORIGIN_GUARD_LOG_LEVEL',
        `is "${env.CDN_ORIGIN_GUARD_LOG_LEVEL}"; expected one of ${LOG_LEVELS.join(', ')}.`,
      );
    options.logLevel = logLevel;
  }
  const failOnStartupError = bool(env, 'CDN_ORIGIN_GUARD_FAIL_ON_STARTUP_ERROR');
  if (failOnStartupError !== undefined) options.failOnStartupError = failOnStartupError;
  // Validate now so a bad value is reported against its variable, not the option it feeds.
  const result = options as unknown as OriginGuardOptions;
  try {
    resolveOptions(result);
    if (Array.isArray(options.ranges)) RangeMatcher.compile(options.ranges as string[], 'ranges');
    if (Array.isArray(options.trustedProxies))
      RangeMatcher.compile(options.trustedProxies as string[], 'trustedProxies');
  } catch (error) {
    if (error instanceof InvalidOptionError) {
      const root = error.option.split(/[.[]/)[0]!;
      const variable =
        error.option === 'secret[1]'
          ? 'CDN_ORIGIN_GUARD_SECRET_PREVIOUS'
          : VARIABLE_OF_OPTION[root];
      if (variable) {
        const detail = error.message.replace(/^@cdn-origin-guard: option `[^`]*` /, '');
        throw new InvalidOptionError(variable, `(option \`${error.option}\`) ${detail}`, {
          cause: error,
        });
      }
    }
    throw error;
  }
  return result;
}
