/**
 * The decision pipeline: path rules, then the edge, cf-id and secret checks, each enforced
 * or only reported. Hot code, kept together: synchronous, no I/O, no closure, and no
 * intermediate object on the path of a verified request.
 * @module
 */
import { type CfIdHit, checkCfId } from './checks/cf-id.js';
import { type EdgeHit, EdgeWalker, newEdgeHit } from './checks/edge.js';
import {
  CHECK_OF_REASON,
  type CheckName,
  type Decision,
  type DeniedDecision,
  type DenyReason,
  type SecretStage,
} from './decision.js';
import { type Family, formatIp, isDottedQuadText, parseIp } from './net/address.js';
import type { RangeMatcher } from './net/matcher.js';
import type { ResolvedOptions, VerifyInput } from './options/types.js';
import {
  forwardedForLines,
  HEALTH_CHECK_MAX_HEADER_LINES,
  headerLineCount,
  NODE_MAX_HEADER_LINES,
  showHop,
} from './request/forwarded.js';
import { singleHeader } from './request/headers.js';
import { collapsedPath, matchablePath } from './request/path.js';
import type { SecretMatcher } from './secret/compare.js';

/** Where the pipeline reads the current compiled values (a `CachedSource`'s `current`). */
export interface Current<T> {
  readonly current: T | undefined;
}

/** The fields of a deny, by name; its `check` follows from `reason`. */
export interface DenyFields {
  readonly reason: DenyReason;
  readonly failures: DenyReason[];
  readonly peerAddress: string | undefined;
  readonly offendingHop: string | undefined;
  readonly proxyHops: number;
  readonly edgeAddress?: string | undefined;
  readonly viewerAddress?: string | undefined;
  readonly cfId?: string | undefined;
}

/** A denied decision built from named fields; the check follows from the reason. */
export function denied(fields: DenyFields): DeniedDecision {
  return {
    allowed: false,
    reason: fields.reason,
    check: CHECK_OF_REASON[fields.reason],
    failures: fields.failures,
    peerAddress: fields.peerAddress,
    edgeAddress: fields.edgeAddress,
    viewerAddress: fields.viewerAddress,
    cfId: fields.cfId,
    offendingHop: fields.offendingHop,
    proxyHops: fields.proxyHops,
  };
}

/** `failures` with `reason` added (the list is created on the first failure). */
function withFailure(failures: DenyReason[] | undefined, reason: DenyReason): DenyReason[] {
  if (failures === undefined) return [reason];
  failures.push(reason);
  return failures;
}

/** Turns one request into a decision. One per verifier; handles one request at a time. */
export class DecisionPipeline {
  readonly #options: ResolvedOptions;
  readonly #secret: Current<SecretMatcher>;
  readonly #ranges: Current<RangeMatcher>;
  readonly #trusted: RangeMatcher;
  /** Scratch words for address parsing, shared with the edge walker. */
  readonly #scratch = new Uint32Array(4);
  readonly #enforce: Readonly<Record<CheckName, boolean>>;
  /** Whether any health-check path or exclusion is configured (else the path is not read). */
  readonly #hasPathRules: boolean;
  readonly #edgeWalker: EdgeWalker;
  /** Output of the edge check, reused across requests. */
  readonly #edgeHit: EdgeHit = newEdgeHit();
  /** Output of the cf-id check, reused across requests. */
  readonly #cfIdHit: CfIdHit = { cfId: undefined };

