/**
 * Rotation options: the public type, and their resolution (validated once, at construction,
 * with the guard core's `InvalidOptionError`).
 * @module
 */
import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidOptionError, isReservedHeaderName } from '@cdn-origin-guard/core';
import {
  BASE64URL_ALPHABET,
  BOUNDS,
  DEFAULTS,
  FORBIDDEN_ALPHABET_CHARACTERS,
  FROM_ENV_VARIABLES,
} from './constants.js';
import { ROTATION_ENV_VARIABLES } from './env.js';

/** SDK v3 clients the handler uses; each defaults to one created on first use (once per container). */
export interface RotationClients {
  /** Defaults to `new SecretsManagerClient({})`. */
  readonly secretsManager?: SecretsManagerClient;
  /** Defaults to `new CloudFrontClient({})`. */
  readonly cloudFront?: CloudFrontClient;
  /** Defaults to `new ElasticLoadBalancingV2Client({})`. */
  readonly elbv2?: ElasticLoadBalancingV2Client;
}

/**
 * Options of {@link createRotationHandler}.
 * @example
 * ```ts
 * import { createRotationHandler } from '@cdn-origin-guard/rotation';
 *
 * export const handler = createRotationHandler({
 *   distributionIds: ['E2QWRUHEXAMPLE'],
 *   listenerArns: ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2'],
 * });
 * ```
 */
export interface RotationOptions {
  /**
   * The secrets this function may rotate, by name or ARN: an event for any other secret fails
   * before any change (so a second secret pointed at this function, or invoked by mistake,
   * cannot rewrite this site's ALB rules and distributions). Defaults to `[]`: any secret.
   */
  readonly secretIds?: readonly string[];
  /** The origin custom header CloudFront sends and the ALB rule checks. Defaults to `x-origin-verify`. */
  readonly headerName?: string;
  /** When the secret is a JSON object, the key holding the header value (the core's `jsonKey`); other keys are kept. Defaults to none (the whole SecretString is the value). */
  readonly jsonKey?: string;
  /** CloudFront distributions whose origins get the new value. Defaults to `[]`. */
  readonly distributionIds?: readonly string[];
  /** Origin ids that carry the header (in every distribution). Defaults to the origins whose domain is the ALB's. */
  readonly originIds?: readonly string[];
  /** Origin domain names that carry the header. Defaults to the DNS names of the ALBs of `listenerArns` / `ruleArns`. */
  readonly originDomainNames?: readonly string[];
  /**
   * ALB listeners whose rules with an `http-header` condition on `headerName` holding one of this
   * secret's values (AWSCURRENT, AWSPREVIOUS, pending) are kept in step; rules holding other
   * values (another site's secret) are left alone. Defaults to `[]`.
   */
  readonly listenerArns?: readonly string[];
  /** ALB listener rules (with an `http-header` condition on `headerName`) kept in step, whatever values they hold. Defaults to `[]`. */
  readonly ruleArns?: readonly string[];
  /**
   * How long setSecret waits, after the ALB rules and before CloudFront, for the apps to load
   * `AWSPENDING`: the core's default `secretRefreshMs` plus its jitter plus a 30 s margin. Set
   * it from your apps' `secretRefreshMs`, or to 0 if you rely on refresh-on-mismatch.
   * Defaults to `360000`.
   */
  readonly propagationWaitMs?: number;
  /** Longest testSecret waits for the distributions to be `Deployed` (also bounded by the Lambda's time left). Defaults to `600000`. */
  readonly deployWaitMs?: number;
  /** Interval between two `GetDistribution` polls in testSecret. Defaults to `10000`. */
  readonly pollIntervalMs?: number;
  /** `UpdateDistribution` attempts per distribution when CloudFront answers `PreconditionFailed`. Defaults to `5`. */
  readonly maxUpdateAttempts?: number;
  /** Length of a generated value, in characters (16 to 128, the core's limits). Defaults to `64` (48 random bytes as base64url). */
  readonly secretLength?: number;
  /** Characters of a generated value: printable ASCII without `*` and `?` (ALB wildcards), at least 128 bits in all. Defaults to base64url. */
  readonly alphabet?: string;
  /** URL requested through CloudFront in testSecret; a non-2xx answer fails the step. Defaults to none. */
  readonly testUrl?: string;
  /** Timeout of the `testUrl` request, in ms. Defaults to `5000`. */
  readonly testTimeoutMs?: number;
  /** Time kept free before the Lambda's deadline, in ms. Defaults to `5000`. */
  readonly safetyMarginMs?: number;
  /** Time setSecret reserves for the CloudFront updates after the wait, in ms. Defaults to `20000`. */
  readonly cloudFrontBudgetMs?: number;
  /** Receives one JSON line per event (never a secret value). Defaults to `console.log`. */
  readonly log?: (line: string) => void;
  /** SDK clients to use instead of the default ones. Defaults to `{}`. */
  readonly clients?: RotationClients;
}

