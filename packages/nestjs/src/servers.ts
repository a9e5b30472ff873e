/**
 * The servers a verifier's requests come from: the module guards the upgrades of the adapter's
 * own HTTP server at bootstrap, and of any other server once a request shows it (the core's
 * `ServerWatch`; this file only words its lines and names the platform's own listener).
 * @module
 */
import type { IncomingMessage } from 'node:http';
import {
  type AppListener,
  EXPRESS_APP,
  errorText,
  type OriginVerifier,
  ServerWatch,
  type ServerWatchEvent,
} from '@cdn-origin-guard/core';
import { Logger } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';

/** The server a request came in on (its socket's), if any. */
export function serverOf(req: IncomingMessage): unknown {
  return (req.socket as (IncomingMessage['socket'] & { server?: unknown }) | undefined)?.server;
}

/**
 * The platform's own `'request'` listener: on Express the app (`http.createServer(instance)`),
 * on Fastify its request handler (`instance.routing`, what Fastify gives its own server). Any
 * other `'request'` listener answered before Nest (Socket.IO's engine, polling only).
 */
export function appListenerOf(adapter: AbstractHttpAdapter | undefined): AppListener | undefined {
  const type = adapter?.getType();
  if (type === 'express') return EXPRESS_APP;
  if (type !== 'fastify') return undefined;
  const routing = adapter?.getInstance<{ routing?: unknown }>()?.routing;
  return typeof routing === 'function'
    ? { name: "Fastify's request handler", is: (listener) => listener === routing }
    : undefined;
}

/** A watch event as the module's `error` line. */
function lineOf(event: ServerWatchEvent): string {
  if (event.type === 'unguardable')
    return `cdn-origin-guard: could not guard the upgrades of a server Nest's requests come from: ${errorText(event.error)}. Call guardUpgrades(server, verifier) on it yourself.`;
  return `cdn-origin-guard: a server Nest's requests come from is not the adapter's own HTTP server (one you created around the adapter's instance); it has ${event.listeners.join(' and ')}, which nothing guarded: those requests reached them unchecked until this first request. The module checks them from now on (Socket.IO's long-polling under requestPaths too); call guardUpgrades(server, verifier) (the CDN_ORIGIN_GUARD_VERIFIER provider) on each server you create, before it listens.`;
}

const watches = new WeakMap<OriginVerifier, ServerWatch>();

/**
 * The watch of `verifier`'s servers: one per verifier, shared by every check that uses it. The
 * module starts it at bootstrap and stops it at shutdown. A server you create around the
 * adapter's instance (Nest's "multiple simultaneous servers": `http.createServer(instance)` next
 * to `https.createServer(options, instance)`) the module cannot see until a request arrives on
 * it; until the eleventh session its WebSocket handshakes and Socket.IO sessions reached their
 * listeners unchecked, silently. Now its first request guards it, as the Express middleware does.
 */
export function serverWatchOf(verifier: OriginVerifier): ServerWatch {
  let watch = watches.get(verifier);
  if (watch === undefined) {
    const logger = new Logger('CdnOriginGuardModule');
    watch = new ServerWatch({ report: (event) => logger.error(lineOf(event)) });
    watches.set(verifier, watch);
  }
  return watch;
}
