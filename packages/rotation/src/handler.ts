/**
 * `createRotationHandler`: the Secrets Manager rotation function. Every step runs a preflight,
 * then does its part; each is idempotent and logs JSON lines without any value.
 * The order is the point: ALB rules accept the new value, the apps get time to load it, and
 * only then does CloudFront send it; `AWSCURRENT` moves once every distribution is deployed.
 * @module
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  checkOtherListeners,
  findHeaderRules,
  type HeaderRule,
  holdsOneOf,
  loadBalancerDomainNames,
  setHeaderValues,
} from './aws/alb.js';
import {
  checkHeaderUpdate,
  distributionState,
  type OriginHeaders,
  type OriginSelector,
  putHeaderValue,
  unlistedSenders,
} from './aws/cloudfront.js';
import {
  describeSecret,
  type KnownValues,
  listVersions,
  promoteToCurrent,
  putPendingSecret,
  readSecretString,
} from './aws/secrets.js';
import { type RotationContext, sleep, timeLeft } from './budget.js';
import {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  MAX_FORMER_VERSIONS_READ,
  ROTATION_STEPS,
} from './constants.js';
import { RotationError, redacted } from './errors.js';
import { generateSecretValue, headerValueOf, withHeaderValue } from './generate.js';
import { type EventFields, writeLog } from './log.js';
import {
  type ResolvedRotationOptions,
  type RotationOptions,
  resolveRotationOptions,
} from './options.js';

/** One of the four steps Secrets Manager invokes. */
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** The event Secrets Manager sends a rotation function. */
export interface RotationEvent {
  readonly Step: RotationStep | (string & {});
  /** The secret's ARN. */
  readonly SecretId: string;
  /** The version id of the new (`AWSPENDING`) version. */
  readonly ClientRequestToken: string;
  /**
   * Sent by Secrets Manager: passed on with `PutSecretValue`, where AWS requires it of a function
   * calling through an assumed role (cross-account rotation). Sensitive: never logged.
   */
  readonly RotationToken?: string;
}

/** The Lambda handler returned by {@link createRotationHandler}. */
export type RotationHandler = (event: RotationEvent, context: RotationContext) => Promise<void>;

interface Clients {
  readonly secretsManager: SecretsManagerClient;
  readonly cloudFront: CloudFrontClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
}

/** Everything one step invocation works with. */
interface Run {
  readonly o: ResolvedRotationOptions;
  readonly clients: Clients;
  readonly arn: string;
  readonly token: string;
  /** The event's `RotationToken`, when it has one (sensitive: never logged). */
  readonly rotationToken: string | undefined;
  readonly versions: Readonly<Record<string, readonly string[]>>;
  readonly context: RotationContext;
  /** Values read or made in this invocation, redacted from any AWS error message. */
  readonly known: KnownValues;
  readonly log: (fields: EventFields) => void;
}

const STEPS: ReadonlySet<string> = new Set(ROTATION_STEPS);

/** How a field of the event is wrong, or `undefined` when it is a non-empty string. */
function fieldProblem(value: unknown): string | undefined {
  if (value === undefined || value === null) return 'is missing';
  if (typeof value !== 'string')
    return `is a ${Array.isArray(value) ? 'array' : typeof value}, not a string`;
  return value === '' ? 'is empty' : undefined;
}

/** What is wrong with the event, one phrase per field (none when it can be run). */
function eventProblems(event: Partial<RotationEvent> | undefined): string[] {
  if (typeof event !== 'object' || event === null)
    return [`the event is ${event === null ? 'null' : typeof event}`];
  const problems: string[] = [];
  const stepProblem = fieldProblem(event.Step);
  if (stepProblem !== undefined) problems.push(`Step ${stepProblem}`);
  else if (!STEPS.has(event.Step as string))
    problems.push(
      `Step is ${JSON.stringify(String(event.Step).slice(0, 40))}, not a rotation step`,
    );
  for (const field of ['SecretId', 'ClientRequestToken'] as const) {
    const problem = fieldProblem(event[field]);
    if (problem !== undefined) problems.push(`${field} ${problem}`);
  }
  return problems;
}

