/**
 * `ServerWatch`: the net under `guardUpgrades` for an adapter that meets a server only
 * through its requests (the Express middleware, the Nest module's checks). One class for every
 * adapter: the rules are in one place, each adapter keeps only the comparison on its hot path
 * and the wording of its log lines.
 * @module
 */
import { loggerCaller } from './callbacks.js';
import { isGuardingUpgrades, listenersBeforeFramework, type UpgradeServer } from './upgrade.js';

/**
 * A framework's own `'request'` listener: how it is told from a listener that answers before the
 * framework (Socket.IO's engine, polling only, has no `'upgrade'` listener to show it), and how a
 * log line names it.
 */
export interface AppListener {
  /** The app in words, as a log line names it: `'the Express app'`. */
  readonly name: string;
  /** Whether `listener`, one of a server's `'request'` listeners, is the framework's app. */
  is(listener: unknown): boolean;
}

/**
 * An Express (or Connect) app or router as a server's `'request'` listener: a function with
 * `handle()` and `use()`. What `http.createServer(app)` and `app.listen()` leave on the server,
 * for the Express adapter and for Nest's Express platform.
 */
export const EXPRESS_APP: AppListener = Object.freeze({
  name: 'the Express app',
  is(listener: unknown): boolean {
    const app = listener as { handle?: unknown; use?: unknown } | undefined;
    return (
      typeof listener === 'function' &&
      typeof app?.handle === 'function' &&
      typeof app.use === 'function'
    );
  },
});

/** What a {@link ServerWatch} reports, for the adapter to word and log at `error`. */
export type ServerWatchEvent =
  | {
      /**
       * The watch guarded a server that already had listeners answering before the framework:
       * they took requests unchecked until this first request.
       */
      readonly type: 'guarded-late';
      /** Those listeners in words (see {@link listenersBeforeFramework}), never empty. */
      readonly listeners: readonly string[];
    }
  | {
      /** `guardUpgrades` refused the server (it is not one it takes): said once per server. */
      readonly type: 'unguardable';
      readonly error: unknown;
    };

/** Options of a {@link ServerWatch}. */
export interface ServerWatchOptions {
  /**
   * Logs an event at `error`, in the adapter's words. A throw (or an `async` logger's rejection)
   * never fails the request that brought the server, which is guarded anyway: the line is lost,
   * and the first such failure is said as a process warning (`CDN_ORIGIN_GUARD_LOGGER_THREW`).
   */
  readonly report: (event: ServerWatchEvent) => unknown;
}

/** What a {@link ServerWatch} guards with, from {@link ServerWatch.start} on. */
export interface ServerWatchStart {
  /**
   * Guards one server's upgrades with the adapter's callbacks (its `guardUpgrades` call);
   * returns the remover. May throw: a server it refuses is reported once.
   */
  readonly guard: (server: UpgradeServer) => () => void;
  /**
   * The framework's own `'request'` listener. Any other `'request'` listener is named among the
   * listeners that answered before the framework. Without it, none is named.
   */
  readonly app?: AppListener | undefined;
}

/** Something that counts its listeners (an EventEmitter): a server, as far as the watch reads it. */
interface ListeningServer {
  listenerCount(event: string): number;
  listeners?(event: string): unknown[];
}

/** A server that says when it closes. */
interface ClosingServer {
  once(event: 'close', listener: () => void): unknown;
}

function countsListeners(server: object): server is ListeningServer {
  return typeof (server as Partial<ListeningServer>).listenerCount === 'function';
}

