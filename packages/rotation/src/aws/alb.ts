/**
 * The ALB side of a rotation: find the listener rules whose `http-header` condition names
 * the header and holds one of this secret's values (other sites' rules on a shared listener are
 * left alone), set that condition's values (`ModifyRule`, every other condition kept), and the
 * DNS names of the load balancers (so CloudFront origins pointing at them can be found).
 * @module
 */
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  type ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  type Rule,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  MAX_CONDITION_VALUES_PER_RULE,
  MAX_FORMER_VERSIONS_READ,
  MAX_VALUES_PER_CONDITION,
  ROTATION_HEADER_VALUES,
} from '../constants.js';
import { awsCallFailed, RotationError } from '../errors.js';
import { nextPageOf } from './paging.js';
import {
  checkRequestBody,
  elementPaths,
  formListPaths,
  keepResponseBody,
  listPaths,
  missingPaths,
  readXml,
  type XmlElement,
  XmlReadError,
} from './round-trip.js';

/** A rule to keep in step, with the header condition found in it. */
export interface HeaderRule {
  readonly arn: string;
  readonly conditions: readonly RuleCondition[];
  readonly headerIndex: number;
  /**
   * Values of the header condition that are not this secret's (another site's, sharing the
   * rule): kept, after this secret's values, on every change.
   */
  readonly foreignValues: readonly string[];
  /**
   * Values of the header condition that are older values of this secret, in no accepted label
   * any more (e.g. an abandoned rotation's): dropped on the next change.
   */
  readonly formerValues: readonly string[];
  /**
   * The element paths of each of {@link HeaderRule.conditions} as DescribeRules returned it
   * (`member` list wrappers and empty elements left out), or `undefined` when that response could
   * not be read: ModifyRule must send each back ({@link setHeaderValues}).
   */
  readonly receivedConditionPaths: readonly ReadonlySet<string>[] | undefined;
}

function headerIndexOf(rule: Rule, headerName: string): number {
  return (rule.Conditions ?? []).findIndex(
    (c) =>
      c.Field === 'http-header' && c.HttpHeaderConfig?.HttpHeaderName?.toLowerCase() === headerName,
  );
}

/**
 * Every page of an ELBv2 listing (`Marker` / `NextMarker`), bounded by {@link nextPageOf}; a
 * failed call is an `aws-error` naming `what`.
 */
async function elbv2Pages<T extends { NextMarker?: string }>(
  what: string,
  send: (marker: string | undefined) => Promise<T>,
): Promise<T[]> {
  const pages: T[] = [];
  const nextPage = nextPageOf(what);
  let marker: string | undefined;
  do {
    let out: T;
    try {
      out = await send(marker);
    } catch (error) {
      throw awsCallFailed(what, error, []);
    }
    pages.push(out);
    marker = nextPage(out.NextMarker);
  } while (marker !== undefined);
  return pages;
}

/** Rules as the SDK parsed them, and each one's condition paths as AWS sent them, by ARN. */
interface DescribedRules {
  readonly rules: Rule[];
  readonly receivedConditionPaths: ReadonlyMap<string, readonly ReadonlySet<string>[]>;
}

const childNamed = (element: XmlElement | undefined, name: string): XmlElement | undefined =>
  element?.children.find((c) => c.name === name);

/**
 * Record the element paths of each rule's conditions in a raw DescribeRules body (nothing when it
 * cannot be read: such a rule is refused at ModifyRule, not guessed).
 */
function recordConditionPaths(
  raw: string | undefined,
  into: Map<string, readonly ReadonlySet<string>[]>,
): void {
  if (raw === undefined) return;
  let root: XmlElement;
  try {
    root = readXml(raw);
  } catch (error) {
    if (error instanceof XmlReadError) return;
    throw error;
  }
  const rules = childNamed(childNamed(root, 'DescribeRulesResult'), 'Rules');
  for (const rule of rules?.children ?? []) {
    const arn = childNamed(rule, 'RuleArn')?.text.trim();
    if (arn === undefined || arn === '') continue;
    const conditions = childNamed(rule, 'Conditions')?.children ?? [];
    into.set(
      arn,
      conditions.map((c) => elementPaths(c, { listWrapper: 'member', withContentOnly: true })),
    );
  }
}