/**
 * Create the rotation function. Options are validated here, once; SDK clients are created on
 * first use and kept for the container's life (or injected through `clients`).
 * @example
 * ```ts
 * import { createRotationHandler } from '@cdn-origin-guard/rotation';
 * export const handler = createRotationHandler({
 *   distributionIds: ['E2QWRUHEXAMPLE'],
 *   listenerArns: [process.env.LISTENER_ARN!],
 * });
 * ```
 */
export function createRotationHandler(options: Readonly<RotationOptions>): RotationHandler {
  const o = resolveRotationOptions(options);
  let clients: Clients | undefined;
  const getClients = (): Clients => {
    clients ??= {
      secretsManager: o.clients.secretsManager ?? new SecretsManagerClient({}),
      cloudFront: o.clients.cloudFront ?? new CloudFrontClient({}),
      elbv2: o.clients.elbv2 ?? new ElasticLoadBalancingV2Client({}),
    };
    return clients;
  };

  return async function cdnOriginGuardRotation(event, context) {
    const started = Date.now();
    const step = typeof event?.Step === 'string' ? event.Step : '(missing)';
    let secretArn = typeof event?.SecretId === 'string' ? event.SecretId : undefined;
    const token =
      typeof event?.ClientRequestToken === 'string' ? event.ClientRequestToken : undefined;
    const known: KnownValues = [];
    const rotationToken =
      typeof event?.RotationToken === 'string' && event.RotationToken !== ''
        ? event.RotationToken
        : undefined;
    // Redacted like the values: it never reaches a log line or an error message.
    if (rotationToken !== undefined) known.push(rotationToken);
    const log = (fields: EventFields): void =>
      writeLog(o.log, { step, secretArn, versionId: token, ...fields });
    try {
      if (
        !STEPS.has(step) ||
        secretArn === undefined ||
        secretArn === '' ||
        token === undefined ||
        token === ''
      )
        throw new RotationError(
          'bad-event',
          `${eventProblems(event).join('; ')}: expected { Step: ${ROTATION_STEPS.join(' | ')}, SecretId, ClientRequestToken } (the event Secrets Manager sends).`,
        );
      if (typeof context?.getRemainingTimeInMillis !== 'function')
        throw new RotationError(
          'bad-event',
          'the Lambda context has no getRemainingTimeInMillis().',
        );
      log({ event: 'start' });
      const c = getClients();
      const described = await describeSecret(c.secretsManager, secretArn);
      secretArn = described.ARN ?? secretArn;
      // Only the secrets this function is for (`secretIds`), before anything else is read.
      if (
        o.secretIds.length > 0 &&
        !o.secretIds.some((id) => id === described.ARN || id === described.Name)
      )
        throw new RotationError(
          'unexpected-secret',
          `secret ${secretArn} is not one of this function's secretIds (${o.secretIds.join(', ')}); nothing was changed. Point only those secrets' rotation at this function, or add this one to secretIds.`,
        );
      const versions = described.VersionIdsToStages ?? {};
      // Preflight: rotation on, the token is a version, and it is AWSPENDING (or already done).
      if (described.RotationEnabled !== true)
        throw new RotationError(
          'rotation-disabled',
          `secret ${secretArn} does not have rotation enabled.`,
        );
      // An own property only: a token such as `__proto__` or `toString` is no version.
      const stages = Object.hasOwn(versions, token) ? versions[token] : undefined;
      if (!Array.isArray(stages))
        throw new RotationError(
          'unknown-version',
          `secret ${secretArn} has no version ${token}; it cannot be rotated to.`,
        );
      if (stages.includes(AWSCURRENT)) {
        log({ event: 'already-current', durationMs: Date.now() - started });
        return;
      }
      if (!stages.includes(AWSPENDING))
        throw new RotationError(
          'not-pending',
          `version ${token} of secret ${secretArn} is not AWSPENDING (its stages: ${stages.join(', ') || 'none'}).`,
        );
      const run: Run = {
        o,
        clients: c,
        arn: secretArn,
        token,
        rotationToken,
        versions,
        context,
        known,
        log,
      };
      await STEP_RUNNERS[step as RotationStep](run);
      log({ event: 'done', durationMs: Date.now() - started });
    } catch (error) {
      const failure =
        error instanceof RotationError
          ? error
          : new RotationError(
              'internal-error',
              `step ${step} failed unexpectedly: ${(error as Error)?.name ?? 'Error'}: ${redacted(error, known)}`,
            );
      log({
        level: 'error',
        event: 'failed',
        failure: failure.failure,
        awsCode: failure.awsCode,
        message: failure.message,
        durationMs: Date.now() - started,
      });
      throw failure;
    }
  };
}