/** Options after validation. */
export interface ResolvedRotationOptions {
  readonly secretIds: readonly string[];
  readonly headerName: string;
  readonly jsonKey: string | undefined;
  readonly distributionIds: readonly string[];
  readonly originIds: readonly string[];
  readonly originDomainNames: readonly string[];
  readonly listenerArns: readonly string[];
  readonly ruleArns: readonly string[];
  readonly propagationWaitMs: number;
  readonly deployWaitMs: number;
  readonly pollIntervalMs: number;
  readonly maxUpdateAttempts: number;
  readonly secretLength: number;
  readonly alphabet: string;
  readonly testUrl: string | undefined;
  readonly testTimeoutMs: number;
  readonly safetyMarginMs: number;
  readonly cloudFrontBudgetMs: number;
  readonly log: (line: string) => void;
  readonly clients: RotationClients;
}

/** Every option key; the compiler keeps it in step with {@link RotationOptions}. */
const KNOWN_OPTIONS: Readonly<Record<keyof RotationOptions, true>> = {
  secretIds: true,
  headerName: true,
  jsonKey: true,
  distributionIds: true,
  originIds: true,
  originDomainNames: true,
  listenerArns: true,
  ruleArns: true,
  propagationWaitMs: true,
  deployWaitMs: true,
  pollIntervalMs: true,
  maxUpdateAttempts: true,
  secretLength: true,
  alphabet: true,
  testUrl: true,
  testTimeoutMs: true,
  safetyMarginMs: true,
  cloudFrontBudgetMs: true,
  log: true,
  clients: true,
};

const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const DISTRIBUTION_ID = /^[A-Z0-9]{1,64}$/;
/**
 * An ALB listener and listener-rule ARN, whole: checked here so that a truncated one fails when
 * the handler is created, not in setSecret after createSecret ran (outside review, 4 December).
 */
const LISTENER_ARN =
  /^arn:[a-z-]+:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener\/app\/[^/\s]+\/[0-9a-f]+\/[0-9a-f]+$/;
const RULE_ARN =
  /^arn:[a-z-]+:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener-rule\/app\/[^/\s]+\/[0-9a-f]+\/[0-9a-f]+\/[0-9a-f]+$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 80))}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}

function bounded(name: keyof typeof BOUNDS, value: unknown): number {
  const { min, max, unit } = BOUNDS[name];
  if (value === undefined) return DEFAULTS[name];
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw new InvalidOptionError(
      `rotation.${name}`,
      `is ${describe(value)}; expected a whole number from ${min} to ${max}${unit}.`,
    );
  return n;
}

function strings(
  name: string,
  value: unknown,
  check?: { test: (s: string) => boolean; expected: string },
): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw new InvalidOptionError(
      `rotation.${name}`,
      `is ${describe(value)}; expected an array of strings.`,
    );
  return Object.freeze(
    value.map((item: unknown, i) => {
      if (typeof item !== 'string' || item.trim() === '' || (check && !check.test(item.trim())))
        throw new InvalidOptionError(
          `rotation.${name}[${i}]`,
          `is ${describe(item)}; expected ${check?.expected ?? 'a non-empty string'}.`,
        );
      return item.trim();
    }),
  );
}

