/**
 * ALB rule values vs Secrets Manager: the header rules accept AWSCURRENT (and AWSPENDING in a rotation).
 * @module
 */
import { STAGES } from '../constants.js';
import { matchingStages } from '../secret-text.js';
import type { AccountSnapshot, Finding } from '../types.js';
import { checksHeader, headerPatterns } from './listener-rules.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'alb-rule-values', title: 'ALB rule values vs Secrets Manager' } as const;

function run(snapshot: AccountSnapshot) {
  const { listeners, secret, headerName } = snapshot;
  const skip = firstSkip(listeners, secret);
  if (skip !== undefined || !listeners.ok || !secret.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const stages = secret.value.values;
  const findings: Finding[] = [];
  for (const listener of listeners.value) {
    for (const rule of listener.rules) {
      if (!checksHeader(rule, headerName)) continue;
      const values = rule.conditions
        .filter((c) => c.field === 'http-header' && c.headerName === headerName)
        .flatMap((c) => c.headerValues ?? []);
      const patterns = headerPatterns(rule, headerName);
      const accepted = new Set(values.flatMap((v) => matchingStages(v, stages)));
      // What the ALB itself accepts: it compares header values ignoring case.
      const acceptedByAlb = new Set(values.flatMap((v) => matchingStages(v, stages, true)));
      const stale = values.filter((v) => matchingStages(v, stages).length === 0).length;
      const evidence = {
        listener: listener.arn,
        rule: rule.arn,
        priority: String(rule.priority),
        values: values.length,
        accepts: [...accepted].sort(),
        staleValues: stale,
        patternValues: patterns,
      };
      const modify = `aws elbv2 modify-rule --rule-arn ${rule.arn} --conditions with http-header ${headerName} values = AWSCURRENT`;
      if (values.length === 0) {
        // Patterns only: what they match cannot be told from digests; listener-rules fails them.
        findings.push(
          warn(
            `Rule priority ${rule.priority} on port ${listener.port} matches ${headerName} only by pattern (${patterns} wildcard or regular-expression value(s)): not compared with Secrets Manager`,
            `${modify}${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''}, exact values only`,
            evidence,
          ),
        );
      } else if (!accepted.has(STAGES.current) && acceptedByAlb.has(STAGES.current)) {
        findings.push(
          warn(
            `Rule priority ${rule.priority} on port ${listener.port} accepts AWSCURRENT of ${secret.value.name} only because the ALB compares header values ignoring case: it holds the value in another case`,
            `${modify} (the exact value)${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''}`,
            evidence,
          ),
        );
      } else if (!accepted.has(STAGES.current)) {
        findings.push(
          fail(
            `Rule priority ${rule.priority} on port ${listener.port} does not accept AWSCURRENT of ${secret.value.name}: the values have drifted`,
            `${modify}${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''} (or run the rotation function's setSecret step)`,
            evidence,
          ),
        );
      } else if (stages.has(STAGES.pending) && !accepted.has(STAGES.pending)) {
        findings.push(
          warn(
            `Rule priority ${rule.priority} on port ${listener.port} does not accept AWSPENDING while a rotation is in flight`,
            `${modify} and AWSPENDING before CloudFront switches`,
            evidence,
          ),
        );
      } else if (stale > 0) {
        findings.push(
          warn(
            `Rule priority ${rule.priority} on port ${listener.port} also accepts ${stale} value(s) that Secrets Manager no longer holds`,
            `${modify} (and AWSPREVIOUS if wanted) only`,
            evidence,
          ),
        );
      } else {
        findings.push(
          pass(
            `Rule priority ${rule.priority} on port ${listener.port} accepts ${[...accepted].sort().join(', ')}`,
            evidence,
          ),
        );
      }
    }
  }
  if (findings.length === 0) {
    return skipped(check, {
      reason: 'not-applicable',
      message: `No listener rule has an http-header condition on ${headerName}`,
    });
  }
  return result(check, findings);
}

/** ALB rule values vs Secrets Manager. */
export const albRuleValuesCheck: Check = { ...check, run };
