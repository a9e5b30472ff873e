/**
 * `createOriginVerifier`: the decision pipeline. Options are resolved once; `verify` is
 * synchronous and does no I/O once sources are loaded.
 * @module
 */
import {
  CHECK_OF_REASON,
  type CheckName,
  type Decision,
  type DeniedDecision,
  type DenyReason,
  type Reason,
  type SecretStage,
} from './decision.js';
import { NotReadyError, SourceError } from './errors.js';
import {
  type Family,
  formatIp,
  forwardedV4Span,
  parseForwardedEntry,
  parseIp,
} from './net/address.js';
import { RangeMatcher } from './net/matcher.js';
import {
  type DenyResponse,
  type LogLevel,
  type OriginGuardOptions,
  type ResolvedOptions,
  resolveOptions,
  type VerifyInput,
} from './options.js';
import { forwardedForLines, showHop } from './request/forwarded.js';
import { matchablePath } from './request/path.js';
import { SecretMatcher, secretValueProblem } from './secret/compare.js';
import { CachedSource, type SourceStats } from './sources/cache.js';
import { ipRangesSource } from './sources/ip-ranges.js';
import { prefixListSource } from './sources/prefix-list.js';
import { secretsManagerSource } from './sources/secrets-manager.js';
import { staticRangeSource } from './sources/static.js';
import type { RangeSnapshot, RangeSource, SecretSnapshot, SecretSource } from './sources/types.js';

/** What the edge walk found, through a reused output object. */
interface EdgeWalk {
  /** The edge address, on success. */
  edge: string;
  /** The viewer address, on success. */
  viewer: string;
  /** The entry that failed, shown safely, when one entry failed. */
  offendingHop: string | undefined;
}

/** Counters since the verifier was created. Contains no secret value. */
export interface VerifierStats {
  /** Decisions made. */
  readonly total: number;
  /** Allowed decisions (including report-mode ones). */
  readonly allowed: number;
  /** Denied decisions. */
  readonly denied: number;
  /** Decisions by reason code (the final reason of each decision). */
  readonly byReason: Readonly<Record<Reason, number>>;
  /** Failures seen by reason, including the ones only reported (report mode). */
  readonly failures: Readonly<Record<DenyReason, number>>;
  /** Verified requests by the secret stage that matched (e.g. `AWSPREVIOUS` falling to 0 after a rotation). */
  readonly bySecretStage: Readonly<Record<string, number>>;
  /** Health of the two sources. */
  readonly sources: { readonly secret: SourceStats; readonly ranges: SourceStats };
}

/**
 * A change in a source's health, for logs: `failing` once at the start of a failure streak
 * (including a failed first load), `recovered` once when the source loads again. Never sent per
 * request. `error` is a `SourceError`, whose message never contains a secret value.
 */
export type SourceEvent =
  | {
      readonly type: 'failing';
      readonly source: 'secret' | 'ranges';
      readonly error: Error;
      /** Whether the source had loaded before (a last-known-good value is in use). */
      readonly everLoaded: boolean;
    }
  | {
      readonly type: 'recovered';
      readonly source: 'secret' | 'ranges';
      /** Failed loads in the streak that just ended. */
      readonly failedAttempts: number;
      /** Time from the first failure of the streak to the successful load, in ms. */
      readonly downMs: number;
    };