const STEP_RUNNERS: Readonly<Record<RotationStep, (run: Run) => Promise<void>>> = {
  createSecret,
  setSecret,
  testSecret,
  finishSecret,
};

/** createSecret: store a new random value as AWSPENDING under the token, unless it is there. */
async function createSecret(run: Run): Promise<void> {
  const { clients, arn, token, rotationToken, known, o } = run;
  const existing = await readSecretString(
    clients.secretsManager,
    arn,
    { versionId: token, stage: AWSPENDING },
    known,
  );
  if (existing !== undefined) {
    run.log({ event: 'pending-exists' });
    return;
  }
  const current = await readSecretString(clients.secretsManager, arn, { stage: AWSCURRENT }, known);
  if (current === undefined)
    throw new RotationError('bad-secret', `secret ${arn} has no AWSCURRENT value to rotate from.`);
  const value = generateSecretValue(o.secretLength, o.alphabet);
  known.push(value);
  const secretString = withHeaderValue(current, value, o.jsonKey, `AWSCURRENT of ${arn}`);
  await putPendingSecret(clients.secretsManager, arn, token, secretString, known, rotationToken);
  run.log({ event: 'pending-created', length: value.length, jsonKey: o.jsonKey });
}

/** The header values of AWSCURRENT and of the pending version. */
async function headerValues(run: Run): Promise<{ current: string; pending: string }> {
  const { clients, arn, token, known, o } = run;
  const [currentString, pendingString] = await Promise.all([
    readSecretString(clients.secretsManager, arn, { stage: AWSCURRENT }, known),
    readSecretString(clients.secretsManager, arn, { versionId: token, stage: AWSPENDING }, known),
  ]);
  if (currentString === undefined)
    throw new RotationError('bad-secret', `secret ${arn} has no AWSCURRENT value.`);
  if (pendingString === undefined)
    throw new RotationError(
      'bad-secret',
      `version ${token} of ${arn} has no value yet; createSecret must run first.`,
    );
  const current = headerValueOf(currentString, o.jsonKey, `AWSCURRENT of ${arn}`);
  const pending = headerValueOf(pendingString, o.jsonKey, `version ${token} of ${arn}`);
  known.push(current, pending);
  return { current, pending };
}

/** Which origins carry the header: the ids/domains given, else the ALBs' DNS names. */
async function originSelector(run: Run): Promise<OriginSelector> {
  const { o } = run;
  const explicit = o.originIds.length > 0 || o.originDomainNames.length > 0;
  const domainNames = explicit
    ? o.originDomainNames
    : await loadBalancerDomainNames(run.clients.elbv2, [...o.listenerArns, ...o.ruleArns]);
  return { headerName: o.headerName, originIds: o.originIds, domainNames };
}

/** The header value of AWSPREVIOUS, or `undefined` when there is none (or it is not usable). */
async function previousHeaderValue(run: Run): Promise<string | undefined> {
  const { clients, arn, known, o } = run;
  const previous = await readSecretString(
    clients.secretsManager,
    arn,
    { stage: AWSPREVIOUS },
    known,
  );
  if (previous === undefined) return undefined;
  try {
    const value = headerValueOf(previous, o.jsonKey, `AWSPREVIOUS of ${arn}`);
    known.push(value);
    return value;
  } catch (error) {
    if (error instanceof RotationError) return undefined;
    throw error;
  }
}

/**
 * Which of `values` (in a rule of ours, but not AWSCURRENT, AWSPREVIOUS or the pending value)
 * are older values of this secret, in no staging label any more: e.g. the value of an abandoned
 * rotation, whose AWSPENDING was removed. Reads the older versions newest first, at most
 * {@link MAX_FORMER_VERSIONS_READ}, and stops once every value is told apart; the others are
 * taken for another site's (sharing the rule).
 */