async function describeRules(
  client: ElasticLoadBalancingV2Client,
  input: { ListenerArn?: string; RuleArns?: string[] },
): Promise<DescribedRules> {
  const receivedConditionPaths = new Map<string, readonly ReadonlySet<string>[]>();
  const pages = await elbv2Pages(
    `DescribeRules (${input.ListenerArn ?? input.RuleArns?.join(', ')})`,
    async (Marker) => {
      const command = new DescribeRulesCommand({ ...input, Marker });
      const body = keepResponseBody(command, client);
      const out = await client.send(command);
      recordConditionPaths(body(), receivedConditionPaths);
      return out;
    },
  );
  return { rules: pages.flatMap((page) => page.Rules ?? []), receivedConditionPaths };
}

/** What {@link findHeaderRules} found. */
export interface HeaderRules {
  /** The rules to keep in step. */
  readonly rules: HeaderRule[];
  /**
   * Rules of `listenerArns` with a header condition that holds none of this secret's values
   * (another site's rule on the same header): left alone.
   */
  readonly otherRuleArns: string[];
}

/**
 * How many condition values `c` uses towards the ALB's per-rule limit: those of its typed config
 * (a query-string key/value pair is one), else the legacy `Values` (DescribeRules may report
 * both for the same condition; they are counted once).
 */
function conditionValueCount(c: RuleCondition): number {
  type Counted = { readonly Values?: readonly unknown[]; readonly RegexValues?: readonly string[] };
  const configs: Counted[] = [
    c.HostHeaderConfig,
    c.PathPatternConfig,
    c.HttpHeaderConfig,
    c.QueryStringConfig,
    c.HttpRequestMethodConfig,
    c.SourceIpConfig,
  ].filter((config) => config !== undefined);
  const count = (x: Counted) => (x.Values?.length ?? 0) + (x.RegexValues?.length ?? 0);
  return configs.length === 0 ? count(c) : configs.reduce((n, config) => n + count(config), 0);
}

/**
 * Fail before any change when a rule cannot hold the rotation's header values next to its other
 * conditions (the ALB allows {@link MAX_CONDITION_VALUES_PER_RULE} condition values per rule).
 */
function checkConditionLimit(rule: HeaderRule, headerName: string): void {
  const header = rule.conditions[rule.headerIndex]?.HttpHeaderConfig;
  const foreign = rule.foreignValues.length + (header?.RegexValues?.length ?? 0);
  if (foreign > 0 && ROTATION_HEADER_VALUES + foreign > MAX_VALUES_PER_CONDITION)
    throw new RotationError(
      'condition-limit',
      `rule ${rule.arn}'s "${headerName}" condition also holds ${foreign} value(s) that are kept (another site's, sharing the rule, or a version of this secret under a staging label of its own; not among this secret's ${MAX_FORMER_VERSIONS_READ} newest label-less older versions either); with the ${ROTATION_HEADER_VALUES} values a rotation needs that is more than the ${MAX_VALUES_PER_CONDITION} an ALB condition allows. Nothing was changed. Give each site its own rule (one rule per secret), or remove values no longer used, then retry.`,
    );
  const others = rule.conditions.reduce(
    (n, c, i) => (i === rule.headerIndex ? n : n + conditionValueCount(c)),
    foreign,
  );
  if (others + ROTATION_HEADER_VALUES > MAX_CONDITION_VALUES_PER_RULE)
    throw new RotationError(
      'condition-limit',
      `rule ${rule.arn} uses ${others} condition values besides its "${headerName}" condition, so it cannot hold the ${ROTATION_HEADER_VALUES} header values a rotation needs (AWSCURRENT and AWSPENDING): an ALB rule allows at most ${MAX_CONDITION_VALUES_PER_RULE} condition values. Nothing was changed. Free a condition value in that rule (at most ${MAX_CONDITION_VALUES_PER_RULE - ROTATION_HEADER_VALUES} besides the header, e.g. fewer host or path values, or split it into two rules), then retry.`,
    );
}

