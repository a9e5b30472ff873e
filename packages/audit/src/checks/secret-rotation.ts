/**
 * Secret: rotation enabled on a schedule of at most 90 days, by an attached function, and recent.
 * @module
 */
import { DEFAULTS, STAGES } from '../constants.js';
import type {
  AccountSnapshot,
  CheckResult,
  Finding,
  PendingRotation,
  SecretDescription,
  Skip,
} from '../types.js';
import { cronGapDays } from './cron.js';
import { ownOrigins } from './distribution.js';
import { type Check, firstSkip, partly, pass, result, skipped, warn } from './result.js';

const check = { id: 'secret-rotation', title: 'Secret rotation' } as const;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Days between rotations from `AutomaticallyAfterDays` or a `rate(...)` expression, or the
 * longest gap of a `cron(...)` one over the next three years; `undefined` when it cannot be sized.
 */
export function scheduleDays(secret: SecretDescription, now = Date.now()): number | undefined {
  if (secret.automaticallyAfterDays !== undefined) return secret.automaticallyAfterDays;
  const expression = secret.scheduleExpression ?? '';
  if (expression.startsWith('cron(')) return cronGapDays(expression, new Date(now));
  const m = /^rate\((\d+) (day|days|hour|hours)\)$/.exec(expression);
  if (m === null) return undefined;
  return m[2]?.startsWith('hour') ? Number(m[1]) / 24 : Number(m[1]);
}

/** "5 hours", "3 days": how long ago, for a message. */
function ago(ms: number): string {
  const hours = Math.floor(ms / HOUR_MS);
  if (hours < 48) return `${hours} hour${hours === 1 ? '' : 's'}`;
  return `${Math.floor(ms / DAY_MS)} days`;
}

/** What a rotation in flight adds to the check: a finding, or why its age could not be read. */
type PendingOutcome = { readonly finding: Finding } | { readonly unread: Skip };

/** Which of the distributions read send the pending value to the ALB. */
interface PendingSenders {
  /** The distributions read (with `--distribution`, only those named). */
  readonly read: readonly string[];
  /** Those of them whose own origins (at the ALB, or sending a value of the secret) send the pending value. */
  readonly sending: readonly string[];
}

/**
 * What the pending version holds (GetSecretValue for `AWSPENDING`): a value the guard accepts, a
 * value it refuses (`secret-values` says why), or none; `undefined` when the values could not be
 * read. RotateSecret labels the version before its createSecret step stores a value, so a
 * rotation that failed there has none. Until the thirteenth session a refused value (a binary
 * version) was called "no value".
 */
function pendingValue(snapshot: AccountSnapshot): 'accepted' | 'refused' | 'none' | undefined {
  if (!snapshot.secret.ok) return undefined;
  const { values, refused } = snapshot.secret.value;
  if (values.has(STAGES.pending)) return 'accepted';
  return refused.has(STAGES.pending) ? 'refused' : 'none';
}

/**
 * Which distributions send the pending value: `undefined` when that cannot be told (the values
 * or the distributions unread, none found, or the version has no value).
 */
function sendingPending(snapshot: AccountSnapshot): PendingSenders | undefined {
  const { secret, distributions, headerName } = snapshot;
  if (!secret.ok || !distributions.ok || distributions.value.length === 0) return undefined;
  const pending = secret.value.values.get(STAGES.pending);
  if (pending === undefined) return undefined;
  // Another site's distributions (found by the header name alone) are not this site's to name.
  const read = distributions.value.filter(
    (d) => d.listed !== true || ownOrigins(snapshot, d).length > 0,
  );
  if (read.length === 0) return undefined;
  const sending = read
    .filter((d) =>
      ownOrigins(snapshot, d).some((o) => o.headers.get(headerName)?.equals(pending) === true),
    )
    .map((d) => d.id);
  return { read: read.map((d) => d.id), sending };
}

const LOGS = `Read the rotation function's logs (CloudWatch Logs, /aws/lambda/<function>) and fix the cause; RotateSecret refuses to start while AWSPENDING is on a version other than AWSCURRENT, so end this rotation by hand`;