async function formerValuesAmong(run: Run, values: readonly string[]): Promise<string[]> {
  const { clients, arn, token, known, o } = run;
  // Only versions with no staging label at all: one holding a label of its own (a value pinned
  // for another consumer, which the apps may accept with `secretStages`) is not a former value
  // (review, 4 December, fifth session: it was dropped from the rule).
  const older = (await listVersions(clients.secretsManager, arn))
    .filter((v) => v.id !== token && v.stages.length === 0)
    .sort((a, b) => b.created - a.created)
    .slice(0, MAX_FORMER_VERSIONS_READ);
  const left = new Set(values);
  const former: string[] = [];
  for (const version of older) {
    if (left.size === 0) break;
    const secretString = await readSecretString(
      clients.secretsManager,
      arn,
      { versionId: version.id },
      known,
    );
    if (secretString === undefined) continue;
    let value: string;
    try {
      value = headerValueOf(secretString, o.jsonKey, `version ${version.id} of ${arn}`);
    } catch (error) {
      if (error instanceof RotationError) continue; // not usable: no value of a rule
      throw error;
    }
    known.push(value);
    if (left.delete(value)) former.push(value);
  }
  return former;
}

/**
 * The ALB rules to keep in step: `ruleArns`, and the rules of `listenerArns` holding one of
 * this secret's values (`current`, `pending`, AWSPREVIOUS); other rules on the header (another
 * site's, on a shared listener) are left alone and logged by ARN. Values of our rules that are
 * older values of this secret are found (and dropped by the next change); those of another site
 * sharing a rule are kept.
 */
async function albRules(
  run: Run,
  values: { current: string; pending: string },
  { otherListeners = false }: { otherListeners?: boolean } = {},
): Promise<HeaderRule[]> {
  const { o } = run;
  if (o.listenerArns.length === 0 && o.ruleArns.length === 0) return [];
  // AWSPREVIOUS is this secret's own value for `ruleArns` too: taken for another site's, it was
  // kept in the rule on every rotation, so the ALB went on forwarding a value two rotations
  // old, and the third rotation hit the rule's condition limit (outside review, 4 December).
  const previous = await previousHeaderValue(run);
  const ownValues = [values.current, values.pending];
  if (previous !== undefined) ownValues.push(previous);
  // An older value of this secret in no accepted label (an abandoned rotation's) was kept as
  // another site's for good, and a second one made every rotation fail with condition-limit
  // (outside review, 4 December, fourth session).
  const { rules, otherRuleArns } = await findHeaderRules(run.clients.elbv2, {
    ...o,
    ownValues,
    formerValuesAmong: (unknown) => formerValuesAmong(run, unknown),
  });
  // setSecret, before any change: no listener of the same ALBs may be left out of the rotation.
  // AWSPREVIOUS aside: a rule accepting only that already refuses what CloudFront sends, and the
  // rotation cannot make it worse (review, 4 December, seventh session: it was refused).
  if (otherListeners) await checkOtherListeners(run.clients.elbv2, { ...o, ...values });
  if (otherRuleArns.length > 0) run.log({ event: 'alb-rules-left-alone', ruleArns: otherRuleArns });
  const withFormer = rules.filter((r) => r.formerValues.length > 0);
  if (withFormer.length > 0)
    run.log({
      event: 'alb-former-values-found',
      ruleArns: withFormer.map((r) => r.arn),
      count: new Set(withFormer.flatMap((r) => r.formerValues)).size,
    });
  return rules;
}

/**
 * No origin left out of the selection may send one of this secret's values: a rotation would
 * leave it on a value the ALB rules stop accepting (outside review, 3 December).
 */
function checkUnselected(id: string, headers: OriginHeaders, own: readonly string[]): void {
  const strays = headers.unselected.filter((o) => own.includes(o.value)).map((o) => o.id);
  if (strays.length > 0)
    throw new RotationError(
      'unselected-origin',
      `distribution ${id}: origin(s) ${strays.join(', ')} send this secret's value but are not selected (their domain is not the ALB's DNS name, e.g. a custom origin domain), so a rotation would leave them on a value the ALB stops accepting. Nothing was changed. Add them to originIds (or their domains to originDomainNames) and retry.`,
    );
}

/**
 * Before setSecret changes anything: each selected origin of the stored configuration sends
 * AWSCURRENT, the pending value or no header yet. Any other value (AWSPREVIOUS, or the value of
 * an abandoned rotation whose AWSPENDING was removed) would be dropped from the ALB rules while
 * CloudFront still sends it. Returns whether every selected origin already sends the pending
 * value (this rotation's update is done); otherwise the caller also requires `Deployed`, since
 * edges send the stored configuration only once it is deployed.
 */