/** Does the rule's header condition hold one of `values`? */
export function holdsOneOf(rule: HeaderRule, values: readonly string[]): boolean {
  const have = rule.conditions[rule.headerIndex]?.HttpHeaderConfig?.Values ?? [];
  return have.some((v) => values.includes(v));
}

/** Where a rotation's rules are, and this secret's values (AWSCURRENT, AWSPREVIOUS, pending). */
export interface RuleSelection {
  /** The header, lower case. */
  readonly headerName: string;
  readonly listenerArns: readonly string[];
  readonly ruleArns: readonly string[];
  readonly ownValues: readonly string[];
}

/** Every listener of the load balancer `lbArn`: ARN and port. */
async function listenersOf(
  client: ElasticLoadBalancingV2Client,
  lbArn: string,
): Promise<{ arn: string; port: number | undefined }[]> {
  const pages = await elbv2Pages(`DescribeListeners (${lbArn})`, (Marker) =>
    client.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn, Marker })),
  );
  return pages.flatMap((page) =>
    (page.Listeners ?? []).flatMap((l) =>
      l.ListenerArn === undefined ? [] : [{ arn: l.ListenerArn, port: l.Port }],
    ),
  );
}

/**
 * Whether `text` matches all of `pattern`, `*` standing for any run and `?` for one character:
 * the greedy two-pointer match, backtracking only to the last `*` (no regular expression, so a
 * pattern of many `*` costs at most pattern × text steps).
 */
export function wildcardMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * Whether an `http-header` condition accepts `value` as ALB matches it: a value compared
 * case-insensitively with `*` (any run) and `?` (one character), or a regular expression of
 * `RegexValues` (read as JavaScript's: {@link compiledRegex}).
 */
function headerConditionAccepts(
  header: { Values?: string[]; RegexValues?: string[] } | undefined,
  value: string,
): boolean {
  const wildcard = (pattern: string) => wildcardMatches(pattern.toLowerCase(), value.toLowerCase());
  const regex = (pattern: string) => compiledRegex(pattern)?.test(value) ?? false;
  return (header?.Values ?? []).some(wildcard) || (header?.RegexValues ?? []).some(regex);
}

/** A `RegexValues` pattern as JavaScript reads it, or `undefined` when it cannot (ALB's `(?i)`). */
function compiledRegex(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern);
  } catch {
    return undefined;
  }
}

/**
 * Fail before any change when a rule the rotation does not manage accepts AWSCURRENT (what
 * CloudFront sends now) but not the pending value in its condition on the header (matched as ALB
 * matches: {@link headerConditionAccepts}), on the same load balancers: a rule of a listener not
 * in `listenerArns` that is not itself in `ruleArns` (the listener of a rule named in `ruleArns`
 * included). CloudFront switches every origin at the ALB to the new value, and such a rule, never
 * widened, would then refuse every request it checks (a second HTTPS listener for an origin's
 * custom port, HTTP:80 for a `match-viewer` origin, a second rule for `/api/*` next to a named
 * one). A rule accepting both (a wildcard) or neither (it already refuses CloudFront) is left
 * alone. The rotation refuses an origin left out of its selection the same way (review, 4
 * December, seventh session: such a listener or rule was left on the old value and the rotation
 * reported success). Listeners of other load balancers are not read.
 */
