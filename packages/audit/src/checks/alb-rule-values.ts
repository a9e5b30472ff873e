/**
 * ALB rule values vs Secrets Manager: the header rules accept AWSCURRENT (and AWSPENDING in a rotation).
 *
 * Only this secret's rules are judged: a header rule holding none of its values checks another
 * secret (a second site behind a shared listener, told apart by host or path), as the rotation
 * function decides for `listenerArns`.
 * @module
 */
import { STAGES } from '../constants.js';
import { matchingStages } from '../secret-text.js';
import type { AccountSnapshot, Finding, ListenerInfo, RuleInfo, SecretInfo } from '../types.js';
import {
  checksHeader,
  headerPatterns,
  headerValuesOf,
  holdsSecretValue,
} from './listener-rules.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'alb-rule-values', title: 'ALB rule values vs Secrets Manager' } as const;

/** A header rule and its listener. */
interface HeaderRule {
  readonly listener: ListenerInfo;
  readonly rule: RuleInfo;
}

const ruleText = ({ listener, rule }: HeaderRule) =>
  `Rule priority ${rule.priority} on port ${listener.port}`;

/** The findings of one rule of this secret. */
function judge({ listener, rule }: HeaderRule, secret: SecretInfo, headerName: string): Finding {
  const stages = secret.values;
  const values = headerValuesOf(rule, headerName);
  const patterns = headerPatterns(rule, headerName);
  const accepted = new Set(values.flatMap((v) => matchingStages(v, stages)));
  // What the ALB itself accepts: it compares header values ignoring case.
  const acceptedByAlb = new Set(values.flatMap((v) => matchingStages(v, stages, true)));
  // Values that are no stage of this secret: an old value, or another site's on a shared rule.
  const other = values.filter((v) => matchingStages(v, stages, true).length === 0).length;
  const evidence = {
    listener: listener.arn,
    rule: rule.arn,
    priority: String(rule.priority),
    values: values.length,
    accepts: [...accepted].sort(),
    staleValues: other,
    patternValues: patterns,
  };
  const where = ruleText({ listener, rule });
  const pending = stages.has(STAGES.pending) ? ' and AWSPENDING' : '';
  const keep =
    other > 0 ? `, keeping the ${other} value(s) of another site if the rule is shared` : '';
  const modify = `aws elbv2 modify-rule --rule-arn ${rule.arn} --conditions with http-header ${headerName} values = AWSCURRENT`;
  if (!accepted.has(STAGES.current) && acceptedByAlb.has(STAGES.current))
    return warn(
      `${where} accepts AWSCURRENT of ${secret.name} only because the ALB compares header values ignoring case: it holds the value in another case`,
      `${modify} (the exact value)${pending}${keep}; the rotation function (listenerArns) takes a rule holding no exact value of this secret for another site's`,
      evidence,
    );
  if (!accepted.has(STAGES.current))
    return fail(
      `${where} does not accept AWSCURRENT of ${secret.name} (it holds ${[...acceptedByAlb].sort().join(', ')}): the values have drifted`,
      `${modify}${pending}${keep} (or run the rotation function's setSecret step)`,
      evidence,
    );
  if (stages.has(STAGES.pending) && !accepted.has(STAGES.pending))
    return warn(
      `${where} does not accept AWSPENDING while a rotation is in flight`,
      `${modify} and AWSPENDING${keep} before CloudFront switches`,
      evidence,
    );
  if (other > 0)
    return warn(
      `${where} also accepts ${other} value(s) that are no stage of ${secret.name}: an old value, or another site's secret on a rule both share`,
      `If no other site's secret uses this rule: ${modify} (and AWSPREVIOUS if wanted) only. If one does, give each site its own rule (told apart by host or path), so neither keeps the other's value`,
      evidence,
    );
  return pass(`${where} accepts ${[...accepted].sort().join(', ')}`, evidence);
}

