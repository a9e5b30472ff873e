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

/**
 * Hold a deny on `res`: `deny` (log the decision and write the uniform deny on `res`) runs at the
 * first write of a response, or when a check of the module meets the request ({@link denyHeld}),
 * unless a skipped handler is reached first ({@link releaseHold}).
 */
export function holdDeny(req: object, res: ServerResponse, deny: () => void): void {
  const writable = res as unknown as Record<string, unknown>;
  let held = true;
  /** Give back the response's own methods (the prototype's, or what the app set before). */
  const own = new Map<string, unknown>();
  for (const name of WRITERS) if (Object.hasOwn(writable, name)) own.set(name, writable[name]);
  const restore = () => {
    for (const name of WRITERS)
      if (own.has(name)) writable[name] = own.get(name);
      else delete writable[name];
  };
  const hold: Hold = {
    deny() {
      if (!held) return false;
      held = false;
      holds.delete(req);
      restore();
      deny();
      // The rest of what the app was writing is dropped: the deny ended the response (and, on
      // HTTP/1, the connection), and a write after its end would be an error on the response.
      for (const name of WRITERS) writable[name] = name === 'write' ? dropWrite : dropCall;
      return true;
    },
    release() {
      if (!held) return;
      held = false;
      holds.delete(req);
      restore();
    },
  };
  holds.set(req, hold);
  const intercept = function (this: ServerResponse) {
    hold.deny();
    return this;
  };
  for (const name of WRITERS)
    writable[name] =
      name === 'write'
        ? () => {
            hold.deny();
            return false;
          }
        : intercept;
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