export async function checkOtherListeners(
  client: ElasticLoadBalancingV2Client,
  options: Omit<RuleSelection, 'ownValues'> & {
    readonly current: string;
    readonly pending: string;
  },
): Promise<void> {
  const managedListeners = new Set(options.listenerArns);
  const managedRules = new Set(options.ruleArns);
  const lbArns = [
    ...new Set([...options.listenerArns, ...options.ruleArns].map(loadBalancerArnOf)),
  ];
  const strays: string[] = [];
  for (const lbArn of lbArns)
    for (const listener of await listenersOf(client, lbArn)) {
      if (managedListeners.has(listener.arn)) continue;
      for (const rule of (await describeRules(client, { ListenerArn: listener.arn })).rules) {
        if (rule.RuleArn !== undefined && managedRules.has(rule.RuleArn)) continue;
        const index = headerIndexOf(rule, options.headerName);
        const header = rule.Conditions?.[index]?.HttpHeaderConfig;
        // A pattern the rotation cannot evaluate may accept only AWSCURRENT: reported, not missed.
        if (
          index >= 0 &&
          ((header?.RegexValues ?? []).some((r) => compiledRegex(r) === undefined) ||
            (headerConditionAccepts(header, options.current) &&
              !headerConditionAccepts(header, options.pending)))
        )
          strays.push(
            `rule ${rule.RuleArn} of listener ${listener.arn} (port ${listener.port ?? '?'})`,
          );
      }
    }
  if (strays.length > 0)
    throw new RotationError(
      'unselected-listener',
      `${strays.join(', ')} checks "${options.headerName}" against this secret's value but is in neither listenerArns nor ruleArns, so a rotation would leave it on a value CloudFront stops sending, and it would refuse every request. The step failed before CloudFront was pointed at the new value, or, in testSecret and finishSecret, with AWSCURRENT unmoved (CloudFront already sends the new value, so that listener refuses it now). Add the listener to listenerArns (or the rule to ruleArns) and retry.`,
    );
}

/**
 * The rules to keep in step: each of `ruleArns` (which must have the header condition), and
 * each rule of `listenerArns` whose header condition holds one of `ownValues` (this secret's
 * AWSCURRENT, AWSPREVIOUS and pending values). A listener's other rules on the header belong
 * to someone else (another site's secret on a shared listener) and are left alone; each
 * listener must have at least one rule of ours. The other values of our rules' header
 * conditions go to `formerValuesAmong`, which says which of them are older values of this
 * secret (dropped on the next change); the rest are another site's (kept). Every rule found
 * must have room for the rotation's two header values next to those kept within the ALB's
 * condition-value limits (else `condition-limit`, before any change).
 */
export async function findHeaderRules(
  client: ElasticLoadBalancingV2Client,
  options: RuleSelection & {
    readonly formerValuesAmong: (values: readonly string[]) => Promise<readonly string[]>;
  },
): Promise<HeaderRules> {
  const found = new Map<string, HeaderRule>();
  const headerRuleOf = (rule: Rule, described: DescribedRules): HeaderRule | undefined => {
    const headerIndex = headerIndexOf(rule, options.headerName);
    if (headerIndex < 0 || rule.RuleArn === undefined) return undefined;
    const conditions = rule.Conditions ?? [];
    const have = conditions[headerIndex]?.HttpHeaderConfig?.Values ?? [];
    const foreignValues = have.filter((v) => !options.ownValues.includes(v));
    return {
      arn: rule.RuleArn,
      conditions,
      headerIndex,
      foreignValues,
      formerValues: [],
      receivedConditionPaths: described.receivedConditionPaths.get(rule.RuleArn),
    };
  };
  if (options.ruleArns.length > 0) {
    const described = await describeRules(client, { RuleArns: [...options.ruleArns] });
    for (const rule of described.rules) {
      const headerRule = headerRuleOf(rule, described);
      if (headerRule === undefined)
        throw new RotationError(
          'no-matching-rule',
          `rule ${rule.RuleArn} has no http-header condition on "${options.headerName}"; add one or remove it from ruleArns.`,
        );
      found.set(headerRule.arn, headerRule);
    }
  }
  const otherRuleArns: string[] = [];
  for (const listenerArn of options.listenerArns) {
    let ours = 0;
    const others: string[] = [];
    const described = await describeRules(client, { ListenerArn: listenerArn });
    for (const rule of described.rules) {
      const headerRule = headerRuleOf(rule, described);
      if (headerRule === undefined) continue;
      if (found.has(headerRule.arn)) ours++;
      else if (holdsOneOf(headerRule, options.ownValues)) {
        found.set(headerRule.arn, headerRule);
        ours++;
      } else others.push(headerRule.arn);
    }
    if (ours === 0)
      throw new RotationError(
        'no-matching-rule',
        others.length === 0
          ? `listener ${listenerArn} has no rule with an http-header condition on "${options.headerName}"; add one or remove the listener from listenerArns.`
          : `listener ${listenerArn} has no rule with an http-header condition on "${options.headerName}" that holds one of this secret's values (AWSCURRENT, AWSPREVIOUS or the pending value); its rule(s) ${others.join(', ')} hold other values (another secret's) and were left alone. Put this secret's AWSCURRENT value in the rule that checks it, or name that rule in ruleArns.`,
      );
    otherRuleArns.push(...others);
  }
  const unknown = [...new Set([...found.values()].flatMap((r) => r.foreignValues))];
  const former = unknown.length === 0 ? [] : await options.formerValuesAmong(unknown);
  const rules = [...found.values()].map((rule) => ({
    ...rule,
    foreignValues: rule.foreignValues.filter((v) => !former.includes(v)),
    formerValues: rule.foreignValues.filter((v) => former.includes(v)),
  }));
  for (const rule of rules) checkConditionLimit(rule, options.headerName);
  return { rules, otherRuleArns };
}