/** The commands that give a rotation up: remove the label, then start a new rotation. */
function giveUpCommands(s: SecretDescription, pending: PendingRotation): string {
  return `aws secretsmanager update-secret-version-stage --secret-id ${s.name} --version-stage AWSPENDING --remove-from-version-id ${pending.versionId}, then aws secretsmanager rotate-secret --secret-id ${s.name}`;
}

/**
 * How to end a stuck rotation whose version may have a value. Giving it up while CloudFront
 * already sends the pending value (a failure after setSecret switched it) would cut CloudFront
 * off once the apps drop the value, so the fix depends on what the distributions send.
 */
function stuckRotationFix(
  s: SecretDescription,
  pending: PendingRotation,
  senders: PendingSenders | undefined,
): string {
  const finish = `finish it as finishSecret would: aws secretsmanager update-secret-version-stage --secret-id ${s.name} --version-stage AWSCURRENT --move-to-version-id ${pending.versionId} --remove-from-version-id ${pending.currentVersionId ?? '<the AWSCURRENT version>'}`;
  const giveUp = `give it up: ${giveUpCommands(s, pending)} (the next rotation takes the abandoned value out of the ALB rules)`;
  if (senders === undefined)
    return `${LOGS}. If CloudFront already sends the pending value (cloudfront-distribution names it AWSPENDING), ${finish}; giving it up would cut CloudFront off. Otherwise ${giveUp}`;
  if (senders.sending.length > 0)
    return `${LOGS}. CloudFront already sends the pending value (${senders.sending.join(', ')}), so ${finish}; do not remove AWSPENDING, which would cut CloudFront off once the apps drop the value`;
  return `${LOGS}. No distribution read (${senders.read.join(', ')}) sends the pending value; if no other distribution sends it to this ALB either, ${giveUp}`;
}

/**
 * `AWSPENDING` on the `AWSPREVIOUS` version: a rotation finished (leaving `AWSPENDING` with
 * `AWSCURRENT`, as AWS's templates do), then `AWSCURRENT` was moved back. Nothing failed, but
 * RotateSecret refuses to start until the label goes, whatever its age; removing it is safe,
 * as the value stays accepted as `AWSPREVIOUS`.
 */
function rolledBackFinding(
  snapshot: AccountSnapshot,
  s: SecretDescription,
  pending: PendingRotation,
): Finding {
  const created = pending.created.ok ? pending.created.value : undefined;
  const sending = sendingPending(snapshot)?.sending ?? [];
  const cloudFront =
    sending.length > 0
      ? `. CloudFront still sends that value (${sending.join(', ')}): point the origins' header back at AWSCURRENT before the next rotation, whose setSecret step refuses to change anything while an origin sends neither AWSCURRENT nor the new value`
      : '';
  return warn(
    `${s.name} has AWSPENDING on version ${pending.versionId}, which is AWSPREVIOUS too (AWSCURRENT was moved back after a rotation): RotateSecret refuses to start while AWSPENDING is on a version other than AWSCURRENT, so the secret is not being rotated`,
    `Remove the label: aws secretsmanager update-secret-version-stage --secret-id ${s.name} --version-stage AWSPENDING --remove-from-version-id ${pending.versionId} (its value stays accepted as AWSPREVIOUS until the next rotation)${cloudFront}`,
    {
      secret: s.arn,
      pendingVersion: pending.versionId,
      rolledBack: true,
      pendingCreated: created?.toISOString(),
    },
  );
}

/**
 * The rotation in flight: PASS while it is young, WARN once older than
 * `DEFAULTS.maxPendingHours` (it has failed, and its value, if createSecret stored one, stays
 * accepted by the guard, and by the ALB rules once its setSecret step ran). Review, 5 December:
 * a failed rotation's AWSPENDING was accepted indefinitely and nothing said so until the
 * rotation was overdue.
 */
