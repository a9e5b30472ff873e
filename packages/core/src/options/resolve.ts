/**
 * `resolveOptions`: validate the caller's options once into the internal, frozen
 * {@link ResolvedOptions}. Unknown keys are errors with a "Did you mean" hint.
 * @module
 */
import type { CheckName } from '../decision.js';
import { InvalidOptionError } from '../errors.js';
import { coverageProblem } from '../net/coverage.js';
import { parseCidr } from '../net/matcher.js';
import { isReservedHeaderName } from '../request/headers.js';
import { DEFAULTS, LOG_LEVELS } from './defaults.js';
import { resolvePaths } from './paths.js';
import { resolveRanges } from './ranges.js';
import {
  booleanOption,
  describe,
  numberOption,
  optionalFunction,
  ownProperties,
  stringList,
  suggest,
} from './readers.js';
import { resolveSecret } from './secret.js';
import type {
  DenyResponse,
  LogLevel,
  Mode,
  OptionKey,
  OriginGuardOptions,
  ResolvedOptions,
} from './types.js';

/** Every known top-level option; the compiler fails on a missing or an extra key. */
const KNOWN_OPTIONS: Readonly<Record<OptionKey, true>> = Object.freeze({
  headerName: true,
  secret: true,
  secretId: true,
  jsonKey: true,
  secretStages: true,
  secretsManagerClient: true,
  previousMaxAgeMs: true,
  ranges: true,
  prefixListNames: true,
  ipv6: true,
  ipRangesUrl: true,
  allowInsecureIpRangesUrl: true,
  ec2Client: true,
  region: true,
  proxyHops: true,
  trustedProxies: true,
  requireCfId: true,
  healthCheckPaths: true,
  excludePaths: true,
  mode: true,
  onDecision: true,
  onSourceError: true,
  secretRefreshMs: true,
  maxStaleMs: true,
  rangesRefreshMs: true,
  rangesMaxStaleMs: true,
  refreshJitter: true,
  mismatchRefreshMs: true,
  timeoutMs: true,
  maxForwardedForLength: true,
  denyResponse: true,
  logLevel: true,
  failOnStartupError: true,
});

/**
 * The names of the core's options, e.g. for an adapter that adds its own to
 * {@link checkOptionKeys}.
 */
export const OPTION_KEYS: readonly OptionKey[] = Object.freeze(
  Object.keys(KNOWN_OPTIONS) as OptionKey[],
);

/** The known option (or, with `known`, the name in that list) closest to `name`, for hints. */
export function suggestOption(
  name: string,
  known: readonly string[] = OPTION_KEYS,
): string | undefined {
  return suggest(name, known);
}

/**
 * Throws an `InvalidOptionError` naming the first own key of `options` that is not in `known`,
 * with "Did you mean" the closest known one. `resolveOptions` checks the core's options with
 * it; an adapter with options of its own checks what it was given against both, before it
 * takes its own out, so a typo of either gets the hint (`loger`: "Did you mean `logger`?").
 *
 * @param options - the options as given.
 * @param known - the accepted keys. Defaults to {@link OPTION_KEYS}.
 * @param notKnown - what the error says of an unknown key. Defaults to `'is not a known option.'`.
 * @example
 * ```ts
 * import { checkOptionKeys, OPTION_KEYS } from '@cdn-origin-guard/core';
 * checkOptionKeys({ secretId: 'prod/origin-verify', loger: console }, [...OPTION_KEYS, 'logger']);
 * // throws: option `loger` is not a known option. Did you mean `logger`?
 * ```
 */
