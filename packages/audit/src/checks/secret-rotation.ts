/**
 * Secret: rotation enabled on a schedule of at most 90 days, by an attached function, and recent.
 * @module
 */
import { DEFAULTS } from '../constants.js';
import type { AccountSnapshot, Finding, SecretDescription } from '../types.js';
import { cronGapDays } from './cron.js';
import { type Check, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'secret-rotation', title: 'Secret rotation' } as const;

const DAY_MS = 86_400_000;

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

function run(snapshot: AccountSnapshot, now = Date.now()) {
  // DescribeSecret alone: the rotation is judged even when the values cannot be read.
  const secret = snapshot.secretDescription;
  const skip = firstSkip(secret);
  if (skip !== undefined || !secret.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const s = secret.value;
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
  if (!s.rotationEnabled) {
    findings.push(warn(`${s.name} has rotation disabled`, rotate, evidence));
    return result(check, findings);
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
  return result(check, findings);
}

/** Secret rotation. */
export const secretRotationCheck: Check = { ...check, run: (snapshot) => run(snapshot) };
