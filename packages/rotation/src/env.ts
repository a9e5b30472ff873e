/**
 * The ready `handler`'s configuration from `CDN_ORIGIN_GUARD_ROTATION_*` environment variables.
 * @module
 */
import { InvalidOptionError } from '@cdn-origin-guard/core';
import { FROM_ENV_VARIABLES } from './constants.js';
import type { RotationOptions } from './options.js';

type EnvOption = Exclude<keyof RotationOptions, 'log' | 'clients'>;

/** The variable of each option the environment can set (lists are comma-separated). */
export const ROTATION_ENV_VARIABLES: Readonly<Record<EnvOption, string>> = Object.freeze({
  secretIds: 'CDN_ORIGIN_GUARD_ROTATION_SECRET_IDS',
  headerName: 'CDN_ORIGIN_GUARD_ROTATION_HEADER',
  jsonKey: 'CDN_ORIGIN_GUARD_ROTATION_JSON_KEY',
  distributionIds: 'CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS',
  originIds: 'CDN_ORIGIN_GUARD_ROTATION_ORIGIN_IDS',
  originDomainNames: 'CDN_ORIGIN_GUARD_ROTATION_ORIGIN_DOMAINS',
  listenerArns: 'CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS',
  ruleArns: 'CDN_ORIGIN_GUARD_ROTATION_RULE_ARNS',
  propagationWaitMs: 'CDN_ORIGIN_GUARD_ROTATION_PROPAGATION_WAIT_MS',
  deployWaitMs: 'CDN_ORIGIN_GUARD_ROTATION_DEPLOY_WAIT_MS',
  pollIntervalMs: 'CDN_ORIGIN_GUARD_ROTATION_POLL_INTERVAL_MS',
  maxUpdateAttempts: 'CDN_ORIGIN_GUARD_ROTATION_MAX_UPDATE_ATTEMPTS',
  secretLength: 'CDN_ORIGIN_GUARD_ROTATION_SECRET_LENGTH',
  alphabet: 'CDN_ORIGIN_GUARD_ROTATION_ALPHABET',
  testUrl: 'CDN_ORIGIN_GUARD_ROTATION_TEST_URL',
  testTimeoutMs: 'CDN_ORIGIN_GUARD_ROTATION_TEST_TIMEOUT_MS',
  safetyMarginMs: 'CDN_ORIGIN_GUARD_ROTATION_SAFETY_MARGIN_MS',
  cloudFrontBudgetMs: 'CDN_ORIGIN_GUARD_ROTATION_CLOUDFRONT_BUDGET_MS',
});

const LIST_OPTIONS: ReadonlySet<EnvOption> = new Set([
  'secretIds',
  'distributionIds',
  'originIds',
  'originDomainNames',
  'listenerArns',
  'ruleArns',
]);

const PREFIX = 'CDN_ORIGIN_GUARD_ROTATION_';

/**
 * Rotation options from the environment. Unset or empty variables are "not given"; numbers
 * are read as numbers (and validated by `createRotationHandler`); an unknown
 * `CDN_ORIGIN_GUARD_ROTATION_*` variable is an error, so a typo is not silently ignored. An
 * invalid value is reported by `createRotationHandler` naming the variable (and the option).
 * @example
 * ```ts
 * import { createRotationHandler, rotationOptionsFromEnv } from '@cdn-origin-guard/rotation';
 * export const handler = createRotationHandler({ ...rotationOptionsFromEnv(), log: myLogger });
 * ```
 */
export function rotationOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): RotationOptions {
  const known = new Set(Object.values(ROTATION_ENV_VARIABLES));
  for (const name of Object.keys(env)) {
    if (name.startsWith(PREFIX) && !known.has(name))
      throw new InvalidOptionError(
        name,
        `is not a known variable; known ones are ${[...known].join(', ')}.`,
      );
  }
  const out: Record<string, unknown> & {
    [FROM_ENV_VARIABLES]?: Record<string, { variable: string; value: unknown }>;
  } = {};
  const variables: Record<string, { variable: string; value: unknown }> = {};
  for (const [option, variable] of Object.entries(ROTATION_ENV_VARIABLES) as [
    EnvOption,
    string,
  ][]) {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') continue;
    out[option] = LIST_OPTIONS.has(option)
      ? raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : raw.trim();
    variables[option] = Object.freeze({ variable, value: out[option] });
  }
  out[FROM_ENV_VARIABLES] = Object.freeze(variables);
  return out as RotationOptions;
}