/**
 * One verifier's watch over the servers its requests come from. An adapter guards the server it
 * knows (Fastify's and Nest's at startup, Express's when the app calls `guardUpgrades`); a server
 * it cannot see (an Express app that forgot the call; a server created around Nest's Express
 * instance, Nest's "multiple simultaneous servers") took WebSocket handshakes and Socket.IO
 * sessions unchecked, silently. With the watch, the first request from a server that no verifier
 * guards guards it from then on, and an `error` event names the listeners that answered before
 * the framework until then.
 *
 * The adapter's hot path is one property read and one comparison:
 * `if (server !== watch.last) watch.see(server)`. The lifecycle is the adapter's: Express, with
 * no startup or shutdown hook, starts the watch when the middleware is made and never stops it;
 * the Nest module starts it at bootstrap and stops it at shutdown.
 *
 * The rules (each from a review, each tested):
 * - A server any verifier guards is left as it is: two guards (two distributions) never make an
 *   upgrade pass both. It is not recorded, so it is looked at again when requests come from it
 *   anew: once that guard is gone (its app closed, its remover ran), this one takes over.
 * - Before `start()` (a request while a Nest app starts) nothing is recorded, and `start()`
 *   looks again at the servers met before it (review, eleventh session: one early request left
 *   the server unguarded).
 * - A server this watch guarded stays guarded until it closes after `stop()`: Nest does not
 *   close a server you created, and its handshakes during a graceful shutdown must not go
 *   unchecked; a server closed while the watch runs stays guarded, since listening again its
 *   first handshake comes before any request (review, eleventh session).
 * - A server `guardUpgrades` refuses is reported once, never a failed request; `see()` never
 *   throws.
 */
export class ServerWatch {
  /** The server of the last request: the adapter compares each request's server with it. */
  last: unknown;
  /** The servers this watch guarded (until each closes after `stop()`) or could not guard. */
  private readonly guarded = new WeakSet<object>();
  private started: ServerWatchStart | undefined;
  private readonly report: ServerWatchOptions['report'];
  private readonly log = loggerCaller('@cdn-origin-guard');

  constructor(options: Readonly<ServerWatchOptions>) {
    this.report = options.report;
  }

  /**
   * Start guarding the servers requests come from, with `how.guard`. A server met before (a
   * request while the app starts) is looked at again. Called again, the new `how` replaces the
   * old one.
   */
  start(how: Readonly<ServerWatchStart>): void {
    this.started = { guard: how.guard, app: how.app };
    this.last = undefined;
  }

  /**
   * Guard no more servers (the app is shutting down). The servers already guarded stay guarded
   * until each closes.
   */
  stop(): void {
    this.started = undefined;
    this.last = undefined;
  }

  /** A request came from `server`, another than the last one's. Never throws. */
  see(server: unknown): void {
    const started = this.started;
    // Not started: not recorded, so the next request from the server looks again.
    if (started === undefined) return;
    this.last = server;
    if (typeof server !== 'object' || server === null || this.guarded.has(server)) return;
    let early: string[];
    try {
      // Guarded by any verifier: left as it is, and not recorded (see the class's rules).
      if (isGuardingUpgrades(server) || !countsListeners(server)) return;
      early = listenersBeforeFramework(server, started.app);
      const remove = started.guard(server as unknown as UpgradeServer);
      this.guarded.add(server);
      this.releaseOnClose(server, remove);
    } catch (error) {
      this.guarded.add(server);
      this.say({ type: 'unguardable', error });
      return;
    }
    if (early.length > 0) this.say({ type: 'guarded-late', listeners: early });
  }

  /** Remove a server's guard once it closes after `stop()`; closed while started, it stays. */
  private releaseOnClose(server: object, remove: () => void): void {
    if (typeof (server as Partial<ClosingServer>).once !== 'function') return;
    const closed = () => {
      if (this.started !== undefined) {
        (server as ClosingServer).once('close', closed);
        return;
      }
      remove();
      this.guarded.delete(server);
      if (this.last === server) this.last = undefined;
    };
    (server as ClosingServer).once('close', closed);
  }

  /**
   * An event for the adapter's log. A logger that throws or rejects never fails the request; its
   * failure is said once as a process warning (the core's `loggerCaller`), not swallowed.
   */
  private say(event: ServerWatchEvent): void {
    this.log('error', () => this.report(event));
  }
}
