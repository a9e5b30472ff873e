/**
 * CloudFront distribution: the origins at the ALB carry the header with a current value, over HTTPS.
 * @module
 */
import { STAGES } from '../constants.js';
import { bareDomain } from '../net.js';
import { matchingStages, type SecretText } from '../secret-text.js';
import type {
  AccountSnapshot,
  DistributionInfo,
  Finding,
  ListenerInfo,
  OriginInfo,
  RuleInfo,
} from '../types.js';
import {
  catchAll,
  checksHeader,
  headerPatterns,
  headerValuesOf,
  holdsSecretValue,
  upgradesToHttps,
} from './listener-rules.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'cloudfront-distribution', title: 'CloudFront distribution' } as const;

/**
 * How an origin is judged. `alb`: at the ALB's DNS name (or `dualstack.` + it, any case, with or
 * without a trailing dot). `named`: sends the header from a distribution named with
 * `--distribution` (the way to audit an origin on a custom domain). `secret`: sends the header
 * to another domain with a value of the secret (a CNAME of the ALB, found by ListDistributions).
 * `unknown`: sends the header to another domain, its value not compared (no `--secret-id`, or
 * the values unread). `other-site`: sends the header to another domain with no value of the
 * secret: another site on the same header name, with its own secret. `undefined`: neither at the
 * ALB nor sending the header (an S3 bucket, another app).
 */
export type OriginRole = 'alb' | 'named' | 'secret' | 'unknown' | 'other-site';

/** The role of `origin` of `distribution` ({@link OriginRole}). */
export function roleOf(
  snapshot: Pick<AccountSnapshot, 'loadBalancer' | 'headerName' | 'secret'>,
  distribution: DistributionInfo,
  origin: OriginInfo,
): OriginRole | undefined {
  const { loadBalancer, headerName, secret } = snapshot;
  if (bareDomain(origin.domainName) === bareDomain(loadBalancer.dnsName)) return 'alb';
  const value = origin.headers.get(headerName);
  if (value === undefined) return undefined;
  if (distribution.listed !== true) return 'named';
  if (!secret.ok) return 'unknown';
  return matchingStages(value, secret.value.values).length > 0 ? 'secret' : 'other-site';
}

/** An Elastic Load Balancing DNS name (`*.elb.amazonaws.com`, China `.com.cn`). */
const LOAD_BALANCER_DOMAIN = /\.elb\.amazonaws\.com(\.cn)?$/;

/**
 * Whether `origin` sends a value of the secret to another load balancer's DNS name (not a CNAME,
 * which may be this ALB's): that ALB's listeners answer it, not this one's.
 */
function atOtherLoadBalancer(
  snapshot: AccountSnapshot,
  distribution: DistributionInfo,
  origin: OriginInfo,
): boolean {
  return (
    roleOf(snapshot, distribution, origin) === 'secret' &&
    LOAD_BALANCER_DOMAIN.test(bareDomain(origin.domainName))
  );
}

/** Roles of the origins this site's: judged in full. */
const OWN_ROLES: ReadonlySet<OriginRole | undefined> = new Set(['alb', 'named', 'secret']);

/**
 * Origins of `distribution` that are this site's: at the ALB, sending the header from a
 * distribution named with `--distribution`, or sending a value of the secret elsewhere.
 */
export function ownOrigins(
  snapshot: Pick<AccountSnapshot, 'loadBalancer' | 'headerName' | 'secret'>,
  distribution: DistributionInfo,
): OriginInfo[] {
  return distribution.origins.filter((o) => OWN_ROLES.has(roleOf(snapshot, distribution, o)));
}

/**
 * What is said of an origin that sends the header to another domain than the ALB's and is not
 * known to be this site's: without the secret's values, a WARN (it may be this site's, on a
 * CNAME of the ALB, sending the header in clear text); with them and no value of the secret, a
 * PASS note that it is another site's, not judged (never drift: another site behind its own ALB
 * may use the same header name with its own secret).
 */