function resolveAlphabet(given: unknown, length: number): string {
  // The default is held to the same floor: base64url counts as 38 characters at the ALB.
  const value = given ?? BASE64URL_ALPHABET;
  if (typeof value !== 'string')
    throw new InvalidOptionError(
      'rotation.alphabet',
      `is ${describe(value)}; expected a string of characters.`,
    );
  const unique = [...new Set(value)];
  for (const ch of unique) {
    const code = ch.charCodeAt(0);
    if (ch.length !== 1 || code < 0x21 || code > 0x7e || FORBIDDEN_ALPHABET_CHARACTERS.includes(ch))
      throw new InvalidOptionError(
        'rotation.alphabet',
        `contains ${JSON.stringify(ch)}; use printable ASCII (0x21-0x7E) without ${FORBIDDEN_ALPHABET_CHARACTERS.split('').join(' or ')} (ALB wildcards).`,
      );
  }
  // ALB compares header values case-insensitively: at the ALB, `a` and `A` are one character.
  const folded = new Set(unique.map((ch) => ch.toLowerCase())).size;
  const bits = length * Math.log2(folded);
  if (folded < 2 || bits < 128)
    throw new InvalidOptionError(
      given === undefined ? 'rotation.secretLength' : 'rotation.alphabet',
      `gives ${Math.floor(bits)} bits with secretLength ${length}, counting upper and lower case as one character as ALB's case-insensitive header match does; ${given === undefined ? `use a secretLength of at least ${Math.ceil(128 / Math.log2(folded))} with the default base64url alphabet` : 'use more distinct characters or a longer secretLength'} (at least 128 bits).`,
    );
  return unique.join('');
}

function resolveClients(value: unknown): RotationClients {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(
      'rotation.clients',
      `is ${describe(value)}; expected { secretsManager?, cloudFront?, elbv2? }.`,
    );
  const clients = value as Record<string, unknown>;
  for (const [key, client] of Object.entries(clients)) {
    if (key !== 'secretsManager' && key !== 'cloudFront' && key !== 'elbv2')
      throw new InvalidOptionError(
        `rotation.clients.${key}`,
        'is not known; use secretsManager, cloudFront or elbv2.',
      );
    if (client !== undefined && typeof (client as { send?: unknown } | null)?.send !== 'function')
      throw new InvalidOptionError(
        `rotation.clients.${key}`,
        `is ${describe(client)}; expected an AWS SDK v3 client.`,
      );
  }
  return Object.freeze({ ...(clients as RotationClients) });
}

/**
 * Validate `options` once and resolve every default. Throws `InvalidOptionError`, naming the
 * environment variable when the option came from `rotationOptionsFromEnv`.
 */
export function resolveRotationOptions(
  options: Readonly<RotationOptions>,
): ResolvedRotationOptions {
  try {
    return resolveGiven(options);
  } catch (error) {
    throw namedByVariable(options, error);
  }
}

/**
 * `error` naming the environment variable its option was read from, if it was: the Lambda's
 * operator sets `CDN_ORIGIN_GUARD_ROTATION_LISTENER_ARNS`, not `rotation.listenerArns`.
 */
function namedByVariable(options: unknown, error: unknown): unknown {
  const fromEnv = (
    options as {
      [FROM_ENV_VARIABLES]?: Record<string, { variable: string; value: unknown }>;
    } | null
  )?.[FROM_ENV_VARIABLES];
  if (!(error instanceof InvalidOptionError) || fromEnv === undefined) return error;
  const key = /^rotation\.([A-Za-z]+)/.exec(error.option)?.[1];
  if (key === undefined) return error;
  const given = (options as Record<string, unknown>)[key];
  const read = fromEnv[key];
  // The variable the value came from (unless code replaced it); for a value not given at all,
  // the variable to set.
  const variable =
    read !== undefined && read.value === given
      ? read.variable
      : given === undefined
        ? (ROTATION_ENV_VARIABLES as Record<string, string>)[key]
        : undefined;
  if (variable === undefined) return error;
  const prefix = `@cdn-origin-guard: option \`${error.option}\` `;
  const body = error.message.startsWith(prefix)
    ? error.message.slice(prefix.length)
    : error.message;
  return new InvalidOptionError(
    variable,
    `${body.replace(/\.$/, '')} (option \`${error.option}\`).`,
    { cause: error },
  );
}

