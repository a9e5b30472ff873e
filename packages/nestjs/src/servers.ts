/**
 * The servers a verifier's requests come from: the module guards the upgrades of the adapter's
 * own HTTP server at bootstrap, and of any other server once a request shows it.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import {
  errorText,
  isGuardingUpgrades,
  listenersBeforeFramework,
  type OriginVerifier,
  type UpgradeServer,
} from '@cdn-origin-guard/core';
import { Logger } from '@nestjs/common';

/** Guards one server's upgrades with the module's callbacks; returns the remover. */
type GuardServer = (server: UpgradeServer) => () => void;

/** A server that says when it closes. */
interface ClosingServer {
  once(event: 'close', listener: () => void): unknown;
}

/** Something that counts its listeners (an EventEmitter): a server, as far as this reads it. */
interface ListeningServer {
  listenerCount(event: string): number;
}

function countsListeners(server: object): server is ListeningServer {
  return typeof (server as Partial<ListeningServer>).listenerCount === 'function';
}

/**
 * One verifier's watch over the servers its requests come from. The module guards the adapter's
 * own HTTP server at bootstrap; a server you create around the adapter's instance (Nest's
 * "multiple simultaneous servers": `http.createServer(instance)` next to
 * `https.createServer(options, instance)`) it cannot see until a request arrives on it. Until the
 * eleventh session such a server's WebSocket handshakes and Socket.IO sessions reached their
 * listeners unchecked, silently (the README said so). Now the first request from a server that
 * no verifier guards guards it from then on, with an `error` line when listeners that answer
 * before Nest were already there (they took requests unchecked until then), as the Express
 * middleware does.
 */
export class ServerWatch {
  /** The server of the last request: the per-request cost is one comparison with it. */
  last: unknown;
  /** The servers this watch guarded, until each closes. */
  private readonly guarded = new WeakSet<object>();
  private guard: GuardServer | undefined;
  private readonly logger = new Logger('CdnOriginGuardModule');

  /**
   * Start guarding the servers requests come from, with `guard` (the module's callbacks, at
   * bootstrap, once it has guarded the adapter's own server). A server met before this (a
   * request while the app starts) is looked at again.
   */
  start(guard: GuardServer): void {
    this.guard = guard;
    this.last = undefined;
  }

  /**
   * Guard no more servers (the app is shutting down). The servers already guarded stay guarded
   * until each closes: Nest does not close a server you created, and its handshakes during a
   * graceful shutdown must not go unchecked (review, eleventh session).
   */
  stop(): void {
    this.guard = undefined;
    this.last = undefined;
  }

  /** A request came from `server`, another than the last one's. Never throws. */
  see(server: unknown): void {
    const guard = this.guard;
    // Not started (a request while the app starts): not recorded, so the next request from the
    // server looks again (review, eleventh session: one early request left it unguarded).
    if (guard === undefined) return;
    this.last = server;
    if (typeof server !== 'object' || server === null || this.guarded.has(server)) return;
    let early: string[];
    try {
      // Guarded by any verifier (the module's own, another app's, or your call): left as it is,
      // so an app with two verifiers never has its upgrades made to pass both; not recorded, so
      // it is looked at again when the requests come from it anew.
      if (isGuardingUpgrades(server) || !countsListeners(server)) return;
      early = listenersBeforeFramework(server);
      const remove = guard(server as unknown as UpgradeServer);
      this.guarded.add(server);
      this.releaseOnClose(server, remove);
    } catch (error) {
      // Not a server guardUpgrades takes: said once, never a failed request.
      this.guarded.add(server);
      this.say(
        `cdn-origin-guard: could not guard the upgrades of a server Nest's requests come from: ${errorText(error)}. Call guardUpgrades(server, verifier) on it yourself.`,
      );
      return;
    }
    if (early.length > 0)
      this.say(
        `cdn-origin-guard: a server Nest's requests come from is not the adapter's own HTTP server (one you created around the adapter's instance), and nothing guarded its ${early.join(' and ')}: those requests reached them unchecked until this first request. The module checks them from now on (Socket.IO's long-polling under requestPaths too); call guardUpgrades(server, verifier) (the CDN_ORIGIN_GUARD_VERIFIER provider) on each server you create, before it listens.`,
      );
  }

  /**
   * Remove a server's guard once it closes after the app stopped. Closed while the app runs, it
   * stays guarded: listening again, its first handshake came before any request that could
   * guard it anew (review, eleventh session).
   */
  private releaseOnClose(server: object, remove: () => void): void {
    if (typeof (server as Partial<ClosingServer>).once !== 'function') return;
    const closed = () => {
      if (this.guard !== undefined) {
        (server as ClosingServer).once('close', closed);
        return;
      }
      remove();
      this.guarded.delete(server);
      if (this.last === server) this.last = undefined;
    };
    (server as ClosingServer).once('close', closed);
  }

  /** An error line; a logger that throws never fails the request that brought it. */
  private say(line: string): void {
    try {
      this.logger.error(line);
    } catch {
      // The app's logger failed: the server is guarded all the same.
    }
  }
}

/** The server a request came in on (its socket's), if any. */
export function serverOf(req: IncomingMessage): unknown {
  return (req.socket as (IncomingMessage['socket'] & { server?: unknown }) | undefined)?.server;
}

const watches = new WeakMap<OriginVerifier, ServerWatch>();

/** The watch of `verifier`'s servers: one per verifier, shared by every check that uses it. */
export function serverWatchOf(verifier: OriginVerifier): ServerWatch {
  let watch = watches.get(verifier);
  if (watch === undefined) {
    watch = new ServerWatch();
    watches.set(verifier, watch);
  }
  return watch;
}