function checkInStep(
  id: string,
  headers: OriginHeaders,
  values: { current: string; pending: string },
): boolean {
  const astray = headers.selected
    .filter(
      (o) => o.value !== undefined && o.value !== values.current && o.value !== values.pending,
    )
    .map((o) => o.id);
  if (astray.length > 0)
    throw new RotationError(
      'cloudfront-out-of-step',
      `distribution ${id}: origin(s) ${astray.join(', ')} send a value that is neither AWSCURRENT nor this rotation's pending value (AWSPREVIOUS, a hand-set value, or the value of an abandoned rotation), which this step would drop from the ALB rules. Nothing was changed. Put those origins back on AWSCURRENT (the apps accept it), wait for the distribution to deploy, then retry.`,
    );
  return headers.selected.every((o) => o.value === values.pending);
}

/** setSecret: ALB rules accept both values, the apps get time to load AWSPENDING, then CloudFront sends it. */
async function setSecret(run: Run): Promise<void> {
  const { clients, o, known, context } = run;
  const { current, pending } = await headerValues(run);
  const selector = o.distributionIds.length > 0 ? await originSelector(run) : undefined;
  let cloudFrontDone = true;
  if (selector !== undefined) {
    const previous = await previousHeaderValue(run);
    const own = previous === undefined ? [current, pending] : [current, pending, previous];
    // Every distribution is read and checked before anything changes.
    const deploying: string[] = [];
    const toUpdate: string[] = [];
    for (const id of o.distributionIds) {
      const state = await distributionState(clients.cloudFront, id, selector, known);
      checkUnselected(id, state, own);
      if (checkInStep(id, state, { current, pending })) continue;
      cloudFrontDone = false;
      toUpdate.push(id);
      // Its stored configuration is not what the edges send until it is deployed. Only this
      // rotation's own update (a retried setSecret) may still be deploying.
      if (state.status !== 'Deployed') deploying.push(`${id} is ${state.status}`);
    }
    // A distribution not in distributionIds that sends this secret (to the ALB, by its DNS name
    // or a CNAME of it) would stay on the old value: accepted as AWSPREVIOUS after this rotation,
    // refused after the next (outside review, 8th session: both rotations reported success).
    const unlisted = await unlistedSenders(
      clients.cloudFront,
      o.distributionIds,
      o.headerName,
      own,
      known,
    );
    if (unlisted.length > 0)
      throw new RotationError(
        'unlisted-distribution',
        `distribution(s) ${unlisted.join(', ')} send one of this secret's values (from an origin of any domain: the ALB's DNS name or a name pointing at it) but are not in distributionIds: the rotation would leave them on a value the ALB stops accepting at the next rotation. Nothing was changed. Add them to distributionIds (CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS), or remove the header from them.`,
      );
    if (deploying.length > 0)
      throw new RotationError(
        'not-deployed',
        `distribution(s) of distributionIds not Deployed: ${deploying.join(', ')}. A change is still deploying, so edges may still send a value from before it (e.g. AWSPREVIOUS) that this step would drop from the ALB rules. Nothing was changed. Let the distribution deploy; Secrets Manager retries the step, which goes on once it is Deployed.`,
      );
    // Each update is built (not sent) and must write back every element AWS returned: one this
    // function's SDK does not know would be removed (unmodelled-config), refused here before any
    // rule is widened (review, 5 December: a newer CloudFront setting was dropped by every
    // rotation run on an older Lambda runtime SDK).
    for (const id of toUpdate)
      await checkHeaderUpdate(clients.cloudFront, id, pending, selector, known);
  }
  const waitMs = cloudFrontDone ? 0 : o.propagationWaitMs;
  const neededMs = waitMs + (cloudFrontDone ? 0 : o.cloudFrontBudgetMs);
  const leftMs = timeLeft(context, o.safetyMarginMs);
  if (neededMs > leftMs)
    throw new RotationError(
      'wait-too-long',
      `setSecret must wait ${waitMs} ms for the apps to load the new value (propagationWaitMs) and keep ${o.cloudFrontBudgetMs} ms for CloudFront (cloudFrontBudgetMs), but the Lambda has ${Math.max(0, leftMs)} ms left after a ${o.safetyMarginMs} ms safety margin. Raise the function's timeout to at least ${Math.ceil((neededMs + o.safetyMarginMs) / 1000) + 10} s, or lower propagationWaitMs (0 if your apps rely on refresh-on-mismatch). Nothing was changed on CloudFront.`,
    );

  const rules = await albRules(run, { current, pending }, { otherListeners: true });
  const ruleStarted = Date.now();
  const modified = await setHeaderValues(clients.elbv2, rules, [current, pending], known);
  run.log({
    event: modified.length > 0 ? 'alb-rules-widened' : 'alb-rules-in-step',
    ruleArns: rules.map((r) => r.arn),
    modifiedRuleArns: modified,
    durationMs: Date.now() - ruleStarted,
  });

  if (cloudFrontDone) {
    run.log({ event: 'cloudfront-already-updated', distributionIds: o.distributionIds });
    return;
  }
  run.log({ event: 'waiting-for-apps', waitMs });
  await sleep(waitMs);
  // The rules again, right before CloudFront sends the pending value: one changed during the
  // wait (an IaC re-apply) would refuse it (outside review, 4 December, fourth session).
  // Other listeners too: one added during the wait (a deploy) that accepts only AWSCURRENT would
  // refuse what CloudFront is about to send (outside review, 8th session).
  await rewiden(run, await albRules(run, { current, pending }, { otherListeners: true }), [
    current,
    pending,
  ]);
  for (const id of o.distributionIds) {
    const updateStarted = Date.now();
    const outcome = await putHeaderValue(
      clients.cloudFront,
      id,
      pending,
      selector as OriginSelector,
      o.maxUpdateAttempts,
      known,
    );
    run.log({
      event: outcome.updated ? 'distribution-updated' : 'distribution-already-updated',
      distributionIds: [id],
      originIds: outcome.originIds,
      attempts: outcome.attempts,
      durationMs: Date.now() - updateStarted,
    });
  }
}