function resolveGiven(options: Readonly<RotationOptions>): ResolvedRotationOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidOptionError(
      'rotation',
      `is ${describe(options)}; expected an options object.`,
    );
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(KNOWN_OPTIONS, key))
      throw new InvalidOptionError(
        `rotation.${key}`,
        `is not a known option; known options are ${Object.keys(KNOWN_OPTIONS).join(', ')}.`,
      );
  }
  const o = options as Record<keyof RotationOptions, unknown>;

  const rawHeader = o.headerName ?? DEFAULTS.headerName;
  if (typeof rawHeader !== 'string' || !HEADER_TOKEN.test(rawHeader.trim().toLowerCase()))
    throw new InvalidOptionError(
      'rotation.headerName',
      `is ${describe(rawHeader)}; expected an HTTP header name such as "x-origin-verify".`,
    );
  const headerName = rawHeader.trim().toLowerCase();
  if (isReservedHeaderName(headerName))
    throw new InvalidOptionError(
      'rotation.headerName',
      `is "${headerName}", which CloudFront cannot add as an origin custom header, or which CloudFront or the ALB set themselves; use a custom header such as "x-origin-verify".`,
    );

  if (o.jsonKey !== undefined && (typeof o.jsonKey !== 'string' || o.jsonKey === ''))
    throw new InvalidOptionError(
      'rotation.jsonKey',
      `is ${describe(o.jsonKey)}; expected the JSON key holding the header value.`,
    );

  const distributionIds = strings('distributionIds', o.distributionIds, {
    test: (s) => DISTRIBUTION_ID.test(s),
    expected: 'a CloudFront distribution id such as "E2QWRUHEXAMPLE"',
  });
  const listenerArns = strings('listenerArns', o.listenerArns, {
    test: (s) => LISTENER_ARN.test(s),
    expected:
      'an Application Load Balancer listener ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener/app/<name>/<id>/<id>)',
  });
  const ruleArns = strings('ruleArns', o.ruleArns, {
    test: (s) => RULE_ARN.test(s),
    expected:
      'an Application Load Balancer listener rule ARN (arn:aws:elasticloadbalancing:<region>:<account>:listener-rule/app/<name>/<id>/<id>/<id>)',
  });
  const originIds = strings('originIds', o.originIds);
  const originDomainNames = strings('originDomainNames', o.originDomainNames).map((d) =>
    d.toLowerCase(),
  );
  if (distributionIds.length === 0 && listenerArns.length === 0 && ruleArns.length === 0)
    throw new InvalidOptionError(
      'rotation.distributionIds',
      'is empty and no listenerArns or ruleArns are given; the rotation would change nothing. Give the CloudFront distribution ids (and the ALB listener or rule ARNs).',
    );
  // The ALB rules without CloudFront: the second rotation would drop from the rules the value
  // CloudFront still sends (outside review, 3 December).
  if (distributionIds.length === 0)
    throw new InvalidOptionError(
      'rotation.distributionIds',
      'is empty while listenerArns or ruleArns are given; the ALB rules would move on while CloudFront kept sending the old value, and the second rotation would deny every request. Give the CloudFront distribution ids whose origins send the header.',
    );
  if (
    distributionIds.length > 0 &&
    originIds.length === 0 &&
    originDomainNames.length === 0 &&
    listenerArns.length === 0 &&
    ruleArns.length === 0
  )
    throw new InvalidOptionError(
      'rotation.originIds',
      'is empty, and so are originDomainNames, listenerArns and ruleArns; give one so the rotation knows which origins carry the header (it never guesses).',
    );

  const secretLength = bounded('secretLength', o.secretLength);
  let testUrl: string | undefined;
  if (o.testUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = typeof o.testUrl === 'string' ? new URL(o.testUrl) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:'))
      throw new InvalidOptionError(
        'rotation.testUrl',
        `is ${describe(o.testUrl)}; expected an http(s) URL served through CloudFront.`,
      );
    testUrl = url.href;
  }
  if (o.log !== undefined && typeof o.log !== 'function')
    throw new InvalidOptionError(
      'rotation.log',
      `is ${describe(o.log)}; expected a function (line: string) => void.`,
    );

  return Object.freeze({
    secretIds: strings('secretIds', o.secretIds),
    headerName,
    jsonKey: o.jsonKey as string | undefined,
    distributionIds,
    originIds,
    originDomainNames: Object.freeze(originDomainNames),
    listenerArns,
    ruleArns,
    propagationWaitMs: bounded('propagationWaitMs', o.propagationWaitMs),
    deployWaitMs: bounded('deployWaitMs', o.deployWaitMs),
    pollIntervalMs: bounded('pollIntervalMs', o.pollIntervalMs),
    maxUpdateAttempts: bounded('maxUpdateAttempts', o.maxUpdateAttempts),
    secretLength,
    alphabet: resolveAlphabet(o.alphabet, secretLength),
    testUrl,
    testTimeoutMs: bounded('testTimeoutMs', o.testTimeoutMs),
    safetyMarginMs: bounded('safetyMarginMs', o.safetyMarginMs),
    cloudFrontBudgetMs: bounded('cloudFrontBudgetMs', o.cloudFrontBudgetMs),
    log: (o.log as ((line: string) => void) | undefined) ?? ((line: string) => console.log(line)),
    clients: resolveClients(o.clients),
  });
}
