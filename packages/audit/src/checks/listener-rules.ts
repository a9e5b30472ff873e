/**
 * Listener rules: what does a request WITHOUT the header get?
 *
 * ALB evaluates rules by ascending priority number, then the default action. A rule with an
 * `http-header` condition on our header never matches a request without it; any other rule
 * may. Walking the rules in order tells what such a request can reach.
 * @module
 */
import { matchingStages, type SecretText } from '../secret-text.js';
import type { AccountSnapshot, Finding, ListenerInfo, RuleInfo } from '../types.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'listener-rules', title: 'ALB listener rules' } as const;

/** Whether a rule has an `http-header` condition on `header` (exact values or patterns). */
export function checksHeader(rule: RuleInfo, header: string): boolean {
  return rule.conditions.some((c) => c.field === 'http-header' && c.headerName === header);
}

/**
 * Whether a rule matches only requests whose `header` is one of a few exact values: it has a
 * condition on `header` with no pattern among its values (conditions of a rule must all match,
 * the values of one condition are alternatives).
 */
export function checksHeaderExactly(rule: RuleInfo, header: string): boolean {
  return rule.conditions.some(
    (c) =>
      c.field === 'http-header' &&
      c.headerName === header &&
      (c.headerPatterns ?? 0) === 0 &&
      (c.headerValues?.length ?? 0) > 0,
  );
}

/** The exact values of a rule's conditions on `header` (redacted). */
export function headerValuesOf(rule: RuleInfo, header: string): SecretText[] {
  return rule.conditions
    .filter((c) => c.field === 'http-header' && c.headerName === header)
    .flatMap((c) => c.headerValues ?? []);
}

/**
 * Whether a rule is this secret's: an exact value of its condition on `header` is one of the
 * secret's `stages` (AWSCURRENT, AWSPENDING, AWSPREVIOUS), compared in constant time and, as the
 * ALB compares, ignoring case. The rotation function picks the rules of `listenerArns` it keeps
 * in step the same way (comparing exactly); a header rule holding none of them checks another
 * secret (a second site behind a shared listener).
 */
export function holdsSecretValue(
  rule: RuleInfo,
  header: string,
  stages: ReadonlyMap<string, SecretText>,
): boolean {
  return headerValuesOf(rule, header).some((v) => matchingStages(v, stages, true).length > 0);
}

/** How many pattern values (wildcard or regular expression) a rule's conditions on `header` hold. */
export function headerPatterns(rule: RuleInfo, header: string): number {
  return rule.conditions
    .filter((c) => c.field === 'http-header' && c.headerName === header)
    .reduce((n, c) => n + (c.headerPatterns ?? 0), 0);
}

/** Whether a rule matches every request (the default rule, or a path pattern of `*`). */
export function catchAll(rule: RuleInfo): boolean {
  if (rule.priority === 'default') return true;
  return rule.conditions.every(
    (c) => c.field === 'path-pattern' && c.values.some((v) => v === '*' || v === '/*'),
  );
}

function is4xx(rule: RuleInfo): boolean {
  return rule.action.type === 'fixed-response' && /^4\d\d$/.test(rule.action.statusCode ?? '');
}

/** A redirect to HTTPS on the same host: the HTTPS listener then decides, and is checked itself. */
export function upgradesToHttps(rule: RuleInfo): boolean {
  const { type, redirectProtocol, redirectHost } = rule.action;
  return (
    type === 'redirect' &&
    redirectProtocol === 'HTTPS' &&
    (redirectHost === undefined || redirectHost === '#{host}')
  );
}

const priorityText = (rule: RuleInfo) =>
  rule.priority === 'default' ? 'the default action' : `rule priority ${rule.priority}`;

/**
 * A rule that hands requests on without the header condition. Before the first header rule it
 * is evaluated first, and moving the header rule ahead fixes it; after it, requests the header
 * rule turns away (no header, a wrong value) fall through to it, and only its own condition (or
 * its removal) fixes it: a priority change would change nothing (outside review, 4 December: the
 * FAIL said "evaluated before the header check" for a rule after it).
 */
function unguardedForward(
  rule: RuleInfo,
  headerRule: RuleInfo | undefined,
  context: {
    where: string;
    headerName: string;
    evidence: Readonly<Record<string, string | number | undefined>>;
  },
): Finding {
  const { where, headerName, evidence } = context;
  const condition = `aws elbv2 modify-rule --rule-arn ${rule.arn} --conditions <its conditions> plus Field=http-header,HttpHeaderConfig={HttpHeaderName=${headerName},Values=[<AWSCURRENT of the secret>]}`;
  const head = `${where}: rule priority ${rule.priority} (${rule.action.type}) has no ${headerName} condition`;
  if (headerRule === undefined || headerRule.priority === 'default' || rule.priority === 'default')
    return fail(
      `${head}, so requests without the header are served`,
      `Add an http-header condition on ${headerName} to rule ${rule.arn}`,
      evidence,
    );
  if (headerRule.priority > rule.priority)
    return fail(
      `${head} and is evaluated before the header check (priority ${headerRule.priority}), so requests without the header are served`,
      `Give the header rule ${headerRule.arn} a priority number below ${rule.priority} (aws elbv2 set-rule-priorities), or add the ${headerName} condition to rule ${rule.arn}`,
      evidence,
    );
  return fail(
    `${head}: requests that fail the header check (priority ${headerRule.priority}) fall through to it, so requests without the header are served`,
    `Add the ${headerName} condition to rule ${rule.arn} (${condition}), or remove the rule (aws elbv2 delete-rule --rule-arn ${rule.arn}); changing priorities does not help, since the header rule already comes first`,
    evidence,
  );
}