/** A verifier made by {@link createOriginVerifier}. */
export interface OriginVerifier {
  /**
   * Decide on one request, synchronously. Before sources are loaded it denies with
   * `secret-unavailable` / `ranges-unavailable` (static sources are loaded at construction).
   */
  verify(input: VerifyInput): Decision;
  /**
   * Like `verify`, but returns a promise in the two cases where waiting helps: sources are
   * still loading for the first time, or the secret did not match and a rate-limited refresh
   * may pick up a rotation. Otherwise returns the decision synchronously. Adapters use this.
   */
  check(input: VerifyInput): Decision | Promise<Decision>;
  /** Load every source (first call starts refresh timers). Rejects with `NotReadyError` if a source never loaded. */
  ready(): Promise<void>;
  /** Whether every source has a value. */
  readonly isReady: boolean;
  /** Stop timers and abort loads in flight. Decisions keep using the last values. */
  close(): Promise<void>;
  /** Counters by outcome, reason and secret stage, and source health. */
  stats(): VerifierStats;
  /**
   * Listen to source health changes (see {@link SourceEvent}); returns a function that removes
   * the listener. Errors a listener throws are swallowed.
   */
  onSourceEvent(listener: (event: SourceEvent) => void): () => void;
  /** The resolved `headerName` (lower case), for adapters. */
  readonly headerName: string;
  /** The uniform deny response adapters write (status, headers, body). */
  readonly denyResponse: DenyResponse;
  /** The level adapters with a logger use for deny lines. */
  readonly logLevel: LogLevel;
  /** Whether adapter startup should fail when `ready()` rejects. */
  readonly failOnStartupError: boolean;
}

const CF_ID_MIN = 16;
const CF_ID_MAX = 128;

/** 1 for the base64 and base64url characters a cf-id may hold (padding handled apart). */
const CF_ID_CHARS = (() => {
  const table = new Uint8Array(128);
  for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/')
    table[c.charCodeAt(0)] = 1;
  return table;
})();

/** Whether `s` looks like a CloudFront request id: base64/base64url, bounded length. */
export function isWellFormedCfId(s: string): boolean {
  const n = s.length;
  if (n < CF_ID_MIN || n > CF_ID_MAX) return false;
  // Up to two '=' of padding, only at the end.
  let end = n;
  if (s.charCodeAt(end - 1) === 0x3d) end--;
  if (s.charCodeAt(end - 1) === 0x3d) end--;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || CF_ID_CHARS[c] === 0) return false;
  }
  return true;
}

function single(value: string | readonly string[] | undefined): string | undefined | null {
  if (value === undefined || typeof value === 'string') return value;
  // Several header lines: null tells the caller "present but not a single value".
  return value.length === 1 ? value[0] : null;
}

function compileSecret(name: string) {
  return (snapshot: SecretSnapshot): SecretMatcher => {
    if (!snapshot || !Array.isArray(snapshot.values) || snapshot.values.length === 0)
      throw new SourceError(name, 'returned no secret values');
    snapshot.values.forEach((v, i) => {
      const problem = secretValueProblem(v?.value);
      if (problem)
        throw new SourceError(name, `value #${i} (stage ${String(v?.stage)}) ${problem}`);
    });
    return new SecretMatcher(snapshot.values);
  };
}

function compileRanges(name: string) {
  return (snapshot: RangeSnapshot): RangeMatcher => {
    if (!snapshot || !Array.isArray(snapshot.cidrs) || snapshot.cidrs.length === 0)
      throw new SourceError(name, 'returned no ranges; keeping the last-known-good list');
    try {
      return RangeMatcher.compile(snapshot.cidrs, name);
    } catch (error) {
      throw new SourceError(name, `returned an invalid range list: ${(error as Error).message}`, {
        cause: error,
      });
    }
  };
}

function makeSecretSource(r: ResolvedOptions): SecretSource {
  const s = r.secret;
  switch (s.kind) {
    case 'source':
      return s.source;
    case 'static':
      return { name: 'static-secret', load: async () => s.snapshot };
    case 'secrets-manager':
      return secretsManagerSource({
        secretId: s.secretId,
        jsonKey: s.jsonKey,
        stages: s.stages,
        // biome-ignore lint/suspicious/noExplicitAny: validated in options (has `send`)
        client: s.client as any,
        region: r.region,
        timeoutMs: r.timeoutMs,
      });
  }
}

