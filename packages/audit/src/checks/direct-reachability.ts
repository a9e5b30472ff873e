/**
 * Direct reachability (`--probe`): the ALB's DNS name must not serve a request without the header.
 * @module
 */
import { bareDomain } from '../net.js';
import type { AccountSnapshot, ConditionInfo, Finding, ProbeResult, RuleInfo } from '../types.js';
import { upgradesToHttps } from './listener-rules.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'direct-reachability', title: 'Direct reachability (--probe)' } as const;

/** The status codes of an ALB redirect action (`HTTP_301`, `HTTP_302`). */
const ALB_REDIRECTS: ReadonlySet<number> = new Set([301, 302]);

/**
 * Whether `probe` was answered with a redirect to HTTPS on the host it asked (the shape of an
 * HTTP listener that upgrades every request, which listener-rules passes).
 */
function redirectsToHttpsSameHost(probe: ProbeResult): boolean {
  if (!ALB_REDIRECTS.has(probe.statusCode ?? 0) || probe.location === undefined) return false;
  try {
    const asked = new URL(probe.url);
    const to = new URL(probe.location, probe.url);
    return to.protocol === 'https:' && bareDomain(to.hostname) === bareDomain(asked.hostname);
  } catch {
    return false;
  }
}

/** Whether ALB's `*` / `?` pattern `pattern` matches all of `text`. */
function albPatternMatches(pattern: string, text: string, ignoreCase: boolean): boolean {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, ignoreCase ? 'is' : 's').test(text);
}

/**
 * Whether a rule condition matches the probe (`GET <path>` on the ALB's name, without the
 * header): `yes`, `no`, or `maybe` for what the audit cannot tell (another header, the source
 * address, the method or query as the snapshot keeps them).
 */
function conditionMatches(
  c: ConditionInfo,
  probe: { path: string; host: string; query: string },
  headerName: string,
): 'yes' | 'no' | 'maybe' {
  if (c.field === 'path-pattern' && c.values.length > 0)
    return c.values.some((v) => albPatternMatches(v, probe.path, false)) ? 'yes' : 'no';
  if (c.field === 'host-header' && c.values.length > 0)
    return c.values.some((v) => albPatternMatches(v, probe.host, true)) ? 'yes' : 'no';
  // The probe is a GET (method names are exact and upper case in ALB).
  if (c.field === 'http-request-method' && c.values.length > 0)
    return c.values.includes('GET') ? 'yes' : 'no';
  if (c.field === 'http-header' && c.headerName === headerName) return 'no'; // never sent
  if (c.field === 'query-string' && probe.query === '') return 'no'; // no pair to match
  return 'maybe';
}

/**
 * Whether the listener `probe` went to answered it with its own redirect to HTTPS on the same
 * host, as ALB picks a rule (priority order, the default last, the first whose conditions all
 * match): `confirmed` when that rule is such a redirect, `unread` when the rules could not be
 * read, `uncertain` when it depends on a condition the audit cannot tell (another header, the
 * source address), else `no`: the app sent the redirect (review, 4
 * December, seventh session: any upgrading rule of the listener, e.g. one for `/login`, was
 * taken as the answer to the probe of `/`).
 */
function listenerUpgrades(
  snapshot: AccountSnapshot,
  probe: ProbeResult,
): 'confirmed' | 'unread' | 'uncertain' | 'no' {
  if (!snapshot.listeners.ok) return 'unread';
  const asked = new URL(probe.url);
  const protocol = asked.protocol === 'https:' ? 'HTTPS' : 'HTTP';
  const port = Number(asked.port || (protocol === 'HTTPS' ? 443 : 80));
  const listener = snapshot.listeners.value.find((l) => l.protocol === protocol && l.port === port);
  if (listener === undefined) return 'no';
  const request = {
    path: asked.pathname,
    host: asked.hostname.replace(/^\[|\]$/g, ''),
    query: asked.search,
  };
  const order = (r: RuleInfo) => (r.priority === 'default' ? Number.POSITIVE_INFINITY : r.priority);
  // Rules that may have answered before the one that surely did: an upgrade, or anything else.
  let maybeUpgrade = false;
  let maybeOther = false;
  for (const rule of [...listener.rules].sort((a, b) => order(a) - order(b))) {
    const matches = rule.conditions.map((c) => conditionMatches(c, request, snapshot.headerName));
    if (matches.includes('no')) continue;
    const upgrades = upgradesToHttps(rule);
    if (matches.includes('maybe')) {
      if (upgrades) maybeUpgrade = true;
      else maybeOther = true;
      continue;
    }
    if (upgrades) return maybeOther ? 'uncertain' : 'confirmed';
    return maybeUpgrade ? 'uncertain' : 'no';
  }
  return maybeUpgrade ? 'uncertain' : 'no';
}

function run(snapshot: AccountSnapshot) {
  const { probes, headerName } = snapshot;
  const skip = firstSkip(probes);
  if (skip !== undefined || !probes.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const findings: Finding[] = probes.value.map((p) => {
    const evidence = {
      url: p.url,
      outcome: p.outcome,
      statusCode: p.statusCode,
      location: p.location,
      detail: p.detail,
    };
    // No answer at all (DNS, routing, TLS): nothing was learned, so it is not a PASS.
    if (p.outcome === 'error')
      return warn(
        `${p.url} without ${headerName}: could not probe: ${p.detail ?? 'error'}`,
        "Run the audit where the ALB's DNS name resolves and routes (or pass --probe-address <ALB node IP>), then probe again",
        evidence,
      );
    if (p.outcome !== 'served')
      return pass(`${p.url} without ${headerName}: ${p.outcome}`, evidence);
    const code = p.statusCode ?? 0;
    if (code >= 400 && code < 500) return pass(`${p.url} without ${headerName}: ${code}`, evidence);
    const fix =
      'Allow only the CloudFront origin-facing prefix list in the ALB security group, make the listener default a fixed 403, and point uptime checks at the CloudFront URL';
    if (code >= 500)
      return warn(
        `${p.url} without ${headerName}: ${code} (reached the ALB, not a 4xx)`,
        fix,
        evidence,
      );
    if (redirectsToHttpsSameHost(p)) {
      // The redirect listener-rules recommends for plain HTTP: nothing is served here, and the
      // HTTPS listener it points to is probed and judged on its own.
      const upgrades = listenerUpgrades(snapshot, p);
      if (upgrades === 'confirmed')
        return pass(
          `${p.url} without ${headerName}: ${code} to HTTPS on the same host (the listener's redirect; the HTTPS listener is probed on its own)`,
          evidence,
        );
      if (upgrades === 'unread')
        return warn(
          `${p.url} without ${headerName}: ${code} to HTTPS on the same host, not confirmed against the listener rules (they could not be read)`,
          'Grant elasticloadbalancing:DescribeRules to the audit, then probe again',
          evidence,
        );
      if (upgrades === 'uncertain')
        return warn(
          `${p.url} without ${headerName}: ${code} to HTTPS on the same host, not confirmed as the listener's redirect (a rule before it has a condition the audit cannot evaluate: another header or the source address)`,
          "Make the HTTP listener's default (or a /* rule before any other) the redirect to HTTPS, then probe again",
          evidence,
        );
    }
    return fail(
      `${p.url} without ${headerName} was served (${code}): the ALB is reachable around CloudFront`,
      fix,
      evidence,
    );
  });
  return result(check, findings);
}

/** Direct reachability. */
export const directReachabilityCheck: Check = { ...check, run };
