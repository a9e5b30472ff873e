/**
 * Defaults and bounds of the rotation options, written once: the resolution, the environment
 * reader and the README read them from here.
 * @module
 */

/** The guard core's default `secretRefreshMs` (how often apps reload the secret). */
export const CORE_SECRET_REFRESH_MS = 300_000;
/** The guard core's default `refreshJitter` (fraction of the interval). */
export const CORE_REFRESH_JITTER = 0.1;
/** Margin added to the apps' refresh interval and jitter before CloudFront may send the new value. */
export const PROPAGATION_MARGIN_MS = 30_000;

/** Shortest secret the guard core accepts (printable ASCII, 0x21-0x7E). */
export const MIN_SECRET_LENGTH = 16;
/** Longest secret the guard core accepts; also an ALB condition value's limit. */
export const MAX_SECRET_LENGTH = 128;

/** base64url: what 48 random bytes become, 64 characters, safe in a header and in an ALB rule. */
export const BASE64URL_ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Characters a generated value may not use: outside printable ASCII (CloudFront custom headers
 * and the guard core), and `*` / `?`, which an ALB `http-header` condition reads as wildcards.
 */
export const FORBIDDEN_ALPHABET_CHARACTERS = '*?';

/** Default of each option, written once (the README's table says the same). */
export const DEFAULTS = {
  headerName: 'x-origin-verify',
  propagationWaitMs:
    Math.ceil(CORE_SECRET_REFRESH_MS * (1 + CORE_REFRESH_JITTER)) + PROPAGATION_MARGIN_MS,
  deployWaitMs: 600_000,
  pollIntervalMs: 10_000,
  maxUpdateAttempts: 5,
  secretLength: 64,
  safetyMarginMs: 5_000,
  cloudFrontBudgetMs: 20_000,
  testTimeoutMs: 5_000,
} as const;

/** Accepted range of each numeric option. */
export const BOUNDS = {
  propagationWaitMs: { min: 0, max: 900_000, unit: ' (ms)' },
  deployWaitMs: { min: 0, max: 900_000, unit: ' (ms)' },
  pollIntervalMs: { min: 10, max: 60_000, unit: ' (ms)' },
  maxUpdateAttempts: { min: 1, max: 20, unit: '' },
  secretLength: { min: MIN_SECRET_LENGTH, max: MAX_SECRET_LENGTH, unit: ' (characters)' },
  safetyMarginMs: { min: 0, max: 120_000, unit: ' (ms)' },
  cloudFrontBudgetMs: { min: 0, max: 300_000, unit: ' (ms)' },
  testTimeoutMs: { min: 50, max: 60_000, unit: ' (ms)' },
} as const satisfies Record<
  Exclude<keyof typeof DEFAULTS, 'headerName'>,
  { min: number; max: number; unit: string }
>;

/** ALB: at most this many values in one condition. */
export const MAX_VALUES_PER_CONDITION = 3;
/** ALB: at most this many condition values in one rule, all its conditions together. */
export const MAX_CONDITION_VALUES_PER_RULE = 5;
/** Header values a rule holds during a rotation: `[AWSCURRENT, AWSPENDING]`, then `[AWSCURRENT, AWSPREVIOUS]`. */
export const ROTATION_HEADER_VALUES = 2;

/**
 * At most this many older versions of the secret are read, newest first, to tell a rule value
 * that is an old one of this secret (dropped) from another site's (kept), per step.
 */
export const MAX_FORMER_VERSIONS_READ = 10;

/**
 * The most pages of one AWS listing read (`ListSecretVersionIds`: Secrets Manager keeps about
 * 100 versions of a secret; `DescribeRules`: an ALB listener holds at most 100 rules): more, or a
 * token repeated, is a faulty answer.
 */
export const MAX_LIST_PAGES = 50;

/** The staging label of the value in use. */
export const AWSCURRENT = 'AWSCURRENT';
/** The staging label of the value in use before the last rotation. */
export const AWSPREVIOUS = 'AWSPREVIOUS';
/** The staging label of the value being rotated in. */
export const AWSPENDING = 'AWSPENDING';

/**
 * On options made by `rotationOptionsFromEnv`: per option read from the environment, the
 * variable and the value read, so that an error in a value that is still that one names the
 * variable to fix (an own enumerable symbol: a spread of the options keeps it).
 */
export const FROM_ENV_VARIABLES = Symbol.for('@cdn-origin-guard/rotation-env-variables');

/** The four steps Secrets Manager invokes, in order. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