/**
 * Every distribution sends the pending value on all its selected origins (else `not-updated`:
 * setSecret has not completed) and is `Deployed`, polling until `deployWaitMs` or the time left
 * runs out (else `not-deployed`). What testSecret checks, and finishSecret again before
 * AWSCURRENT moves.
 */
async function awaitDistributionsOnPending(
  run: Run,
  step: RotationStep,
  values: { current: string; pending: string },
  order: readonly [string, string],
): Promise<void> {
  const { clients, o, known, context } = run;
  const { current, pending } = values;
  if (o.distributionIds.length === 0) {
    await rulesAcceptPending(run, values, order);
    return;
  }
  const selector = await originSelector(run);
  const previous = await previousHeaderValue(run);
  const own = previous === undefined ? [current, pending] : [current, pending, previous];
  const deadline = Date.now() + Math.min(o.deployWaitMs, timeLeft(context, o.safetyMarginMs));
  for (;;) {
    // Every distribution on every pass: one found Deployed earlier may have been changed since
    // (outside review, 8th session: it was read once, and AWSCURRENT moved while it sent the
    // old value).
    const still: string[] = [];
    for (const id of o.distributionIds) {
      const state = await distributionState(clients.cloudFront, id, selector, known);
      checkUnselected(id, state, own);
      if (!state.selected.every((origin) => origin.value === pending))
        throw new RotationError(
          'not-updated',
          `distribution ${id} does not send the pending value to all its matching origins; setSecret has not completed (AWSCURRENT is unchanged). Secrets Manager's retry of the rotation runs setSecret again.`,
        );
      if (state.status !== 'Deployed') still.push(id);
    }
    // CloudFront sends (or deploys) the pending value: the rules must forward it on every pass,
    // before anything waits. One narrowed while CloudFront deploys (an IaC re-apply) refused the
    // edges already on the pending value for the whole deployment (outside review, 8th session).
    await rulesAcceptPending(run, values, order);
    if (still.length === 0) break;
    if (Date.now() + o.pollIntervalMs > deadline)
      throw new RotationError(
        'not-deployed',
        `distribution(s) ${still.join(', ')} still InProgress; failing ${step} so Secrets Manager retries it later (AWSCURRENT is unchanged, both values stay accepted).`,
      );
    await sleep(o.pollIntervalMs);
  }
  run.log({ event: 'distributions-deployed', distributionIds: o.distributionIds });
}