export function checkOptionKeys(
  options: object,
  known: readonly string[] = OPTION_KEYS,
  notKnown = 'is not a known option.',
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    // Only the Express adapter takes a logger; elsewhere, say where the lines go instead.
    if (key === 'logger')
      throw new InvalidOptionError(
        key,
        `${notKnown} Only the Express adapter takes a \`logger\`: the Fastify plugin logs through \`request.log\` and \`app.log\`, the Nest module through Nest's \`Logger\`, at the level \`logLevel\` sets; the core logs nothing itself (use \`onDecision\` and \`onSourceError\`).`,
      );
    // The server check's own options, given to the verifier (review, eleventh session: Fastify
    // and Nest take them next to the core's options, so they land in cdnOriginGuard() too).
    if (key === 'requestPaths' || key === 'continuePathRules')
      throw new InvalidOptionError(
        key,
        `${notKnown} It is an option of the check on the server, not of the verifier: pass it to guardUpgrades(server, guard, { ${key} }) (Express, or the core's guardUpgrades(server, verifier, ...)); the Fastify plugin and the Nest module take it next to the core options.`,
      );
    const hint = suggestOption(key, known);
    throw new InvalidOptionError(key, `${notKnown}${hint ? ` Did you mean \`${hint}\`?` : ''}`);
  }
}

const CHECKS: readonly CheckName[] = ['secret', 'edge', 'cfId'];
const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

function resolveDenyResponse(value: unknown): DenyResponse {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw new InvalidOptionError(
      'denyResponse',
      `is ${describe(value)}; expected { status?, body? }.`,
    );
  const fields = ownProperties(value ?? {});
  for (const key of Object.keys(fields))
    if (key !== 'status' && key !== 'body')
      throw new InvalidOptionError(`denyResponse.${key}`, 'is not known; use `status` and `body`.');
  const status = numberOption('denyResponse.status', fields.status);
  const body = fields.body ?? DEFAULTS['denyResponse.body'];
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
    let json: string | undefined;
    try {
      json = JSON.stringify(body);
    } catch (error) {
      throw new InvalidOptionError('denyResponse.body', 'cannot be serialised to JSON.', {
        cause: error,
      });
    }
    // `toJSON` may return what JSON has no text for (`undefined`, a function).
    if (typeof json !== 'string')
      throw new InvalidOptionError(
        'denyResponse.body',
        'serialises to no JSON text (its `toJSON` returned undefined or a function); give a string or a plain object.',
      );
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

/**
 * The deny response a verifier gives with no `denyResponse` option (`403`, `Forbidden` as
 * text/plain, `cache-control: no-store`), for an adapter that must deny before it has a
 * verifier to ask.
 */
export const DEFAULT_DENY_RESPONSE: DenyResponse = resolveDenyResponse(undefined);

function resolveModes(value: unknown): Record<CheckName, Mode> {
  const isMode = (m: unknown): m is Mode => m === 'enforce' || m === 'report';
  const all = (mode: Mode): Record<CheckName, Mode> => ({ secret: mode, edge: mode, cfId: mode });
  if (value === undefined) return all(DEFAULTS.mode);
  if (isMode(value)) return all(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(
      'mode',
      `is ${describe(value)}; expected 'enforce', 'report', or { secret?, edge?, cfId? }.`,
    );
  const modes = all(DEFAULTS.mode);
  for (const [key, mode] of Object.entries(value)) {
    if (!CHECKS.includes(key as CheckName)) {
      const hint = suggest(key, CHECKS);
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

function resolveLogLevel(value: unknown): LogLevel {
  if (value === undefined) return DEFAULTS.logLevel;
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
  // Own properties only: an option is never read from a polluted `Object.prototype`.
  const given = ownProperties(options);
  checkOptionKeys(given);
  const headerName = given.headerName ?? DEFAULTS.headerName;
  if (typeof headerName !== 'string' || !HEADER_TOKEN.test(headerName.toLowerCase()))
    throw new InvalidOptionError(
      'headerName',
      `is ${describe(headerName)}; expected an HTTP header name such as "x-origin-verify".`,
    );
  const region = given.region;
  if (region !== undefined && (typeof region !== 'string' || !/^[a-z0-9-]{2,40}$/.test(region)))
    throw new InvalidOptionError(
      'region',
      `is ${describe(region)}; expected an AWS region such as "us-east-1".`,
    );
  const trustedProxies = stringList(
    'trustedProxies',
    given.trustedProxies,
    DEFAULTS.trustedProxies,
  );
  if (trustedProxies.length === 0)
    throw new InvalidOptionError(
      'trustedProxies',
      "is an empty list, so no peer is trusted and every request would be denied `untrusted-peer`; list the ALB's subnets or the VPC's CIDR, or the names 'loopback', 'linklocal', 'uniquelocal' (or leave it out for the default).",
    );
  trustedProxies.forEach(checkTrustedProxyBreadth);
  checkTrustedProxyCoverage(trustedProxies);
  const secret = resolveSecret(given);
  const ranges = resolveRanges(given);
  if (region !== undefined && !createsAwsClient(secret, ranges))
    throw new InvalidOptionError(
      'region',
      "only applies to the AWS clients the guard creates: with `secretId` and no `secretsManagerClient`, or `ranges: 'prefix-list'` and no `ec2Client`; remove it, or set the region on the client you pass.",
    );
  const resolved: ResolvedOptions = {
    headerName: headerName.toLowerCase(),
    secret,
    ranges,
    region,
    proxyHops: numberOption('proxyHops', given.proxyHops),
    trustedProxies,
    requireCfId: booleanOption('requireCfId', given.requireCfId),
    ...resolvePaths(given),
    modes: Object.freeze(resolveModes(given.mode)),
    onDecision: optionalFunction('onDecision', given.onDecision),
    onSourceError: optionalFunction('onSourceError', given.onSourceError),
    secretRefreshMs: numberOption('secretRefreshMs', given.secretRefreshMs),
    maxStaleMs: numberOption('maxStaleMs', given.maxStaleMs),
    rangesRefreshMs: numberOption('rangesRefreshMs', given.rangesRefreshMs),
    rangesMaxStaleMs: numberOption('rangesMaxStaleMs', given.rangesMaxStaleMs),
    refreshJitter: numberOption('refreshJitter', given.refreshJitter),
    mismatchRefreshMs: numberOption('mismatchRefreshMs', given.mismatchRefreshMs),
    timeoutMs: numberOption('timeoutMs', given.timeoutMs),
    maxForwardedForLength: numberOption('maxForwardedForLength', given.maxForwardedForLength),
    denyResponse: resolveDenyResponse(given.denyResponse),
    logLevel: resolveLogLevel(given.logLevel),
    failOnStartupError: booleanOption('failOnStartupError', given.failOnStartupError),
  };
  checkStaleBound(resolved, 'maxStaleMs', 'secretRefreshMs', 'values');
  checkStaleBound(resolved, 'rangesMaxStaleMs', 'rangesRefreshMs', 'the list');
  if (isReservedHeaderName(resolved.headerName))
    throw new InvalidOptionError(
      'headerName',
      `is "${resolved.headerName}", which CloudFront cannot add as an origin custom header, or which CloudFront or the ALB set themselves; use a custom header such as "x-origin-verify".`,
    );
  return Object.freeze(resolved);
}

/**
 * Throws when a staleness bound (`maxStaleMs`, `rangesMaxStaleMs`) is shorter than the refresh
 * interval of its source: what it holds would expire between two refreshes while every load
 * succeeds.
 */
function checkStaleBound(
  resolved: ResolvedOptions,
  bound: 'maxStaleMs' | 'rangesMaxStaleMs',
  interval: 'secretRefreshMs' | 'rangesRefreshMs',
  what: string,
): void {
  const ms = resolved[bound];
  if (ms === undefined || ms >= resolved[interval]) return;
  throw new InvalidOptionError(
    bound,
    `is ${ms} ms, shorter than \`${interval}\` (${resolved[interval]} ms), so ${what} would expire between two refreshes; set it to at least \`${interval}\` (a few intervals is typical).`,
  );
}