  constructor(
    options: ResolvedOptions,
    sources: {
      readonly trusted: RangeMatcher;
      readonly secret: Current<SecretMatcher>;
      readonly ranges: Current<RangeMatcher>;
    },
  ) {
    this.#options = options;
    this.#trusted = sources.trusted;
    this.#secret = sources.secret;
    this.#ranges = sources.ranges;
    this.#enforce = Object.freeze({
      secret: options.modes.secret === 'enforce',
      edge: options.modes.edge === 'enforce',
      cfId: options.modes.cfId === 'enforce',
    });
    this.#hasPathRules =
      options.healthCheckPaths.size > 0 ||
      options.excludeExact.size > 0 ||
      options.excludePatterns.length > 0;
    this.#edgeWalker = new EdgeWalker({
      trusted: sources.trusted,
      proxyHops: options.proxyHops,
      maxForwardedForLength: options.maxForwardedForLength,
      scratch: this.#scratch,
    });
  }

  /** Decide on one request. */
  decide(input: VerifyInput): Decision {
    const options = this.#options;
    const scratch = this.#scratch;
    const headers = input.headers;

    // Path exclusions and health checks apply only to a path the framework routes the same way.
    const path =
      input.path !== undefined && this.#hasPathRules ? matchablePath(input.path) : undefined;
    let remote = input.remoteAddress;
    let peerFamily: Family = 0;
    if (typeof remote === 'string') {
      peerFamily = parseIp(remote, scratch);
      // A link-local IPv6 socket address may carry a zone (`fe80::1%eth0`, which does not
      // parse): only the peer may have one, it is cut only then, and only from IPv6 (Node
      // never gives an IPv4 peer a zone, so `127.0.0.1%eth0` stays unparsed: untrusted).
      if (peerFamily === 0) {
        const zone = remote.indexOf('%');
        if (zone > 0 && parseIp(remote.slice(0, zone), scratch) === 6) {
          remote = remote.slice(0, zone);
          peerFamily = 6;
        }
      }
    }
    const peerTrusted = peerFamily !== 0 && this.#trusted.contains(peerFamily, scratch);
    // An IPv4-mapped peer (`::ffff:10.0.1.23`, a dual-stack socket) is shown as IPv4.
    const peerAddress =
      peerFamily === 0 || remote === undefined
        ? undefined
        : peerFamily === 4 && !isDottedQuadText(remote)
          ? formatIp(4, scratch)
          : remote;
    if (
      path !== undefined &&
      (options.excludeExact.size > 0 || options.excludePatterns.length > 0)
    ) {
      if (isExcluded(options, path)) return { allowed: true, reason: 'excluded', peerAddress };
    }
    const xffHeader = headers['x-forwarded-for'];
    // Several X-Forwarded-For lines: Node joins them, and which one the ALB appended to is not
    // certain. Deny (`null` is malformed for the edge walk). So with as many lines as Node keeps:
    // it may have dropped the rest, an X-Forwarded-For line among them.
    const raw = input.rawHeaders;
    const xffLines = raw === undefined ? 0 : forwardedForLines(raw);
    const xff: string | null =
      xffLines > 1 ||
      (raw !== undefined && raw.length >= 2 * NODE_MAX_HEADER_LINES) ||
      (Array.isArray(xffHeader) && xffHeader.length > 1)
        ? null
        : typeof xffHeader === 'string'
          ? xffHeader
          : xffHeader === undefined
            ? ''
            : Array.isArray(xffHeader) && xffHeader.every((line) => typeof line === 'string')
              ? xffHeader.join(',')
              : null; // not what Node makes (a caller's number, object, [undefined]): malformed
    // The ALB's own health checker sends no X-Forwarded-For at all, and a few header lines; an
    // empty one, a line in the raw headers that the parsed ones lack, or more lines than a
    // health check has (Node may have dropped an X-Forwarded-For behind them) is not that.
    if (
      path !== undefined &&
      peerTrusted &&
      xffHeader === undefined &&
      xffLines === 0 &&
      options.healthCheckPaths.has(path) &&
      headerLineCount(raw, headers) <= HEALTH_CHECK_MAX_HEADER_LINES
    )
      return { allowed: true, reason: 'health-check', peerAddress };

    // Each check either passes, fails in report mode (recorded in `failures`, go on), or fails
    // enforced (deny now).
    let failures: DenyReason[] | undefined;
    let edgeAddress: string | undefined;
    let viewerAddress: string | undefined;
    let offendingHop: string | undefined;
    let cfId: string | undefined;
    const enforce = this.#enforce;
    const proxyHops = options.proxyHops;

    // 1. Edge: trusted peer, X-Forwarded-For hops, CloudFront origin-facing edge.
    const edge = this.#edgeHit;
    const edgeFailure = this.#edgeWalker.walk(peerTrusted, xff, this.#ranges.current, edge);
    if (edgeFailure === undefined) {
      edgeAddress = edge.edge;
      viewerAddress = edge.viewer;
    } else {
      failures = [edgeFailure];
      offendingHop =
        edgeFailure === 'untrusted-peer' && !peerTrusted
          ? typeof input.remoteAddress === 'string'
            ? showHop(input.remoteAddress)
            : undefined
          : edge.offendingHop;
      if (enforce.edge)
        return denied({ reason: edgeFailure, failures, peerAddress, offendingHop, proxyHops });
    }

    // 2. CloudFront request id.
    const cfIdHit = this.#cfIdHit;
    const cfIdFailure = checkCfId(headers['x-amz-cf-id'], cfIdHit);
    if (cfIdFailure === undefined) cfId = cfIdHit.cfId;
    else if (options.requireCfId) {
      failures = withFailure(failures, cfIdFailure);
      if (enforce.cfId)
        return denied({
          reason: cfIdFailure,
          failures,
          peerAddress,
          offendingHop,
          proxyHops,
          edgeAddress,
          viewerAddress,
        });
    }

    // 3. Secret header, compared in constant time against every accepted value.
    let secretStage: SecretStage | undefined;
    let secretFailure: DenyReason | undefined;
    const matcher = this.#secret.current;
    const candidate = singleHeader(headers[options.headerName]);
    if (matcher === undefined) secretFailure = 'secret-unavailable';
    else if (candidate === undefined || candidate === '') secretFailure = 'missing-secret';
    else {
      const index = candidate === null ? -1 : matcher.match(candidate);
      if (index < 0) secretFailure = 'invalid-secret';
      else if (
        matcher.notAfter(index) !== Number.POSITIVE_INFINITY &&
        Date.now() >= matcher.notAfter(index)
      )
        // An AWSPREVIOUS value past `previousMaxAgeMs`: a leaked old value, or header drift.
        secretFailure = 'expired-secret';
      else {
        secretStage = matcher.stageAt(index);
        // Every check passed: the edge walk filled `edge` for this request.
        if (failures === undefined)
          return {
            allowed: true,
            reason: 'verified',
            peerAddress,
            edgeAddress: edge.edge,
            viewerAddress: edge.viewer,
            cfId: cfId ?? '',
            secretStage,
          };
      }
    }
    if (secretFailure !== undefined) {
      failures = withFailure(failures, secretFailure);
      if (enforce.secret)
        return denied({
          reason: secretFailure,
          failures,
          peerAddress,
          offendingHop,
          proxyHops,
          edgeAddress,
          viewerAddress,
          cfId,
        });
    }
    // Here `failures` is set: the secret failed, or an earlier check failed in report mode.
    return {
      allowed: true,
      reason: 'reported',
      failures: failures ?? [],
      peerAddress,
      edgeAddress,
      viewerAddress,
      cfId,
      secretStage,
      offendingHop,
      proxyHops,
    };
  }
}

/** Whether `path` is one of `excludePaths` as given: an exact string or a pattern's match. */
function matchesExclusion(options: ResolvedOptions, path: string): boolean {
  if (options.excludeExact.has(path)) return true;
  for (const pattern of options.excludePatterns) if (pattern.test(path)) return true;
  return false;
}

/**
 * Whether `path` is excluded: it matches `excludePaths`, and so does the path a router may route
 * it on instead, runs of `/` collapsed and a trailing `/` cut (`/assets/` → `/assets`,
 * `/assets//x` → `/assets/x`). Express routes `/x/` to the route `/x`, Fastify a prefixed
 * plugin's `/` route at `/x/` (and, with `ignoreTrailingSlash` / `ignoreDuplicateSlashes`, `/x//`
 * to `/x`), so `/^\/api\/webhooks\//` let a bot reach the guarded `GET /api/webhooks` as
 * `/api/webhooks/` (outside review, eleventh session). Costs nothing on a path that is not
 * excluded.
 */
function isExcluded(options: ResolvedOptions, path: string): boolean {
  if (!matchesExclusion(options, path)) return false;
  const routed = collapsedPath(path);
  return routed === path || matchesExclusion(options, routed);
}