function otherOriginFinding(
  snapshot: AccountSnapshot,
  distribution: DistributionInfo,
  origin: OriginInfo,
): Finding {
  const { headerName, secret } = snapshot;
  const where = `${distribution.id} origin ${origin.id} sends ${headerName} to ${origin.domainName}, not the ALB's DNS name`;
  const evidence = {
    distribution: distribution.id,
    origin: origin.id,
    domain: origin.domainName,
    originProtocolPolicy: origin.protocolPolicy ?? 'none',
  };
  if (secret.ok)
    return pass(
      `${where}, with a value that is no stage of ${secret.value.name}: another site's origin, not judged against this secret (if it reaches this ALB through a CNAME, it has drifted past every stage: pass --distribution ${distribution.id} to judge it)`,
      { ...evidence, otherSite: true },
    );
  return warn(
    secret.skip.reason === 'not-requested'
      ? `${where}; pass --secret-id to tell whether it is this site's`
      : `${where}; its value was not compared (${secret.skip.message}), so whether it is this site's is not known`,
    `Pass --secret-id (an origin sending a value of the secret is judged as this site's), or --distribution ${distribution.id} if it reaches this ALB through a custom domain`,
    evidence,
  );
}

type Protocol = 'HTTPS' | 'HTTP';

/** The protocols an origin with `policy` connects over: HTTPS, HTTP, or both (`match-viewer`, or not known). */
function protocolsOf(policy: string | undefined): Protocol[] {
  return policy === 'https-only'
    ? ['HTTPS']
    : policy === 'http-only'
      ? ['HTTP']
      : ['HTTPS', 'HTTP'];
}

/** The port the origin connects to over `protocol` (`HTTPSPort` / `HTTPPort`), when read. */
function portOf(origin: OriginInfo, protocol: Protocol): number | undefined {
  return protocol === 'HTTPS' ? origin.ports?.https : origin.ports?.http;
}

/** Whether `listener` is one `origin` connects to over `protocol`: that protocol, on its port when read. */
function answers(listener: ListenerInfo, origin: OriginInfo, protocol: Protocol): boolean {
  const port = portOf(origin, protocol);
  return listener.protocol === protocol && (port === undefined || listener.port === port);
}

/**
 * The listeners an origin connects to: HTTPS ones, HTTP ones, or both, each on the origin's
 * port for that protocol when it was read (`HTTPSPort`, `HTTPPort`).
 */
function listenersFor(listeners: readonly ListenerInfo[], origin: OriginInfo): ListenerInfo[] {
  const protocols = protocolsOf(origin.protocolPolicy);
  return listeners.filter((l) => protocols.some((p) => answers(l, origin, p)));
}

/**
 * A protocol the origin connects over that no listener answers (none of that protocol on the
 * origin's port): every request CloudFront sends that way fails (review, thirteenth session: an
 * `https-only` origin in front of an ALB with `HTTP:80` alone PASSed). A FAIL; a WARN for the
 * HTTP side of `match-viewer` (only viewers on HTTP are sent there, none when the cache
 * behaviours redirect them to HTTPS). Not judged when the policy is not known (an S3 origin, a
 * VPC origin that could not be read).
 */