function judgePending(
  snapshot: AccountSnapshot,
  s: SecretDescription,
  now: number,
  onAwsClock: boolean,
): PendingOutcome | undefined {
  const pending = s.pendingRotation;
  if (pending === undefined) return undefined;
  if (pending.rolledBack) return { finding: rolledBackFinding(snapshot, s, pending) };
  if (!pending.created.ok) return { unread: pending.created.skip };
  const held = pendingValue(snapshot);
  const hasValue = held === undefined ? undefined : held !== 'none';
  const evidence = { secret: s.arn, pendingVersion: pending.versionId, pendingHasValue: hasValue };
  const created = pending.created.value;
  if (created === undefined) {
    // ListSecretVersionIds does not list it. A labelled version with a value is listed by AWS,
    // so a listing without it is not to be trusted: the age is unread (review, eleventh
    // session: it PASSed as "age unknown"). Whether AWS lists a version that has a label and no
    // value yet is not documented (the local endpoint does); a rotation stuck with such a
    // version shows only once it is overdue.
    if (hasValue === true)
      return {
        unread: {
          reason: 'error',
          message: `secretsmanager:ListSecretVersionIds did not list the pending version ${pending.versionId}, though DescribeSecret labels it AWSPENDING and GetSecretValue read its value, so its age was not read. AWS lists every labelled version: if the rotation started seconds ago, run the audit again; else a faulty endpoint or proxy (AWS_ENDPOINT_URL*, HTTPS_PROXY) answered this`,
        },
      };
    const value = hasValue === false ? '; it has no value, so nothing is accepted for it' : '';
    return {
      finding: pass(
        `${s.name} has a rotation in flight (AWSPENDING on version ${pending.versionId}, which ListSecretVersionIds does not list, so its age is unknown${value})`,
        evidence,
      ),
    };
  }
  const age = now - created.getTime();
  const withAge = { ...evidence, pendingCreated: created.toISOString() };
  if (age < -DEFAULTS.clockSkewMinutes * 60_000) {
    // Review, 5 December: a CreatedDate in the future read as "started 0 hours ago" and PASSed.
    return {
      finding: warn(
        `${s.name}'s pending version ${pending.versionId} was created at ${created.toISOString()}, ${Math.ceil(-age / 60_000)} minutes after the time the audit judges by (${new Date(now).toISOString()}, ${onAwsClock ? "AWS's clock, from the Date of Secrets Manager's answers" : "this machine's clock"}): a clock is wrong, so how long the rotation has been in flight, and every other age, cannot be judged`,
        `Set this machine's clock right (NTP, e.g. timedatectl set-ntp true) and run the audit again; if it is right, a faulty endpoint or proxy (AWS_ENDPOINT_URL*, HTTPS_PROXY) answered`,
        { ...withAge, now: new Date(now).toISOString(), clockOffsetMs: s.clockOffsetMs },
      ),
    };
  }
  if (age <= DEFAULTS.maxPendingHours * HOUR_MS) {
    return {
      finding: pass(
        `${s.name} has a rotation in flight, started ${ago(Math.max(0, age))} ago (AWSPENDING on version ${pending.versionId})`,
        withAge,
      ),
    };
  }
  const inFlight = `${s.name} has had a rotation in flight for ${ago(age)} (AWSPENDING on version ${pending.versionId}, created ${created.toISOString()})`;
  if (hasValue === false) {
    // Review, 5 December: this said "its value stays accepted" of a version with no value.
    return {
      finding: warn(
        `${inFlight}: it failed before its createSecret step stored a value, and the secret is not being rotated; the version has no value, so nothing is accepted for it`,
        `${LOGS}. With no value, no distribution can send it and no ALB rule holds it, so give it up: ${giveUpCommands(s, pending)}`,
        withAge,
      ),
    };
  }
  const accepted =
    held === 'refused'
      ? "its value, which the apps refuse (secret-values says why), stays accepted by the ALB rules once the rotation's setSecret step ran, until a rotation finishes"
      : `${held === 'accepted' ? 'its value stays accepted' : 'its value, if createSecret stored one (the values could not be read), stays accepted'} by the apps (AWSPENDING is in the guard's default secretStages) and by the ALB rules once the rotation's setSecret step ran, until a rotation finishes`;
  return {
    finding: warn(
      `${inFlight}: it has failed, the secret is not being rotated, and ${accepted}`,
      stuckRotationFix(s, pending, sendingPending(snapshot)),
      withAge,
    ),
  };
}

