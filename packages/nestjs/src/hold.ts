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

/** The response methods that start or write a response, held while the deny is. */
const WRITERS = ['writeHead', 'write', 'end', 'flushHeaders', 'writeEarlyHints'] as const;

/** A held deny: written by the first writer, or let go by a skipped handler. */
interface Hold {
  /** Write the deny (logged once), if still held; whether it was. */
  deny(): boolean;
  /** Give the response back to the app (a skipped handler answers). */
  release(): void;
}

/** The hold of each request (its Node request), while there is one. */
const holds = new WeakMap<object, Hold>();

type Writer = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Hold a deny on `res`: `deny` (log the decision and write the uniform deny on `res`) runs at the
 * first write of a response, or when a check of the module meets the request ({@link denyHeld}),
 * unless a skipped handler is reached first ({@link releaseHold}).
 *
 * Each writer of `res` is replaced by one that writes the deny while it is held, passes on to the
 * writer it replaced once released, and drops the call once denied. Middleware that wraps the
 * writers in turn (`compression`, `on-headers`) wraps these, so released it works as before; the
 * deny itself is written with the writers `res` had before the hold, past any such wrapper, so
 * it is the same bytes as every other deny (a `Vary` or `Content-Encoding` of theirs would tell
 * it apart).
 */
export function holdDeny(req: object, res: ServerResponse, deny: () => void): void {
  const writable = res as unknown as Record<string, unknown>;
  let state: 'held' | 'released' | 'denied' = 'held';
  /** Each writer as it was before the hold (the prototype's, or the response's own). */
  const before = new Map<string, Writer>();
  const hadOwn = new Set<string>();
  const ours = new Map<string, Writer>();
  const hold: Hold = {
    deny() {
      if (state !== 'held') return false;
      state = 'denied';
      holds.delete(req);
      for (const [name, writer] of before) writable[name] = writer;
      try {
        deny();
      } finally {
        // The rest of what the app was writing is dropped: the deny ended the response (and, on
        // HTTP/1, the connection), and a write after its end would be an error on the response.
        for (const name of before.keys()) writable[name] = name === 'write' ? dropWrite : dropCall;
      }
      return true;
    },
    release() {
      if (state !== 'held') return;
      state = 'released';
      holds.delete(req);
      for (const [name, writer] of ours) {
        if (writable[name] !== writer) continue; // wrapped since: it passes on
        if (hadOwn.has(name)) writable[name] = before.get(name);
        else delete writable[name];
      }
    },
  };
  for (const name of WRITERS) {
    const writer = writable[name];
    if (typeof writer !== 'function') continue;
    before.set(name, writer as Writer);
    if (Object.hasOwn(writable, name)) hadOwn.add(name);
    const held: Writer = function (this: unknown, ...args: unknown[]) {
      if (state === 'released') return (writer as Writer).apply(this, args);
      hold.deny();
      return name === 'write' ? false : this;
    };
    ours.set(name, held);
    writable[name] = held;
  }
  holds.set(req, hold);
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
  holds.get(req)?.release();
}

/**
 * Write the deny held on `req` now (a check of the module met it: the request is on a route that
 * is not skipped); whether there was one. The deny is logged once, where it was decided.
 */
export function denyHeld(req: object): boolean {
  return holds.get(req)?.deny() ?? false;
}