function unansweredFindings(
  snapshot: AccountSnapshot,
  origin: OriginInfo,
  context: { where: string; update: string; evidence: Readonly<Record<string, string>> },
): Finding[] {
  const { listeners, loadBalancer } = snapshot;
  if (!listeners.ok || origin.protocolPolicy === undefined) return [];
  const { where, update, evidence } = context;
  const findings: Finding[] = [];
  for (const protocol of protocolsOf(origin.protocolPolicy)) {
    if (listeners.value.some((l) => answers(l, origin, protocol))) continue;
    const port = portOf(origin, protocol);
    const on = port === undefined ? '' : ` on port ${port}`;
    const have = listeners.value.map((l) => `${l.protocol}:${l.port}`);
    const field = protocol === 'HTTPS' ? 'HTTPSPort' : 'HTTPPort';
    const setPort =
      origin.vpcOrigin === undefined
        ? `${update}.CustomOriginConfig.${field}`
        : `aws cloudfront update-vpc-origin --id ${origin.vpcOrigin.id} --if-match <ETag> with VpcOriginEndpointConfig.${field}`;
    const fix = `Set ${setPort} to the port of the ALB's ${protocol} listener (it has ${have.length > 0 ? have.join(', ') : 'none'}), or add one: aws elbv2 create-listener --load-balancer-arn ${loadBalancer.arn} --protocol ${protocol} --port ${port ?? (protocol === 'HTTPS' ? 443 : 80)}${protocol === 'HTTPS' ? ' --certificates CertificateArn=<the site certificate>' : ''} ... with the header rule`;
    const found = {
      ...evidence,
      protocol,
      ...(port === undefined ? {} : { port }),
      listeners: have,
    };
    findings.push(
      origin.protocolPolicy === 'match-viewer' && protocol === 'HTTP'
        ? warn(
            `${where}: no listener answers CloudFront's HTTP${on}: with match-viewer, every request from a viewer on HTTP fails (none if the cache behaviours redirect viewers to HTTPS)`,
            `${fix}; or set the origin to https-only`,
            found,
          )
        : fail(
            `${where}: no listener answers CloudFront's ${protocol}${on} (${origin.protocolPolicy}): every request through CloudFront ${origin.protocolPolicy === 'match-viewer' ? 'from a viewer on HTTPS ' : ''}fails`,
            fix,
            found,
          ),
    );
  }
  return findings;
}

/** The header values a rule lets through to the app (a header rule that does not answer itself). */
function acceptedValues(rule: RuleInfo, headerName: string): SecretText[] {
  if (rule.action.type === 'fixed-response') return [];
  return headerValuesOf(rule, headerName);
}

/** Whether a rule hands the request on: to the app, or to the HTTPS listener (judged on its own). */
function handsOn(rule: RuleInfo): boolean {
  const { type } = rule.action;
  return type === 'forward' || type.startsWith('authenticate') || upgradesToHttps(rule);
}

/**
 * Whether `listener` may hand on a request carrying `value`: a rule that hands requests on and
 * either has no condition on the header or holds the value (ignoring case, as the ALB compares).
 */
function mayHandOn(listener: ListenerInfo, headerName: string, value: SecretText): boolean {
  return listener.rules.some(
    (r) =>
      handsOn(r) &&
      (!checksHeader(r, headerName) ||
        headerValuesOf(r, headerName).some((v) => value.equalsIgnoringCase(v)) ||
        headerPatterns(r, headerName) > 0),
  );
}

/**
 * A listener the origin connects to with no rule on the header and no rule that hands a request
 * on (only fixed responses and redirects elsewhere): every request CloudFront sends there gets
 * the listener's own answer (outside review, 4 December: this was left to listener-rules, which
 * passes a catch-all 403, and the audit passed an ALB that forwarded nothing CloudFront sent).
 * A FAIL, unless another listener of the same protocol may hand the value on (when the origin's
 * port was not read, so the origin may connect there) or the origin uses match-viewer and this is an
 * HTTP listener (only viewers on HTTP land there): then a WARN.
 */
