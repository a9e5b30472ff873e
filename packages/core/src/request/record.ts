/**
 * Where the adapters put the decision on a Node request so that `req.cdnOriginGuard` reads it
 * (the Express middleware, and the Nest module on Express; Fastify decorates its own request).
 *
 * Express gives every request its app's prototype (`Object.setPrototypeOf(req, app.request)`).
 * On the V8 of Node 20 and 22 (before V8 13) a property added to such an object does not reuse
 * a hidden-class transition: each request gets a hidden class of its own, and the request's
 * property accesses after it miss every inline cache. Measured inside real requests, the one
 * statement `req.cdnOriginGuard = decision` cost 4–7 µs a request there, the whole of the
 * Express middleware's excess over a hand-written `verify` middleware (`npm run bench:in-place`,
 * bench/RESULTS.md section 12).
 *
 * So on those versions, under Express, the decision is kept on the request's `rawHeaders` array,
 * under a registered symbol: an array Node's HTTP parser makes per request, whose hidden class is
 * the same on every request, so adding the key reuses one transition (free in place), and
 * `cdnOriginGuard` is an accessor on Express's base request prototype (the object right above
 * `http.IncomingMessage.prototype`, shared by every app and sub-app of that Express copy) that
 * reads it back. Anywhere else the decision is an own property of the request: on V8 13 and
 * later (Node 24), which reuses the transition and where the own property measured 0.6 µs
 * cheaper in place than the accessor; on a plain Node server; on a request that already has an
 * own `cdnOriginGuard`; and when the base prototype's `cdnOriginGuard` is someone else's.
 *
 * What users see is the same either way: `req.cdnOriginGuard` is the decision of the last guard
 * the request passed, `undefined` on a request no guard looked at, and assignable (an assignment
 * makes an own property, which wins). Under Express on Node 20 and 22 it is not an own property:
 * `Object.keys(req)` and a spread of `req` do not list it. Enforcement never depends on any of
 * this: the adapters deny or pass the request on themselves. See docs/ARCHITECTURE.md
 * ("Adapters").
 * @module
 */
import { IncomingMessage } from 'node:http';
import type { Decision } from '../decision.js';

/** The key on `rawHeaders`. Registered, so that two copies of the core share it. */
const DECISION_KEY = Symbol.for('@cdn-origin-guard/decision');
/** Marks the accessor's getter as ours (any copy of the core). */
const ACCESSOR_MARK = Symbol.for('@cdn-origin-guard/decision-accessor');
const PROPERTY = 'cdnOriginGuard';

/**
 * Whether the decision is always an own property of the request: on V8 13 and later, where a
 * property added after a prototype change reuses its transition. Mutable for the adapters'
 * tests, which run both ways on every Node version; not exported from the package.
 */
export const decisionRecording = { ownProperty: Number(process.versions.v8.split('.')[0]) >= 13 };

/** The request as recording sees it. */
type RecordRequest = IncomingMessage & { cdnOriginGuard?: Decision | undefined };
type Carrier = string[] & { [DECISION_KEY]?: Decision | undefined };

function getDecision(this: { rawHeaders?: unknown } | undefined): Decision | undefined {
  const raw = this?.rawHeaders;
  return Array.isArray(raw) ? (raw as Carrier)[DECISION_KEY] : undefined;
}
function setDecision(this: object, value: unknown): void {
  Object.defineProperty(this, PROPERTY, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}
Object.defineProperty(getDecision, ACCESSOR_MARK, { value: true });

/**
 * Whether requests whose own prototype is `proto` read `cdnOriginGuard` through our accessor,
 * installing it on Express's base request prototype the first time. False when no prototype
 * sits between `proto`'s chain and `IncomingMessage.prototype` (a plain Node request), when that
 * prototype already has a `cdnOriginGuard` that is not ours, or when it cannot be extended.
 */
function accessorServes(proto: object): boolean {
  if (proto === IncomingMessage.prototype) return false;
  let base: object | null = proto;
  while (base !== null && Object.getPrototypeOf(base) !== IncomingMessage.prototype)
    base = Object.getPrototypeOf(base) as object | null;
  if (base === null) return false;
  const existing = Object.getOwnPropertyDescriptor(base, PROPERTY);
  if (existing !== undefined)
    return (existing.get as { [ACCESSOR_MARK]?: true } | undefined)?.[ACCESSOR_MARK] === true;
  if (!Object.isExtensible(base)) return false;
  Object.defineProperty(base, PROPERTY, {
    get: getDecision,
    set: setDecision,
    enumerable: false,
    configurable: true,
  });
  return true;
}

/** Prototypes already looked at, and whether the accessor serves their requests. */
const served = new WeakMap<object, boolean>();
/** The last prototype looked up (one app: the same on every request) and its answer. */
let lastProto: object | null = null;
let lastServes = false;

/** Whether the accessor serves requests whose own prototype is `proto` (cached). */
function servesProto(proto: object | null): boolean {
  if (proto === lastProto) return lastServes;
  if (proto === null) return false;
  let serves = served.get(proto);
  if (serves === undefined) {
    serves = accessorServes(proto);
    served.set(proto, serves);
  }
  lastProto = proto;
  lastServes = serves;
  return serves;
}

/**
 * Put `decision` on a Node request (an `http.IncomingMessage`, typed as `object` so that the
 * core's types do not need `@types/node`) so that `req.cdnOriginGuard` returns it, as the Express
 * adapter and the Nest module on Express do. On an Express request under Node 20 and 22 the
 * decision is kept on `req.rawHeaders` and `cdnOriginGuard` is an accessor on Express's base
 * request prototype (installed on first use), because an own property there costs 2–5 µs a
 * request; elsewhere it is an own property. Reading and assigning `req.cdnOriginGuard` behave
 * the same either way.
 *
 * @example
 * ```ts
 * const decision = verifier.verify(input);
 * recordDecision(req, decision); // req.cdnOriginGuard === decision
 * ```
 */
export function recordDecision(req: object, decision: Decision | undefined): void {
  const request = req as RecordRequest;
  const raw = request.rawHeaders as Carrier | undefined;
  if (
    !decisionRecording.ownProperty &&
    Array.isArray(raw) &&
    servesProto(Object.getPrototypeOf(req) as object | null) &&
    // An own property (set by the app, or by another adapter) would hide the accessor.
    !Object.hasOwn(req, PROPERTY)
  )
    raw[DECISION_KEY] = decision;
  else request.cdnOriginGuard = decision;
}
