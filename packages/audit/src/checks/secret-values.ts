/**
 * Secret values the guard accepts: each staged value is read as the guard reads it (the core's
 * `readSecretString`), so a value it refuses is named before it takes the site down.
 *
 * A refused `AWSCURRENT` fails the guard's load: an app starting now denies every request
 * (`secret-unavailable`), a running one keeps the value it loaded and reports every refresh
 * failing. A refused `AWSPENDING` or `AWSPREVIOUS` is skipped by the guard, so CloudFront sending
 * it is denied. Until the thirteenth session the audit compared a JSON value without the key as
 * an empty string and called a binary version "no value": the other checks then reported header
 * drift, or nothing, with a fix that could not work.
 * @module
 */
import { STAGES } from '../constants.js';
import type { AccountSnapshot, Finding, RefusedValue, SecretInfo } from '../types.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'secret-values', title: 'Secret values the guard accepts' } as const;

/** What the guard does when it refuses the value of `stage`. */
function consequence(stage: string): string {
  if (stage === STAGES.current)
    return 'the guard refuses it: an app that starts now cannot load the secret and denies every request (secret-unavailable), and a running app keeps the value it loaded and reports every refresh failing';
  if (stage === STAGES.pending)
    return 'the guard skips it (SkippedStage): once CloudFront sends the pending value, every request is denied';
  return 'the guard skips it (SkippedStage): CloudFront sending that value (after a rollback, or before its header was switched) is denied';
}

function refusedFinding(secret: SecretInfo, stage: string, refused: RefusedValue): Finding {
  const version = refused.versionId === undefined ? '' : ` (version ${refused.versionId})`;
  const where = `${stage} of ${secret.name}${version}`;
  const message = `${where} ${refused.problem.replace(/\.$/, '')}: ${consequence(stage)}`;
  // A JSON secret read without the key is the audit's configuration as much as the apps'.
  const jsonKey = refused.problem.includes('`jsonKey`')
    ? ' Run the audit with --json-key <key>, the key your apps read (jsonKey).'
    : '';
  const fix =
    stage === STAGES.current
      ? `Store a value the guard accepts (the header value itself as the SecretString: printable ASCII without spaces, 16 to 128 characters; or a JSON object whose jsonKey holds it): aws secretsmanager rotate-secret --secret-id ${secret.name} lets the rotation function write one and move the ALB rules and CloudFront to it in order.${jsonKey}`
      : `Store a value the guard accepts in that version's place: end the rotation that left it (secret-rotation says how) and run aws secretsmanager rotate-secret --secret-id ${secret.name}.${jsonKey}`;
  const evidence = { secret: secret.arn, stage, version: refused.versionId };
  return stage === STAGES.current ? fail(message, fix, evidence) : warn(message, fix, evidence);
}

function run(snapshot: AccountSnapshot) {
  const { secret } = snapshot;
  const skip = firstSkip(secret);
  if (skip !== undefined || !secret.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const s = secret.value;
  const findings: Finding[] = [...s.refused].map(([stage, refused]) =>
    refusedFinding(s, stage, refused),
  );
  const accepted = [...s.values.keys()];
  if (accepted.length > 0)
    findings.unshift(
      pass(`${accepted.join(', ')} of ${s.name}: each a value the guard accepts`, {
        secret: s.arn,
        stages: accepted,
      }),
    );
  return result(check, findings);
}

/** The check: every staged value is one the guard accepts. */
export const secretValuesCheck: Check = { ...check, run };