function denyingListenerFinding(
  listener: ListenerInfo,
  sent: {
    where: string;
    origin: OriginInfo;
    value: SecretText;
    evidence: Readonly<Record<string, string>>;
  },
  listeners: readonly ListenerInfo[],
  headerName: string,
): Finding | undefined {
  if (listener.rules.some(handsOn)) return undefined;
  const { where, origin, value, evidence } = sent;
  const on = `${listener.protocol}:${listener.port}`;
  const answer = listener.rules.find((r) => r.priority === 'default')?.action;
  const answerText =
    answer === undefined
      ? ''
      : ` (the default action is ${answer.type}${answer.statusCode === undefined ? '' : ` ${answer.statusCode}`})`;
  const create = `aws elbv2 create-rule --listener-arn ${listener.arn} --priority <n> --conditions Field=http-header,HttpHeaderConfig={HttpHeaderName=${headerName},Values=[<AWSCURRENT of the secret>]} --actions Type=forward,TargetGroupArn=<the app's target group> (the rotation function keeps its values in step)`;
  const listenerEvidence = { ...evidence, listener: listener.arn, port: listener.port };
  const elsewhere = listeners.filter(
    (l) => l !== listener && l.protocol === listener.protocol && mayHandOn(l, headerName, value),
  );
  if (
    origin.vpcOrigin !== undefined &&
    origin.protocolPolicy === undefined &&
    listener.protocol === 'HTTP'
  )
    return warn(
      `${where}: no rule on ${on} forwards the ${headerName} value${answerText}: if VPC origin ${origin.vpcOrigin.id} connects over HTTP (its protocol policy was not read), every request through CloudFront is denied`,
      `Check that aws cloudfront get-vpc-origin --id ${origin.vpcOrigin.id} shows OriginProtocolPolicy https-only; else make ${on} redirect to HTTPS on the same host`,
      listenerEvidence,
    );
  if (origin.protocolPolicy === 'match-viewer' && listener.protocol === 'HTTP')
    return warn(
      `${where}: no rule on ${on} forwards the ${headerName} value${answerText}: with match-viewer, every request CloudFront sends over HTTP (viewers on HTTP) is denied`,
      `Set the origin to https-only, or make ${on} redirect to HTTPS on the same host`,
      listenerEvidence,
    );
  if (elsewhere.length > 0)
    return warn(
      `${where}: no rule on ${on} forwards the ${headerName} value${answerText}; ${elsewhere.map((l) => `${l.protocol}:${l.port}`).join(', ')} may: if the origin connects to ${on}, the ALB denies every request through CloudFront`,
      `Check the origin's ${listener.protocol} port; if it is ${listener.port}: ${create}`,
      { ...listenerEvidence, alsoListeners: elsewhere.map((l) => l.arn) },
    );
  return fail(
    `${where}: no rule on ${on} forwards the ${headerName} value${answerText}: the ALB denies every request through CloudFront`,
    `Add the header rule: ${create}`,
    listenerEvidence,
  );
}

/**
 * The first rule before every one of `accepting` that answers every request itself (a catch-all
 * fixed response, or a redirect other than to HTTPS on the same host, not on the header): then
 * no request reaches the header rules, and CloudFront's requests get that answer (outside
 * review, 4 December: listener-rules passed such a catch-all 403, and this check said the ALB
 * accepted the value). A same-host redirect to HTTPS hands the request to the HTTPS listener,
 * which is judged on its own.
 */
function shadowingRule(
  listener: ListenerInfo,
  headerName: string,
  accepting: readonly RuleInfo[],
): RuleInfo | undefined {
  const first = Math.min(
    ...accepting.map((r) => (r.priority === 'default' ? Infinity : r.priority)),
  );
  return [...listener.rules]
    .filter(
      (r): r is RuleInfo & { priority: number } => r.priority !== 'default' && r.priority < first,
    )
    .sort((a, b) => a.priority - b.priority)
    .find(
      (r) =>
        !checksHeader(r, headerName) &&
        catchAll(r) &&
        (r.action.type === 'fixed-response' ||
          (r.action.type === 'redirect' && !upgradesToHttps(r))),
    );
}

/**
 * Does the ALB accept what the origin sends? For each listener the origin connects to that has
 * header rules on `headerName`, the sent value must be one a header rule forwards; one without
 * header rules must have a rule that hands requests on. Otherwise every request through
 * CloudFront gets the listener's denial. Values are named by their Secrets Manager stage when
 * the secret was read, never printed.
 */