/**
 * Give `rules` `[AWSCURRENT, AWSPENDING]` again where something (an IaC re-apply) changed them
 * since setSecret widened them, logged as a `warn` naming the rules modified.
 */
async function rewiden(
  run: Run,
  rules: readonly HeaderRule[],
  values: readonly [string, string],
): Promise<void> {
  const modified = await setHeaderValues(run.clients.elbv2, rules, [...values], run.known);
  if (modified.length > 0)
    run.log({
      level: 'warn',
      event: 'alb-rules-rewidened',
      ruleArns: rules.map((r) => r.arn),
      modifiedRuleArns: modified,
    });
}

/**
 * Every rule accepting the pending value, which CloudFront sends (or is deploying) once setSecret
 * ran: a rule changed since (an IaC re-apply) is put back to `[AWSCURRENT, AWSPENDING]` and said
 * loudly; another listener of the same ALBs accepting only AWSCURRENT fails the step
 * (`unselected-listener`), as in setSecret. Failing the step instead of repairing left the rule
 * refusing every request until Secrets Manager's retry (review, 4 December, fifth session), and
 * waiting for `Deployed` first left it so for the whole deployment (outside review, 8th
 * session).
 */
async function rulesAcceptPending(
  run: Run,
  values: { readonly current: string; readonly pending: string },
  order: readonly [string, string],
): Promise<void> {
  const rules = await albRules(run, values, { otherListeners: true });
  await rewiden(
    run,
    rules.filter((r) => !holdsOneOf(r, [values.pending])),
    order,
  );
}

/**
 * testSecret: every ALB rule accepting the new value (a rule that no longer does is put back),
 * every distribution deployed with it (else fail, to be retried), then the optional test URL.
 */
async function testSecret(run: Run): Promise<void> {
  const { o } = run;
  const values = await headerValues(run);
  await awaitDistributionsOnPending(run, 'testSecret', values, [values.current, values.pending]);
  if (o.testUrl !== undefined) {
    let status: number;
    try {
      const response = await fetch(o.testUrl, {
        signal: AbortSignal.timeout(o.testTimeoutMs),
        redirect: 'manual',
      });
      status = response.status;
      await response.body?.cancel();
    } catch (error) {
      throw new RotationError(
        'test-request-failed',
        `the test request to ${o.testUrl} failed: ${(error as Error).name}.`,
      );
    }
    if (status < 200 || status > 299)
      throw new RotationError(
        'test-request-failed',
        `the test request to ${o.testUrl} answered ${status}; expected 2xx.`,
      );
    run.log({ event: 'test-request-ok', status });
  }
}

/**
 * finishSecret: once every distribution sends the pending value and is deployed (what
 * testSecret checked; else `not-updated` or `not-deployed`, nothing changed), the ALB rules accept [pending, current] (what they accept since setSecret; this
 * repairs a rule changed since then), then AWSCURRENT moves to the token, after which those are
 * [AWSCURRENT, AWSPREVIOUS]. In that order, a failure of either call leaves a step that Secrets
 * Manager's retry completes: once AWSCURRENT has moved, a retry ends as already-current and
 * would not come back to the rules (outside review, 4 December).
 */
async function finishSecret(run: Run): Promise<void> {
  const { clients, arn, token, versions, known } = run;
  const { current, pending } = await headerValues(run);
  // Only once CloudFront sends the pending value everywhere: promoted earlier, the value it
  // still sends would become AWSPREVIOUS (outside review, 4 December, fourth session).
  await awaitDistributionsOnPending(run, 'finishSecret', { current, pending }, [pending, current]);
  const currentVersionId = Object.entries(versions).find(([, stages]) =>
    stages.includes(AWSCURRENT),
  )?.[0];
  // The rules first: a rule problem fails the step while it can still be retried, not after
  // AWSCURRENT has moved (a retry would then end as already-current).
  const rules = await albRules(run, { current, pending });
  const modified = await setHeaderValues(clients.elbv2, rules, [pending, current], known);
  run.log({
    event: modified.length > 0 ? 'alb-rules-narrowed' : 'alb-rules-in-step',
    ruleArns: rules.map((r) => r.arn),
    modifiedRuleArns: modified,
  });
  await promoteToCurrent(clients.secretsManager, arn, token, currentVersionId, known);
  run.log({ event: 'promoted', previousVersionId: currentVersionId });
}