/** A condition as ModifyRule takes it: a typed config wins over the legacy `Values`. */
function forModify(c: RuleCondition): RuleCondition {
  const { Values, ...rest } = c;
  const hasConfig = Object.entries(rest).some(([k, v]) => k.endsWith('Config') && v !== undefined);
  return hasConfig ? rest : c;
}

/**
 * Refuse a `ModifyRule` body that leaves out an element path of a condition as DescribeRules
 * returned it: the SDK parsed only the elements its model knows, and ModifyRule replaces the
 * rule's whole condition list, so the others would be removed from the rule (another site's
 * too, on a shared rule). A condition-level `Values` is left out on purpose when the condition
 * has a typed config (see {@link forModify}), and condition-level `RegexValues` when the typed
 * config carries patterns (the header condition's rewrite moves them there). Names only in the
 * message, never values.
 */
function checkConditionsWrittenBack(rule: HeaderRule, body: string): void {
  const received = rule.receivedConditionPaths;
  if (received === undefined)
    throw new RotationError(
      'unmodelled-config',
      `rule ${rule.arn}: the DescribeRules response could not be read as AWS sent it, so this function cannot tell whether ModifyRule would write all of the rule's conditions back. ModifyRule was not sent for any rule of this change.`,
    );
  const sent = formListPaths(body, 'Conditions');
  const missing: string[] = [];
  received.forEach((paths, i) => {
    const out = sent.get(i) ?? new Set<string>();
    const typed = [...out].some((p) => !p.includes('/') && p.endsWith('Config'));
    // Condition-level patterns are sent in the typed config (the header condition's rewrite).
    const typedRegex = [...out].some((p) => /^[A-Za-z]+Config\/RegexValues$/.test(p));
    for (const path of missingPaths(paths, out))
      if (!((path === 'Values' && typed) || (path === 'RegexValues' && typedRegex)))
        missing.push(`Conditions[${i + 1}]/${path}`);
  });
  if (missing.length > 0)
    throw new RotationError(
      'unmodelled-config',
      `rule ${rule.arn}: its conditions hold element(s) that this function's AWS SDK does not know, so the ModifyRule it built leaves them out, and sending it would remove them from the rule (ModifyRule replaces the whole condition list): ${listPaths(missing)}. ModifyRule was not sent for any rule of this change. Deploy the function bundled with a newer @aws-sdk/client-elastic-load-balancing-v2 (esbuild without --external for it; see the README's deployment section), or on a newer Lambda runtime, then retry.`,
    );
}