function acceptanceFindings(
  snapshot: AccountSnapshot,
  where: string,
  origin: OriginInfo,
  value: SecretText,
  evidence: Readonly<Record<string, string>>,
): Finding[] {
  const { listeners, headerName, secret } = snapshot;
  if (!listeners.ok) return [];
  const stages = secret.ok ? secret.value.values : new Map<string, SecretText>();
  const named = (v: SecretText) => {
    const m = matchingStages(v, stages);
    if (m.length > 0) return m.join(' = ');
    return secret.ok
      ? 'a value Secrets Manager does not hold'
      : 'a value not compared with Secrets Manager';
  };
  const findings: Finding[] = [];
  const connected = listenersFor(listeners.value, origin);
  for (const listener of connected) {
    const headerRules = listener.rules.filter((r) => checksHeader(r, headerName));
    if (headerRules.length === 0) {
      const denied = denyingListenerFinding(
        listener,
        { where, origin, value, evidence },
        connected,
        headerName,
      );
      if (denied !== undefined) findings.push(denied);
      continue;
    }
    const on = `${listener.protocol}:${listener.port}`;
    const accepting = headerRules.filter((r) => value.equalsAny(acceptedValues(r, headerName)));
    const accepted = headerRules.flatMap((r) => acceptedValues(r, headerName));
    const acceptedNames = secret.ok
      ? [...new Set(accepted.map(named))].sort()
      : [`${accepted.length} value(s)`];
    const listenerEvidence = {
      ...evidence,
      listener: listener.arn,
      port: listener.port,
      sends: named(value),
      accepts: acceptedNames,
    };
    // The ALB compares header values ignoring case: a rule holding the value in another case
    // still forwards it (outside review, 4 December: that was reported as denying everything).
    const acceptingFolded =
      accepting.length > 0
        ? accepting
        : headerRules.filter((r) =>
            acceptedValues(r, headerName).some((v) => value.equalsIgnoringCase(v)),
          );
    if (acceptingFolded.length > 0) {
      const shadow = shadowingRule(listener, headerName, acceptingFolded);
      const priorities = acceptingFolded.map((r) => r.priority).join(', ');
      const rules = acceptingFolded.map((r) => r.arn);
      if (shadow !== undefined)
        findings.push(
          fail(
            `${where}: the header rule that accepts the ${headerName} value it sends on ${on} (priority ${priorities}) comes after rule priority ${shadow.priority}, which answers every request itself (${shadow.action.type}${shadow.action.statusCode === undefined ? '' : ` ${shadow.action.statusCode}`}): no request through CloudFront reaches the app on ${on}`,
            `Give the header rule a lower priority number than ${shadow.priority} (aws elbv2 set-rule-priorities --rule-priorities RuleArn=${rules[0]},Priority=<below ${shadow.priority}>), or narrow rule ${shadow.arn}`,
            { ...listenerEvidence, rules, shadowedBy: shadow.arn },
          ),
        );
      else if (accepting.length > 0)
        findings.push(
          pass(
            `${where}: the ALB accepts the ${headerName} value it sends on ${on} (rule priority ${priorities})`,
            { ...listenerEvidence, rules },
          ),
        );
      else
        findings.push(
          warn(
            `${where}: the ALB accepts the ${headerName} value it sends on ${on} only because it compares header values ignoring case: rule priority ${priorities} holds it in another case`,
            `Set the header rule's value to the exact value the origin sends (aws elbv2 modify-rule --rule-arn ${rules[0]} ...); the rotation function writes the exact values`,
            { ...listenerEvidence, rules },
          ),
        );
      continue;
    }
    // This secret's rule, when the secret was read: on a listener shared with another site the
    // other site's rule must not be given this value.
    const own = headerRules.find((r) => holdsSecretValue(r, headerName, stages));
    const patterns = headerRules.reduce((n, r) => n + headerPatterns(r, headerName), 0);
    if (patterns > 0) {
      // A pattern may match the value sent; only digests are kept, so this cannot be told.
      findings.push(
        warn(
          `${where} sends ${headerName} = ${named(value)}, which no exact value of a header rule on ${on} accepts; ${patterns} pattern value(s) were not compared`,
          `Give the header rules on ${on} exact values only (AWSCURRENT, and AWSPENDING during a rotation): listener-rules reports the patterns`,
          { ...listenerEvidence, rules: headerRules.map((r) => r.arn), patternValues: patterns },
        ),
      );
      continue;
    }
    findings.push(
      fail(
        `${where} sends ${headerName} = ${named(value)}, which no header rule on ${on} accepts (they accept ${acceptedNames.length > 0 ? acceptedNames.join(', ') : 'nothing'}): the ALB denies every request through CloudFront`,
        `Add the value CloudFront sends to this site's header rule: aws elbv2 modify-rule --rule-arn ${own?.arn ?? "<this site's header rule, not another site's on a shared listener (see alb-rule-values)>"} --conditions with http-header ${headerName} values = AWSCURRENT and AWSPENDING of the secret (the rotation function's setSecret step does this before CloudFront switches); or set the origin's ${headerName} back to a value the rule accepts`,
        { ...listenerEvidence, rules: headerRules.map((r) => r.arn) },
      ),
    );
  }
  return findings;
}

