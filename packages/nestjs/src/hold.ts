/**
 * A deny held on a response until the request reaches a `@SkipOriginGuard()` handler.
 *
 * With a skipped route, the front check on the platform leaves the requests that Nest may route
 * to it for later: Nest's own matching decides which route takes them. Until the thirteenth
 * session it left them undecided, so whatever answered in between ran for a bot unchecked:
 * `useStaticAssets()` served `/report.html` next to a skipped `@Get(':slug')` (outside review,
 * Medium), and so would any `main.ts` middleware or a Nest middleware of another module that
 * answers. Now the front check decides such a request at once, and a denied one goes on with
 * its deny held: the first thing that writes a response (a status line, a body, its end) writes
 * the uniform deny instead, and the rest of that response is dropped. Only the guard releases
 * the hold, on a skipped handler, which then answers as the app wrote it; the module's own
 * checks write the held deny at once. A verified request holds nothing and costs nothing more.
 * @module
 */
import type { ServerResponse } from 'node:http';

/**
 * The response methods that write a response: the first call while the deny is held writes the
 * deny instead.
 */
const WRITERS = ['writeHead', 'write', 'end'] as const;
/**
 * Methods that send something ahead of the response (its headers, a 103): nothing while the deny
 * is held, so a `main.ts` middleware sending Early Hints to every request does not deny the ALB's
 * health check before its skipped handler is reached (review of the hold, thirteenth session).
 */
const AHEAD = ['flushHeaders', 'writeEarlyHints'] as const;

type Writer = (this: unknown, ...args: unknown[]) => unknown;

/** One module instance's hold on a response (several module instances each hold one). */
interface Layer {
  /** Each method as it was before this layer (the prototype's, or what was there). */
  readonly before: Map<string, Writer>;
  readonly hadOwn: Set<string>;
  readonly ours: Map<string, Writer>;
  /** Log the decision and write the uniform deny. */
  readonly deny: () => void;
}

/** The holds on one request's response. */
interface Held {
  state: 'held' | 'released' | 'denied';
  readonly res: Record<string, unknown>;
  /** Oldest first: the first module instance's check made the first. */
  readonly layers: Layer[];
}

/** The holds of each request (its Node request), until released. */
const holds = new WeakMap<object, Held>();

/**
 * Hold a deny on `res`: `deny` (log the decision and write the uniform deny on `res`) runs at the
 * first write of a response, or when a check of the module meets the request ({@link denyHeld}),
 * unless a skipped handler is reached first ({@link releaseHold}).
 *
 * Each writer of `res` is replaced by one that writes the deny while it is held, passes on to the
 * writer it replaced once released, and drops the call once denied. Middleware that wraps the
 * writers in turn (`compression`, `on-headers`) wraps these, so released it works as before; the
 * deny itself is written with the writers `res` had before the first hold, past any such
 * wrapper, so it is the same bytes as every other deny (a `Vary` or `Content-Encoding` of theirs
 * would tell it apart). With several module instances, each holds a layer, one deny is written
 * (by the first), and one release lets all go.
 */
export function holdDeny(req: object, res: ServerResponse, deny: () => void): void {
  const writable = res as unknown as Record<string, unknown>;
  let held = holds.get(req);
  if (held === undefined) {
    held = { state: 'held', res: writable, layers: [] };
    holds.set(req, held);
  }
  const record = held;
  const layer: Layer = { before: new Map(), hadOwn: new Set(), ours: new Map(), deny };
  for (const name of [...WRITERS, ...AHEAD]) {
    const writer = writable[name];
    if (typeof writer !== 'function') continue;
    layer.before.set(name, writer as Writer);
    if (Object.hasOwn(writable, name)) layer.hadOwn.add(name);
    const ahead = (AHEAD as readonly string[]).includes(name);
    const ours: Writer = function (this: unknown, ...args: unknown[]) {
      if (record.state === 'released') return (writer as Writer).apply(this, args);
      if (record.state === 'held' && !ahead) denyNow(record);
      return name === 'write' ? false : this;
    };
    layer.ours.set(name, ours);
    writable[name] = ours;
  }
  record.layers.push(layer);
}

/** Write the deny of a held response: once, by the first layer, with the writers from before it. */
function denyNow(held: Held): void {
  if (held.state !== 'held') return;
  held.state = 'denied';
  const first = held.layers[0];
  if (first === undefined) return;
  for (const [name, writer] of first.before) held.res[name] = writer;
  try {
    first.deny();
  } finally {
    // The rest of what the app was writing is dropped: the deny ended the response (and, on
    // HTTP/1, the connection), and a write after its end would be an error on the response.
    for (const name of first.before.keys())
      held.res[name] = name === 'write' ? dropWrite : dropCall;
  }
}

/** `write` after the deny: dropped, as a full buffer would say. */
function dropWrite(): boolean {
  return false;
}

/** Any other writer after the deny: dropped; chains as the response's own method does. */
function dropCall(this: ServerResponse): ServerResponse {
  return this;
}

/** A skipped handler was reached: the app answers this request as it wrote it. */
export function releaseHold(req: object): void {
  const held = holds.get(req);
  if (held === undefined || held.state !== 'held') return;
  held.state = 'released';
  holds.delete(req);
  // Newest first: each layer wrapped the one before it.
  for (const layer of [...held.layers].reverse())
    for (const [name, writer] of layer.ours) {
      if (held.res[name] !== writer) continue; // wrapped since: it passes on
      if (layer.hadOwn.has(name)) held.res[name] = layer.before.get(name);
      else delete held.res[name];
    }
}

/**
 * Write the deny held on `req` now (a check of the module met it: the request is on a route that
 * is not skipped); whether the request's deny is held or was written already (then it is not
 * decided, nor logged, again).
 */
export function denyHeld(req: object): boolean {
  const held = holds.get(req);
  if (held === undefined) return false;
  denyNow(held);
  return true;
}