/** One ModifyRule of {@link setHeaderValues}: checked, and sent unless `dryRun`. */
async function modifyRule(
  client: ElasticLoadBalancingV2Client,
  rule: HeaderRule,
  conditions: RuleCondition[],
  known: string[],
  dryRun: boolean,
): Promise<void> {
  const command = new ModifyRuleCommand({ RuleArn: rule.arn, Conditions: conditions });
  checkRequestBody(command, (body) => checkConditionsWrittenBack(rule, body), { dryRun });
  try {
    await client.send(command);
  } catch (error) {
    if (error instanceof RotationError) throw error;
    // Every header value sent back (another site's values and patterns, another header's
    // condition) may be a secret too.
    throw awsCallFailed(`ModifyRule ${rule.arn}`, error, [
      ...known,
      ...rule.conditions.flatMap((c) => [
        ...(c.HttpHeaderConfig?.Values ?? []),
        ...(c.HttpHeaderConfig?.RegexValues ?? []),
      ]),
    ]);
  }
}

/**
 * Give each rule's header condition this secret's `values` (deduplicated), followed by the
 * rule's {@link HeaderRule.foreignValues} (another site's, kept as they are, like any
 * `RegexValues` and any other setting of the condition); its {@link HeaderRule.formerValues}
 * are dropped. Rules that already hold exactly that are left alone. Every ModifyRule is built
 * and checked first, and none is sent if one would leave out an element of a condition as AWS
 * returned it (`unmodelled-config`). Returns the ARNs modified.
 */
export async function setHeaderValues(
  client: ElasticLoadBalancingV2Client,
  rules: readonly HeaderRule[],
  values: readonly string[],
  known: string[],
): Promise<string[]> {
  const changes: { rule: HeaderRule; conditions: RuleCondition[] }[] = [];
  for (const rule of rules) {
    const wanted = [...new Set([...values, ...rule.foreignValues])];
    const header = rule.conditions[rule.headerIndex];
    const have = header?.HttpHeaderConfig?.Values ?? [];
    if (have.length === wanted.length && wanted.every((v) => have.includes(v))) continue;
    const conditions = rule.conditions.map((c, i) => {
      if (i !== rule.headerIndex) return forModify(c);
      const { RegexValues, ...config } = c.HttpHeaderConfig ?? {};
      // Patterns at the condition's level (RuleCondition.RegexValues, which DescribeRules may
      // echo there too) are kept, in the header config (review, thirteenth session: they were
      // dropped, and the check blamed the SDK).
      const regex = [...new Set([...(RegexValues ?? []), ...(c.RegexValues ?? [])])];
      return {
        Field: 'http-header',
        HttpHeaderConfig: {
          ...config,
          Values: wanted,
          ...(regex.length === 0 ? {} : { RegexValues: regex }),
        },
      };
    });
    changes.push({ rule, conditions });
  }
  for (const { rule, conditions } of changes)
    await modifyRule(client, rule, conditions, known, true);
  const modified: string[] = [];
  for (const { rule, conditions } of changes) {
    await modifyRule(client, rule, conditions, known, false);
    modified.push(rule.arn);
  }
  return modified;
}

/** The load balancer ARN inside a listener or listener-rule ARN. */
export function loadBalancerArnOf(arn: string): string {
  const m =
    /^(arn:[^:]+:elasticloadbalancing:[^:]*:[^:]*:)listener(?:-rule)?\/(app\/[^/]+\/[^/]+)\//.exec(
      arn,
    );
  if (m === null)
    throw new RotationError(
      'no-matching-rule',
      `${arn} is not an Application Load Balancer listener or rule ARN.`,
    );
  return `${m[1]}loadbalancer/${m[2]}`;
}

/** DNS names (lower case) of the load balancers behind `arns` (listener or rule ARNs). */
export async function loadBalancerDomainNames(
  client: ElasticLoadBalancingV2Client,
  arns: readonly string[],
): Promise<string[]> {
  const lbArns = [...new Set(arns.map(loadBalancerArnOf))];
  if (lbArns.length === 0) return [];
  try {
    const out = await client.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: lbArns }));
    return (out.LoadBalancers ?? []).flatMap((lb) =>
      lb.DNSName === undefined ? [] : [lb.DNSName.toLowerCase()],
    );
  } catch (error) {
    throw awsCallFailed(`DescribeLoadBalancers (${lbArns.join(', ')})`, error, []);
  }
}