function run(snapshot: AccountSnapshot, localNow = Date.now()): CheckResult {
  // DescribeSecret alone: the rotation is judged even when the values cannot be read.
  const secret = snapshot.secretDescription;
  const skip = firstSkip(secret);
  if (skip !== undefined || !secret.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const s = secret.value;
  // AWS's clock, which set every date judged here, when this one is off by more than the skew
  // allowed (review, eleventh session: a clock wrong in either direction misjudged the ages;
  // only a clock behind by over 5 minutes was caught). Within it, this clock: the `Date` header
  // the offset comes from has a resolution of one second.
  const offset = s.clockOffsetMs ?? 0;
  const onAwsClock = Math.abs(offset) > DEFAULTS.clockSkewMinutes * 60_000;
  const now = onAwsClock ? localNow + offset : localNow;
  const findings: Finding[] = [];
  const rotate = `aws secretsmanager rotate-secret --secret-id ${s.name} --rotation-lambda-arn <function> --rotation-rules '{"ScheduleExpression":"rate(${DEFAULTS.maxRotationDays} days)"}'`;
  const evidence = {
    secret: s.arn,
    rotationEnabled: s.rotationEnabled,
    rotationLambda: s.rotationLambdaArn !== undefined,
    schedule:
      s.scheduleExpression ??
      (s.automaticallyAfterDays === undefined ? undefined : `${s.automaticallyAfterDays} days`),
    lastRotated: s.lastRotatedDate?.toISOString(),
  };
  // Judged with rotation off too: a rotation left pending keeps its value accepted either way.
  const pending = judgePending(snapshot, s, now, onAwsClock);
  const done = (): CheckResult => {
    if (pending !== undefined && 'finding' in pending) findings.push(pending.finding);
    const unread = pending !== undefined && 'unread' in pending ? pending.unread : undefined;
    return partly(result(check, findings), unread);
  };
  if (!s.rotationEnabled) {
    findings.push(warn(`${s.name} has rotation disabled`, rotate, evidence));
    return done();
  }
  findings.push(pass(`${s.name} has rotation enabled`, evidence));
  if (s.rotationLambdaArn === undefined) {
    findings.push(warn(`${s.name} has no rotation function attached`, rotate, evidence));
  } else {
    findings.push(pass(`Rotation function ${s.rotationLambdaArn} is attached`, evidence));
  }
  const days = scheduleDays(s, now);
  const cron = s.scheduleExpression?.startsWith('cron(') === true;
  const every = cron ? 'rotates at least every' : 'rotates every';
  if (days === undefined) {
    findings.push(
      warn(
        `${s.name}'s schedule ${s.scheduleExpression ?? '(none)'} could not be sized: it may rotate less often than every ${DEFAULTS.maxRotationDays} days`,
        `${rotate}, or check by hand that the schedule fires at least every ${DEFAULTS.maxRotationDays} days`,
        evidence,
      ),
    );
  } else if (days > DEFAULTS.maxRotationDays) {
    findings.push(
      warn(
        `${s.name} ${cron ? `goes up to ${days} days without a rotation` : `rotates every ${days} days`}, more than ${DEFAULTS.maxRotationDays}`,
        rotate,
        { ...evidence, days },
      ),
    );
  } else {
    findings.push(pass(`${s.name} ${every} ${days} days`, { ...evidence, days }));
  }
  if (s.lastRotatedDate === undefined) {
    findings.push(
      warn(
        `${s.name} has never been rotated`,
        `aws secretsmanager rotate-secret --secret-id ${s.name}`,
        evidence,
      ),
    );
  } else {
    const age = Math.floor((now - s.lastRotatedDate.getTime()) / DAY_MS);
    const limit = (days ?? DEFAULTS.maxRotationDays) + 1;
    if (age > limit) {
      findings.push(
        warn(
          `${s.name} was last rotated ${age} days ago, later than its schedule: rotations are failing`,
          `Check the rotation function's logs, then aws secretsmanager rotate-secret --secret-id ${s.name}`,
          { ...evidence, ageDays: age },
        ),
      );
    } else {
      findings.push(
        pass(`${s.name} was last rotated ${age} days ago`, { ...evidence, ageDays: age }),
      );
    }
  }
  return done();
}

/** Secret rotation. */
export const secretRotationCheck: Check = { ...check, run: (snapshot) => run(snapshot) };