function walk(listener: ListenerInfo, headerName: string): Finding[] {
  const findings: Finding[] = [];
  const ordered = [...listener.rules].sort((a, b) =>
    a.priority === 'default' ? 1 : b.priority === 'default' ? -1 : a.priority - b.priority,
  );
  const headerRules = ordered.filter((r) => checksHeaderExactly(r, headerName));
  const firstHeader = headerRules[0]?.priority;
  const where = `${listener.protocol}:${listener.port}`;
  for (const rule of ordered) {
    if (checksHeaderExactly(rule, headerName)) continue;
    const evidence = {
      listener: listener.arn,
      port: listener.port,
      rule: rule.arn,
      priority: String(rule.priority),
      action: rule.action.type,
      statusCode: rule.action.statusCode,
      headerRulePriority: firstHeader === undefined ? undefined : String(firstHeader),
    };
    if (is4xx(rule)) {
      if (catchAll(rule)) {
        findings.push(
          pass(
            `${where}: requests without ${headerName} reach only a fixed ${rule.action.statusCode} (${priorityText(rule)})`,
            evidence,
          ),
        );
        return findings;
      }
      continue;
    }
    if (upgradesToHttps(rule)) {
      findings.push(
        pass(
          `${where}: ${priorityText(rule)} redirects to HTTPS on the same host (that listener is checked on its own)`,
          evidence,
        ),
      );
      if (catchAll(rule)) return findings;
      continue;
    }
    if (rule.action.type === 'fixed-response') {
      findings.push(
        warn(
          `${where}: requests without ${headerName} get a fixed ${rule.action.statusCode ?? ''} from ${priorityText(rule)}, not a 4xx`,
          `Answer requests without ${headerName} with a fixed-response 403`,
          evidence,
        ),
      );
      if (catchAll(rule)) return findings;
      continue;
    }
    if (rule.priority === 'default') {
      findings.push(
        fail(
          `${where}: the default action is ${rule.action.type} and no rule denies requests without ${headerName}`,
          `aws elbv2 modify-listener --listener-arn ${listener.arn} --default-actions 'Type=fixed-response,FixedResponseConfig={StatusCode=403,ContentType=text/plain}' and forward only from a rule with an http-header condition on ${headerName}`,
          evidence,
        ),
      );
      return findings;
    }
    const patterns = headerPatterns(rule, headerName);
    if (patterns > 0) {
      // ALB reads `*` and `?` as wildcards (and RegexValues as regular expressions), so the
      // header condition lets through any value matching it, not just the secret.
      findings.push(
        fail(
          `${where}: rule priority ${rule.priority} (${rule.action.type}) matches ${headerName} by pattern (${patterns} wildcard or regular-expression value(s)), so requests with any value matching it are served`,
          `Give rule ${rule.arn} exact values only: aws elbv2 modify-rule --rule-arn ${rule.arn} --conditions with http-header ${headerName} values = AWSCURRENT (and AWSPENDING during a rotation); ALB reads * and ? in a value as wildcards, so the secret must not contain them`,
          { ...evidence, patternValues: patterns },
        ),
      );
      continue;
    }
    findings.push(unguardedForward(rule, headerRules[0], { where, headerName, evidence }));
    if (catchAll(rule)) return findings;
  }
  return findings;
}

function run(snapshot: AccountSnapshot) {
  const { listeners, headerName } = snapshot;
  const skip = firstSkip(listeners);
  if (skip !== undefined || !listeners.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const findings: Finding[] = [];
  if (listeners.value.length === 0) {
    findings.push(
      warn('The load balancer has no listeners', 'Add an HTTPS listener', {
        loadBalancer: snapshot.loadBalancer.arn,
      }),
    );
  }
  for (const listener of listeners.value) {
    findings.push(...walk(listener, headerName));
    const forwards = listener.rules.some(
      (r) => r.action.type === 'forward' || r.action.type.startsWith('authenticate'),
    );
    if (listener.protocol === 'HTTP' && forwards) {
      findings.push(
        warn(
          `HTTP:${listener.port} forwards to targets: a request carrying ${headerName} would cross the internet in clear text`,
          `Use an HTTPS listener with origin protocol policy https-only; make port ${listener.port} redirect to HTTPS or remove it`,
          { listener: listener.arn, port: listener.port, protocol: listener.protocol },
        ),
      );
    }
  }
  return result(check, findings);
}

/** ALB listener rules. */
export const listenerRulesCheck: Check = { ...check, run };