/**
 * How the origin connects: `https-only` passes, `match-viewer` warns, `http-only` fails for a
 * custom origin (the header crosses the internet in clear text). A VPC origin connects inside
 * AWS's network to the ALB in its VPC: its own policy (read with GetVpcOrigin) is judged, HTTP
 * warned about, never failed as crossing the internet; when it could not be read, a WARN says
 * it was not judged and why.
 */
function policyFinding(
  origin: OriginInfo,
  context: {
    where: string;
    headerName: string;
    update: string;
    evidence: Readonly<Record<string, string>>;
  },
): Finding {
  const { where, headerName, update, evidence } = context;
  const vpc = origin.vpcOrigin;
  const policy = origin.protocolPolicy ?? 'none';
  const policyEvidence = {
    ...evidence,
    originProtocolPolicy: policy,
    ...(vpc === undefined ? {} : { vpcOrigin: vpc.id }),
  };
  if (vpc !== undefined) {
    const setPolicy = `aws cloudfront get-vpc-origin --id ${vpc.id}, then aws cloudfront update-vpc-origin --id ${vpc.id} --if-match <ETag> --vpc-origin-endpoint-config with OriginProtocolPolicy=https-only (and give the ALB an HTTPS listener)`;
    if (origin.protocolPolicy === undefined)
      return warn(
        `${where} connects through VPC origin ${vpc.id}, whose protocol policy was not judged: ${vpc.unread?.message ?? 'GetVpcOrigin gave none'}`,
        vpc.unread?.reason === 'access-denied'
          ? `Grant ${vpc.unread.missingAction ?? 'cloudfront:GetVpcOrigin'} to the audit, or check by hand that aws cloudfront get-vpc-origin --id ${vpc.id} shows OriginProtocolPolicy https-only`
          : `Check by hand that aws cloudfront get-vpc-origin --id ${vpc.id} shows OriginProtocolPolicy https-only`,
        policyEvidence,
      );
    if (policy === 'https-only')
      return pass(`${where} uses https-only to VPC origin ${vpc.id}`, policyEvidence);
    return warn(
      `${where} uses ${policy} to VPC origin ${vpc.id}: ${policy === 'match-viewer' ? 'viewers on HTTP make CloudFront send' : 'CloudFront sends'} ${headerName} in clear text inside AWS's network to the ALB in the VPC (not across the internet)`,
      setPolicy,
      policyEvidence,
    );
  }
  if (policy === 'https-only')
    return pass(`${where} uses https-only to the origin`, policyEvidence);
  if (policy === 'match-viewer')
    return warn(
      `${where} uses match-viewer: viewers on HTTP make CloudFront send ${headerName} in clear text`,
      `${update}.CustomOriginConfig.OriginProtocolPolicy = https-only`,
      policyEvidence,
    );
  return fail(
    `${where} uses ${policy} to the origin: ${headerName} crosses the internet in clear text`,
    `${update}.CustomOriginConfig.OriginProtocolPolicy = https-only (and give the ALB an HTTPS listener)`,
    policyEvidence,
  );
}