function run(snapshot: AccountSnapshot) {
  const { listeners, secret, headerName } = snapshot;
  const skip = firstSkip(listeners, secret);
  if (skip !== undefined || !listeners.ok || !secret.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const stages = secret.value.values;
  const headerRules: HeaderRule[] = listeners.value.flatMap((listener) =>
    listener.rules.filter((r) => checksHeader(r, headerName)).map((rule) => ({ listener, rule })),
  );
  if (headerRules.length === 0) {
    return skipped(check, {
      reason: 'not-applicable',
      message: `No listener rule has an http-header condition on ${headerName}`,
    });
  }
  const findings: Finding[] = [];
  const others: HeaderRule[] = [];
  let patternOnly = 0;
  for (const h of headerRules) {
    const patterns = headerPatterns(h.rule, headerName);
    if (headerValuesOf(h.rule, headerName).length === 0) {
      // Patterns only: what they match cannot be told from digests; listener-rules fails them.
      patternOnly++;
      findings.push(
        warn(
          `${ruleText(h)} matches ${headerName} only by pattern (${patterns} wildcard or regular-expression value(s)): not compared with Secrets Manager`,
          `aws elbv2 modify-rule --rule-arn ${h.rule.arn} --conditions with http-header ${headerName} values = AWSCURRENT${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''}, exact values only`,
          {
            listener: h.listener.arn,
            rule: h.rule.arn,
            priority: String(h.rule.priority),
            values: 0,
            patternValues: patterns,
          },
        ),
      );
    } else if (holdsSecretValue(h.rule, headerName, stages)) {
      findings.push(judge(h, secret.value, headerName));
    } else {
      others.push(h);
    }
  }
  const ours = headerRules.length - others.length - patternOnly;
  const otherArns = others.map((h) => h.rule.arn);
  if (ours === 0 && patternOnly === 0) {
    // Every header rule holds exact values, none of them this secret's: either this site's rule
    // drifted past every stage (a hand-set value, or two rotations missed), or it is missing and
    // the rules left check other sites' secrets. Both leave CloudFront's value (when it sends
    // this secret) accepted by no rule. Which rule is this site's cannot be told, so no rule is
    // named for modify-rule: that would hand this secret to another site's rule.
    findings.push(
      fail(
        `No ${headerName} rule on the load balancer holds a value of ${secret.value.name} (AWSCURRENT, AWSPENDING or AWSPREVIOUS): ${others.map(ruleText).join(', ')} hold other values. This site's rule has drifted, or it is missing and those rules check other sites' secrets`,
        `Find the rule that checks this site's requests. If it is one of ${otherArns.join(', ')} (a listener of this site alone), put AWSCURRENT${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''} of ${secret.value.name} in it: aws elbv2 modify-rule --rule-arn <that rule> --conditions with http-header ${headerName} values = AWSCURRENT. If they check other sites' secrets, leave them alone and add this site's own rule: aws elbv2 create-rule --listener-arn <listener> --priority <n> --conditions <this site's host or path> and http-header ${headerName} values = AWSCURRENT --actions Type=forward,TargetGroupArn=<this site's target group>. Check that --secret-id (and --json-key) name the secret this ALB checks`,
        { rules: otherArns, secret: secret.value.name },
      ),
    );
  } else {
    // A rule holding none of this secret's values is another site's (a listener shared by two
    // sites, each with its own secret), or this site's rule that drifted past every stage (two
    // rotations missed, a hand-set value: its requests are denied, and a retired value still
    // passes it). Forwarding to a target group this secret's rules forward to, it is this
    // site's: drift. Otherwise which it is cannot be told: a WARN, never a PASS (outside review,
    // 4 December, third session: a drifted rule of this site read as another site's).
    const ourTargets = new Set(
      headerRules
        .filter((h) => !others.includes(h))
        .flatMap((h) => h.rule.action.targetGroups ?? []),
    );
    for (const h of others) {
      const evidence = {
        listener: h.listener.arn,
        rule: h.rule.arn,
        priority: String(h.rule.priority),
        otherSecret: true,
      };
      const shared = (h.rule.action.targetGroups ?? []).find((arn) => ourTargets.has(arn));
      findings.push(
        shared === undefined
          ? warn(
              `${ruleText(h)} holds none of the values of ${secret.value.name}: not judged against this secret. Another site's rule (a site sharing the listener) is fine; if it is this site's, it has drifted past every stage and its requests are denied`,
              `If ${h.rule.arn} checks this site's requests, put AWSCURRENT${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''} of ${secret.value.name} in it (aws elbv2 modify-rule --rule-arn ${h.rule.arn} --conditions with http-header ${headerName} values = AWSCURRENT) and name it in the rotation's ruleArns; if it checks another site's secret, leave it`,
              evidence,
            )
          : fail(
              `${ruleText(h)} holds none of the values of ${secret.value.name} but forwards to ${shared}, as this secret's rule does: this site's rule has drifted past every stage (AWSCURRENT, AWSPENDING, AWSPREVIOUS), so its requests are denied and a retired value still passes it`,
              `aws elbv2 modify-rule --rule-arn ${h.rule.arn} --conditions with http-header ${headerName} values = AWSCURRENT${stages.has(STAGES.pending) ? ' and AWSPENDING' : ''} of ${secret.value.name}, then name the rule in the rotation's ruleArns (or its listener in listenerArns) so rotations keep it in step`,
              { ...evidence, otherSecret: false, targetGroup: shared },
            ),
      );
    }
  }
  return result(check, findings);
}

/** ALB rule values vs Secrets Manager. */
export const albRuleValuesCheck: Check = { ...check, run };
