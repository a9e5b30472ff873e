/**
 * The servers a verifier's requests come from: the module guards the upgrades of the adapter's
 * own HTTP server at bootstrap, and of any other server once a request shows it.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import {
  isGuardingUpgrades,
  listenersBeforeFramework,
  type OriginVerifier,
  type UpgradeServer,
} from '@cdn-origin-guard/core';
import { Logger } from '@nestjs/common';

/** Guards one server's upgrades with the module's callbacks; returns the remover. */
type GuardServer = (server: UpgradeServer) => () => void;

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
  private readonly seen = new WeakSet<object>();
  private readonly removers: (() => void)[] = [];
  private guard: GuardServer | undefined;
  private readonly logger = new Logger('CdnOriginGuardModule');

  /**
   * Start guarding the servers requests come from, with `guard` (the module's callbacks, at
   * bootstrap, once it has guarded the adapter's own server).
   */
  start(guard: GuardServer): void {
    this.guard = guard;
  }

  /** Stop guarding the servers this watch guarded (at shutdown, with the adapter's own). */
  stop(): void {
    this.guard = undefined;
    for (const remove of this.removers.splice(0)) remove();
  }

  /** A request came from `server`, another than the last one's. */
  see(server: unknown): void {
    this.last = server;
    const guard = this.guard;
    if (guard === undefined || typeof server !== 'object' || server === null) return;
    if (this.seen.has(server)) return;
    this.seen.add(server);
    // Guarded by any verifier (the module's own, or your call): left as it is, so an app with two
    // verifiers never has its upgrades made to pass both.
    if (isGuardingUpgrades(server) || !countsListeners(server)) return;
    const early = listenersBeforeFramework(server);
    try {
      this.removers.push(guard(server as unknown as UpgradeServer));
    } catch {
      return; // not a server guardUpgrades takes: nothing to guard
    }
    if (early.length > 0)
      this.logger.error(
        `cdn-origin-guard: a server Nest's requests come from is not the adapter's own HTTP server (one you created around the adapter's instance), and nothing guarded its ${early.join(' and ')}: those requests reached them unchecked until this first request. The module checks them from now on (Socket.IO's long-polling under requestPaths too); call guardUpgrades(server, verifier) (the CDN_ORIGIN_GUARD_VERIFIER provider) on each server you create, before it listens.`,
      );
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