function originFindings(
  snapshot: AccountSnapshot,
  distribution: DistributionInfo,
  origin: OriginInfo,
): Finding[] {
  const { headerName, secret } = snapshot;
  const where = `${distribution.id} origin ${origin.id}`;
  const evidence = { distribution: distribution.id, origin: origin.id, domain: origin.domainName };
  const update = `aws cloudfront get-distribution-config --id ${distribution.id}, edit Origins[${origin.id}]`;
  const findings: Finding[] = [];
  const value = origin.headers.get(headerName);
  if (value === undefined) {
    findings.push(
      fail(
        `${where} sends no ${headerName} header`,
        `${update}.CustomHeaders to add ${headerName} = the secret's AWSCURRENT value, then update-distribution --if-match <ETag>`,
        evidence,
      ),
    );
  } else if (!secret.ok) {
    findings.push(
      warn(
        `${where} sends ${headerName}, but its value was not compared: ${secret.skip.message}`,
        secret.skip.reason === 'not-requested'
          ? 'Pass --secret-id so the value is compared with Secrets Manager'
          : `Grant ${secret.skip.missingAction ?? 'secretsmanager:GetSecretValue'} to the audit`,
        evidence,
      ),
    );
  } else {
    const stages = matchingStages(value, secret.value.values);
    if (stages.includes(STAGES.current) || stages.includes(STAGES.pending)) {
      findings.push(
        pass(`${where} sends ${headerName} equal to ${stages.join(' = ')}`, {
          ...evidence,
          matches: stages,
        }),
      );
    } else {
      findings.push(
        fail(
          stages.length > 0
            ? `${where} sends ${headerName} equal to ${stages.join(', ')} only: the header has drifted from AWSCURRENT`
            : `${where} sends a ${headerName} value that matches no stage of ${secret.value.name}: the header has drifted`,
          `${update}.CustomHeaders so ${headerName} = AWSCURRENT of ${secret.value.name} (or let the rotation function do it)`,
          { ...evidence, matches: stages },
        ),
      );
    }
  }
  // An origin at another load balancer that sends a value of the secret (one secret shared by
  // two ALBs) exposes the secret like this site's, so its value and protocol are judged, but it
  // connects to that load balancer's listeners, not to this one's.
  if (!atOtherLoadBalancer(snapshot, distribution, origin)) {
    findings.push(...unansweredFindings(snapshot, origin, { where, update, evidence }));
    if (value !== undefined)
      findings.push(...acceptanceFindings(snapshot, where, origin, value, evidence));
  }
  findings.push(policyFinding(origin, { where, headerName, update, evidence }));
  return findings;
}

function run(snapshot: AccountSnapshot) {
  const { distributions, loadBalancer, headerName, secret } = snapshot;
  const skip = firstSkip(distributions);
  if (skip !== undefined || !distributions.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const findings: Finding[] = [];
  const own = new Map(distributions.value.map((d) => [d, ownOrigins(snapshot, d)]));
  if (!distributions.value.some((d) => d.listed !== true || (own.get(d)?.length ?? 0) > 0)) {
    findings.push(
      warn(
        `No CloudFront distribution has an origin at ${loadBalancer.dnsName}${secret.ok ? ` or sends ${headerName} with a value of ${secret.value.name}` : ''}`,
        'Pass --distribution <id> when the origin uses a custom domain name',
        { dnsName: loadBalancer.dnsName },
      ),
    );
  }
  for (const distribution of distributions.value) {
    const origins = own.get(distribution) ?? [];
    if (origins.length === 0 && distribution.listed !== true) {
      findings.push(
        fail(
          `${distribution.id} has no origin at ${loadBalancer.dnsName} and none sends ${headerName}`,
          `Point an origin of ${distribution.id} at the ALB with the ${headerName} custom header`,
          { distribution: distribution.id, origins: distribution.origins.map((o) => o.id) },
        ),
      );
    }
    for (const origin of origins) findings.push(...originFindings(snapshot, distribution, origin));
    for (const origin of distribution.origins) {
      const role = roleOf(snapshot, distribution, origin);
      if (role === 'unknown' || role === 'other-site')
        findings.push(otherOriginFinding(snapshot, distribution, origin));
    }
    // Another site's distribution (every origin sending the header elsewhere): its deployment
    // is not this site's concern.
    if (origins.length === 0) continue;
    if (distribution.status === 'Deployed') {
      findings.push(pass(`${distribution.id} is Deployed`, { distribution: distribution.id }));
    } else {
      findings.push(
        warn(
          `${distribution.id} is ${distribution.status}: edges may still send the previous configuration`,
          `aws cloudfront wait distribution-deployed --id ${distribution.id}, then audit again`,
          { distribution: distribution.id, status: distribution.status },
        ),
      );
    }
  }
  return result(check, findings);
}

/** CloudFront distribution. */
export const distributionCheck: Check = { ...check, run };