function makeRangeSource(r: ResolvedOptions): RangeSource {
  const g = r.ranges;
  switch (g.kind) {
    case 'source':
      return g.source;
    case 'static':
      return staticRangeSource(g.cidrs);
    case 'prefix-list':
      return prefixListSource({
        names: g.names,
        // biome-ignore lint/suspicious/noExplicitAny: validated in options (has `send`)
        client: g.client as any,
        region: r.region,
        timeoutMs: r.timeoutMs,
      });
    case 'ip-ranges':
      return ipRangesSource({
        url: g.url,
        timeoutMs: r.timeoutMs,
        allowInsecureUrl: g.allowInsecure,
      });
  }
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/**
 * A copy of `input` whose `headers` and `rawHeaders` hold no `headerName` header, for hooks.
 * Built only when a hook is set.
 */
function withoutSecret(input: VerifyInput, headerName: string): VerifyInput {
  const headers: Record<string, string | readonly string[] | undefined> = {};
  for (const key of Object.keys(input.headers))
    if (key.toLowerCase() !== headerName) headers[key] = input.headers[key];
  const copy: { -readonly [K in keyof VerifyInput]: VerifyInput[K] } = { ...input, headers };
  const raw = input.rawHeaders;
  if (raw !== undefined) {
    const kept: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2)
      if (String(raw[i]).toLowerCase() !== headerName) kept.push(raw[i]!, raw[i + 1]!);
    copy.rawHeaders = kept;
  }
  return copy;
}

/** Whether the secret is the only check that failed (the request came through a CloudFront edge). */
function onlySecretFailed(decision: Decision): boolean {
  return (
    (decision.reason === 'invalid-secret' || decision.reason === 'reported') &&
    decision.failures.length === 1 &&
    decision.failures[0] === 'invalid-secret'
  );
}

const ALL_REASONS: readonly Reason[] = [
  'verified',
  'health-check',
  'excluded',
  'reported',
  ...(Object.keys(CHECK_OF_REASON) as DenyReason[]),
];

class Verifier implements OriginVerifier {
  readonly #o: ResolvedOptions;
  readonly #secret: CachedSource<SecretSnapshot, SecretMatcher>;
  readonly #ranges: CachedSource<RangeSnapshot, RangeMatcher>;
  readonly #trusted: RangeMatcher;
  readonly #ownedSources: (SecretSource | RangeSource)[] = [];
  readonly #scratch = new Uint32Array(4);
  readonly #enforce: Readonly<Record<CheckName, boolean>>;
  /** Whether any health-check path or exclusion is configured (else the path is not read). */
  readonly #hasPathRules: boolean;
  /** The load `ready()` started, while it runs. */
  #loading: Promise<void> | undefined;
  /** Whether `ready()` ever ran (refresh timers started). */
  #started = false;
  #closed = false;
  // Counters.
  #total = 0;
  #allowed = 0;
  #denied = 0;
  readonly #byReason = zeroRecord(ALL_REASONS);
  readonly #failures = zeroRecord(Object.keys(CHECK_OF_REASON) as DenyReason[]);
  readonly #byStage: Record<string, number> = Object.create(null);
  readonly #listeners = new Set<(event: SourceEvent) => void>();