/** Whether the guard creates an AWS client (the only thing `region` is used for). */
function createsAwsClient(
  secret: ResolvedOptions['secret'],
  ranges: ResolvedOptions['ranges'],
): boolean {
  return (
    (secret.kind === 'secrets-manager' && secret.client === undefined) ||
    (ranges.kind === 'prefix-list' && ranges.client === undefined)
  );
}

/**
 * Shortest prefix of a trusted proxy range, per family: the broadest private networks
 * (`10.0.0.0/8`, `fc00::/7`). A broader range holds public addresses of the whole internet.
 */
const TRUSTED_MIN_PREFIX = Object.freeze({ 4: 8, 6: 7 });

/**
 * The most `trustedProxies` may cover together (log2 of the address count): twice every private,
 * loopback and link-local network of the family (all three names together cover a little over
 * 2^25 IPv4 and 2^121 IPv6 addresses). Each entry within its floor is not enough: 256 entries
 * of `N.0.0.0/8` trust every IPv4 address.
 */
const TRUSTED_MAX_COVERAGE = Object.freeze({ 4: 26, 6: 122 });

/** Throws when the `trustedProxies` entries together cover more than any private networks do. */
function checkTrustedProxyCoverage(entries: readonly string[]): void {
  const tooBroad = coverageProblem(entries, TRUSTED_MAX_COVERAGE);
  if (tooBroad === undefined) return;
  throw new InvalidOptionError(
    'trustedProxies',
    `has ${entries.length} entries that ${tooBroad}: more than every private network together, so clients on public addresses would be trusted as proxies and could connect around the ALB and write their own X-Forwarded-For. List the ALB's subnets or the VPC's CIDR, or the names 'loopback', 'linklocal', 'uniquelocal'.`,
  );
}

/**
 * Throws when the `trustedProxies` entry at `index` is broader than any private network: every
 * address in it may connect around the ALB and write `X-Forwarded-For` itself. Names and
 * malformed entries are left to the matcher, which expands or reports them.
 */
function checkTrustedProxyBreadth(entry: string, index: number): void {
  const cidr = parseCidr(entry);
  if (typeof cidr === 'string') return;
  const floor = TRUSTED_MIN_PREFIX[cidr.family];
  if (cidr.prefix >= floor) return;
  throw new InvalidOptionError(
    `trustedProxies[${index}]`,
    `is ${JSON.stringify(entry.slice(0, 64))}, broader than any private network (/${floor} for IPv${cidr.family}): every address in it would be trusted as a proxy, so a client there could connect around the ALB and write its own X-Forwarded-For. List the ALB's subnets or the VPC's CIDR, or the names 'loopback', 'linklocal', 'uniquelocal'.`,
  );
}