  constructor(options: Readonly<OriginGuardOptions>) {
    const o = resolveOptions(options);
    this.#o = o;
    this.#enforce = Object.freeze({
      secret: o.modes.secret === 'enforce',
      edge: o.modes.edge === 'enforce',
      cfId: o.modes.cfId === 'enforce',
    });
    this.#hasPathRules =
      o.healthCheckPaths.size > 0 || o.excludeExact.size > 0 || o.excludePatterns.length > 0;
    this.#trusted = RangeMatcher.compile(o.trustedProxies, 'trustedProxies');
    // Static ranges are compiled here so a bad CIDR is an error at construction.
    const staticRanges =
      o.ranges.kind === 'static' ? RangeMatcher.compile(o.ranges.cidrs, 'ranges') : undefined;

    const secretSource = makeSecretSource(o);
    const rangeSource = makeRangeSource(o);
    // Sources the guard created are the guard's to close; yours stay yours.
    if (o.secret.kind === 'secrets-manager') this.#ownedSources.push(secretSource);
    if (o.ranges.kind === 'prefix-list' || o.ranges.kind === 'ip-ranges')
      this.#ownedSources.push(rangeSource);
    const common = {
      jitter: o.refreshJitter,
      timeoutMs: o.timeoutMs,
      minForcedIntervalMs: o.mismatchRefreshMs,
      onError: o.onSourceError,
    };
    this.#secret = new CachedSource<SecretSnapshot, SecretMatcher>({
      ...common,
      onStreak: (event) => this.#emit({ ...event, source: 'secret' }),
      name: secretSource.name,
      load: (signal, context) => secretSource.load(signal, context),
      compile: compileSecret(secretSource.name),
      refreshMs: o.secretRefreshMs,
      fixed: o.secret.kind === 'static',
      maxStaleMs: o.secret.kind === 'static' ? undefined : o.maxStaleMs,
    });
    this.#ranges = new CachedSource<RangeSnapshot, RangeMatcher>({
      ...common,
      onStreak: (event) => this.#emit({ ...event, source: 'ranges' }),
      name: rangeSource.name,
      load: (signal) => rangeSource.load(signal),
      compile: staticRanges ? () => staticRanges : compileRanges(rangeSource.name),
      refreshMs: o.rangesRefreshMs,
      fixed: o.ranges.kind === 'static',
    });
    // Static values are usable at once, without ready().
    if (o.secret.kind === 'static') this.#secret.prime(o.secret.snapshot);
    if (o.ranges.kind === 'static')
      this.#ranges.prime({ cidrs: o.ranges.cidrs, version: 'static' });
  }

  #emit(event: SourceEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A logging listener must never break a refresh.
      }
    }
  }

  onSourceEvent(listener: (event: SourceEvent) => void): () => void {
    if (typeof listener !== 'function')
      throw new TypeError('@cdn-origin-guard: onSourceEvent() expects a function.');
    // Wrapped so the same function subscribed twice gets two independent subscriptions.
    const entry = (event: SourceEvent) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  get headerName(): string {
    return this.#o.headerName;
  }

  get denyResponse(): DenyResponse {
    return this.#o.denyResponse;
  }

  get logLevel(): LogLevel {
    return this.#o.logLevel;
  }

  get failOnStartupError(): boolean {
    return this.#o.failOnStartupError;
  }

  get isReady(): boolean {
    return this.#secret.current !== undefined && this.#ranges.current !== undefined;
  }

  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new NotReadyError('the verifier is closed'));
    // Loaded (possibly by a background retry after an earlier failed ready()): nothing to wait for.
    if (this.isReady && this.#started) return Promise.resolve();
    if (!this.#loading) {
      this.#started = true;
      this.#loading = this.#load().finally(() => {
        this.#loading = undefined;
      });
    }
    return this.#loading;
  }

  async #load(): Promise<void> {
    const results = await Promise.allSettled([this.#secret.start(), this.#ranges.start()]);
    const problems: SourceError[] = [];
    const caches = [this.#secret, this.#ranges] as const;
    results.forEach((r, i) => {
      if (caches[i]!.current === undefined) {
        const e = r.status === 'rejected' ? r.reason : undefined;
        problems.push(
          e instanceof SourceError
            ? e
            : new SourceError(caches[i]!.name, 'did not load', { cause: e }),
        );
      }
    });
    if (problems.length > 0) {
      const detail = problems
        .map((p) => `${p.source}${p.awsCode ? ` (${p.awsCode})` : ''}: ${p.message}`)
        .join('; ');
      throw new NotReadyError(
        `could not load ${problems.map((p) => p.source).join(' and ')}; requests are denied until they load. ${detail}`,
        { cause: problems.length === 1 ? problems[0] : new AggregateError(problems) },
      );
    }
  }

  verify(input: VerifyInput): Decision {
    return this.#record(this.#decide(input), input);
  }

  check(input: VerifyInput): Decision | Promise<Decision> {
    if (!this.isReady && !this.#closed) {
      // Wait for a first load in flight (or start the first one). Once a load has failed, deny
      // at once with *-unavailable: refresh timers retry with backoff, and requests must not
      // drive AWS calls during an outage.
      const load = this.#loading ?? (this.#started ? undefined : this.ready());
      if (load)
        return load.then(
          () => this.verify(input),
          () => this.verify(input),
        );
    }
    const decision = this.#decide(input);
    // Only a request whose every other check passed (it came through a CloudFront edge with a
    // well-formed cf-id) may force a refresh: a bot at the ALB cannot drive AWS calls.
    if (onlySecretFailed(decision) && !this.#closed) {
      // A load already in flight may have started before the new value existed: join it, and
      // if the value still matches nothing, force one load of our own (rate-limited).
      const joined = this.#secret.loading;
      const refresh = this.#secret.forceRefresh();
      if (refresh)
        return refresh.then(() => {
          const again = this.#decide(input);
          if (joined && onlySecretFailed(again)) {
            const own = this.#secret.forceRefresh();
            if (own) return own.then(() => this.verify(input));
          }
          return this.#record(again, input);
        });
    }
    return this.#record(decision, input);
  }

  #record(decision: Decision, input: VerifyInput): Decision {
    this.#total++;
    this.#byReason[decision.reason]++;
    if (decision.allowed) {
      this.#allowed++;
      if (decision.reason === 'verified')
        this.#byStage[decision.secretStage] = (this.#byStage[decision.secretStage] ?? 0) + 1;
      else if (decision.reason === 'reported')
        for (const f of decision.failures) this.#failures[f]++;
    } else {
      this.#denied++;
      for (const f of decision.failures) this.#failures[f]++;
    }
    const hook = this.#o.onDecision;
    if (hook) {
      try {
        hook(decision, withoutSecret(input, this.#o.headerName));
      } catch {
        // A logging hook must never turn into a 500.
      }
    }
    return decision;
  }

  #decide(input: VerifyInput): Decision {
    const o = this.#o;
    const scratch = this.#scratch;
    const headers = input.headers;

    // Path exclusions and health checks apply only to a path the framework routes the same way.
    const path =
      input.path !== undefined && this.#hasPathRules ? matchablePath(input.path) : undefined;
    let remote = input.remoteAddress;
    // A link-local socket address may carry a zone (`fe80::1%eth0`); only the peer may have one.
    if (typeof remote === 'string') {
      const zone = remote.indexOf('%');
      if (zone > 0) remote = remote.slice(0, zone);
    }
    const peerFamily: Family = typeof remote === 'string' ? parseIp(remote, scratch) : 0;
    const peerTrusted = peerFamily !== 0 && this.#trusted.contains(peerFamily, scratch);
    const peerAddress =
      peerFamily === 0
        ? undefined
        : peerFamily === 4 && remote!.includes(':')
          ? formatIp(4, scratch)
          : remote;
    if (path !== undefined && (o.excludeExact.size > 0 || o.excludePatterns.length > 0)) {
      if (o.excludeExact.has(path)) return { allowed: true, reason: 'excluded', peerAddress };
      for (const re of o.excludePatterns)
        if (re.test(path)) return { allowed: true, reason: 'excluded', peerAddress };
    }
    let xffRaw: string | readonly string[] | undefined | null = headers['x-forwarded-for'];
    // Several X-Forwarded-For lines: Node joins them, and which one the ALB appended to is not
    // certain. Deny (the edge walk treats `null` as malformed).
    const raw = input.rawHeaders;
    if (
      (raw !== undefined && forwardedForLines(raw) > 1) ||
      (Array.isArray(xffRaw) && xffRaw.length > 1)
    )
      xffRaw = null;
    if (
      path !== undefined &&
      peerTrusted &&
      (xffRaw === undefined || xffRaw === '' || (Array.isArray(xffRaw) && xffRaw.length === 0)) &&
      o.healthCheckPaths.has(path)
    )
      return { allowed: true, reason: 'health-check', peerAddress };

    // Each check either passes, fails in report mode (recorded in `failures`, go on), or fails
    // enforced (deny now). No closure and no intermediate object on the hot path.
    let failures: DenyReason[] | undefined;
    let edgeAddress: string | undefined;
    let viewerAddress: string | undefined;
    let offendingHop: string | undefined;
    let cfId: string | undefined;
    const enforce = this.#enforce;

    // 1. Edge: trusted peer, X-Forwarded-For hops, CloudFront origin-facing edge.
    const walk = this.#walk;
    const edgeFailure = this.#edge(peerTrusted, xffRaw, walk);
    if (edgeFailure === undefined) {
      edgeAddress = walk.edge;
      viewerAddress = walk.viewer;
    } else {
      failures = [edgeFailure];
      offendingHop =
        edgeFailure === 'untrusted-peer' && !peerTrusted
          ? typeof input.remoteAddress === 'string'
            ? showHop(input.remoteAddress)
            : undefined
          : walk.offendingHop;
      if (enforce.edge) return this.#deny(edgeFailure, 'edge', failures, peerAddress, offendingHop);
    }

    // 2. CloudFront request id.
    const rawCfId = single(headers['x-amz-cf-id']);
    if (typeof rawCfId === 'string' && rawCfId !== '' && isWellFormedCfId(rawCfId)) cfId = rawCfId;
    else if (o.requireCfId) {
      const reason = rawCfId === undefined || rawCfId === '' ? 'missing-cf-id' : 'invalid-cf-id';
      if (failures === undefined) failures = [reason];
      else failures.push(reason);
      if (enforce.cfId)
        return this.#deny(reason, 'cfId', failures, peerAddress, offendingHop, {
          edgeAddress,
          viewerAddress,
        });
    }

    // 3. Secret header, compared in constant time against every accepted value.
    let secretStage: SecretStage | undefined;
    const matcher = this.#secret.current;
    const candidate = single(headers[o.headerName]);
    let secretFailure: DenyReason | undefined;
    if (matcher === undefined) secretFailure = 'secret-unavailable';
    else if (candidate === undefined || candidate === '') secretFailure = 'missing-secret';
    else {
      const index = candidate === null ? -1 : matcher.match(candidate);
      if (index < 0) secretFailure = 'invalid-secret';
      else secretStage = matcher.stageAt(index);
    }
    if (secretFailure !== undefined) {
      if (failures === undefined) failures = [secretFailure];
      else failures.push(secretFailure);
      if (enforce.secret)
        return this.#deny(secretFailure, 'secret', failures, peerAddress, offendingHop, {
          edgeAddress,
          viewerAddress,
          cfId,
        });
    }

    if (failures !== undefined)
      return {
        allowed: true,
        reason: 'reported',
        failures,
        peerAddress,
        edgeAddress,
        viewerAddress,
        cfId,
        secretStage,
        offendingHop,
        proxyHops: o.proxyHops,
      };
    return {
      allowed: true,
      reason: 'verified',
      peerAddress,
      edgeAddress: edgeAddress!,
      viewerAddress: viewerAddress!,
      cfId: cfId ?? '',
      secretStage: secretStage!,
    };
  }

  #deny(
    reason: DenyReason,
    check: CheckName,
    failures: DenyReason[],
    peerAddress: string | undefined,
    offendingHop: string | undefined,
    seen: { edgeAddress?: string; viewerAddress?: string; cfId?: string } = {},
  ): DeniedDecision {
    return {
      allowed: false,
      reason,
      check,
      failures,
      peerAddress,
      edgeAddress: seen.edgeAddress,
      viewerAddress: seen.viewerAddress,
      cfId: seen.cfId,
      offendingHop,
      proxyHops: this.#o.proxyHops,
    };
  }

  /** The output object {@link #edge} fills, reused across requests (one request at a time). */
  readonly #walk: EdgeWalk = { edge: '', viewer: '', offendingHop: undefined };

  /** Text of the address the last `parseForwardedEntry` call parsed into the scratch words. */
  #entryText(xff: string, family: 4 | 6): string {
    // A plain dotted quad is already canonical: slice it instead of formatting the words.
    return forwardedV4Span[0]! >= 0
      ? xff.slice(forwardedV4Span[0], forwardedV4Span[1])
      : formatIp(family, this.#scratch);
  }

  /**
   * The edge check. Returns the failure reason, or undefined with the edge and viewer addresses
   * in `out`. On a failure of one `X-Forwarded-For` entry, `out.offendingHop` shows it.
   * `xffRaw` null means several header lines.
   */
  #edge(
    peerTrusted: boolean,
    xffRaw: string | readonly string[] | undefined | null,
    out: EdgeWalk,
  ): DenyReason | undefined {
    out.offendingHop = undefined;
    if (!peerTrusted) return 'untrusted-peer';
    if (xffRaw === null) return 'malformed-forwarded-for';
    const xff = typeof xffRaw === 'string' ? xffRaw : xffRaw === undefined ? '' : xffRaw.join(',');
    if (xff.length === 0) return 'missing-forwarded-for';
    if (xff.length > this.#o.maxForwardedForLength) return 'malformed-forwarded-for';
    const scratch = this.#scratch;
    const hops = this.#o.proxyHops;
    let end = xff.length;
    // Walk from the right: hops appended by our inner proxies, then the edge, then the viewer.
    // Only these entries are read, so a long forged header costs nothing extra.
    for (let k = 0; k < hops; k++) {
      if (end < 0) return 'malformed-forwarded-for';
      const start = end === 0 ? 0 : xff.lastIndexOf(',', end - 1) + 1;
      const family = parseForwardedEntry(xff, start, end, scratch);
      if (family === 0) return this.#offending(out, xff, start, end, 'malformed-forwarded-for');
      if (k < hops - 1) {
        if (!this.#trusted.contains(family, scratch))
          return this.#offending(out, xff, start, end, 'untrusted-peer');
        end = start - 1;
        continue;
      }
      const ranges = this.#ranges.current;
      if (ranges === undefined) return 'ranges-unavailable';
      if (!ranges.contains(family, scratch))
        return this.#offending(out, xff, start, end, 'edge-not-cloudfront');
      const edge = this.#entryText(xff, family);
      // The viewer entry, appended by CloudFront.
      const vEnd = start - 1;
      if (vEnd < 0) return 'malformed-forwarded-for';
      const vStart = vEnd === 0 ? 0 : xff.lastIndexOf(',', vEnd - 1) + 1;
      const vFamily = parseForwardedEntry(xff, vStart, vEnd, scratch);
      if (vFamily === 0) return this.#offending(out, xff, vStart, vEnd, 'malformed-forwarded-for');
      out.edge = edge;
      out.viewer = this.#entryText(xff, vFamily);
      return undefined;
    }
    return 'malformed-forwarded-for';
  }

  /** Record the entry `xff[start, end)` as the offending hop and return `reason`. */
  #offending(
    out: EdgeWalk,
    xff: string,
    start: number,
    end: number,
    reason: DenyReason,
  ): DenyReason {
    out.offendingHop = showHop(xff.slice(start, end));
    return reason;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#secret.close();
    this.#ranges.close();
    await Promise.allSettled(this.#ownedSources.map((s) => s.close?.()));
  }

  stats(): VerifierStats {
    return {
      total: this.#total,
      allowed: this.#allowed,
      denied: this.#denied,
      byReason: { ...this.#byReason },
      failures: { ...this.#failures },
      bySecretStage: { ...this.#byStage },
      sources: { secret: this.#secret.stats(), ranges: this.#ranges.stats() },
    };
  }
}

/**
 * Create a verifier. Validates `options` once (throws `InvalidOptionError` naming the option
 * and the fix). Static sources are usable at once; AWS sources load on `ready()`.
 *
 * @example
 * ```ts
 * import { createOriginVerifier } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({ secretId: 'prod/cloudfront/origin-verify', ranges: 'prefix-list' });
 * await verifier.ready();
 * const decision = verifier.verify({ headers: req.headers, remoteAddress: req.socket.remoteAddress, path: req.url });
 * if (!decision.allowed) console.warn('denied', decision.reason);
 * ```
 */
export function createOriginVerifier(options: Readonly<OriginGuardOptions>): OriginVerifier {
  return new Verifier(options);
}
