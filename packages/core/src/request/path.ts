/**
 * The path the guard matches health-check paths and exclusions against: the path the
 * framework routes on, or nothing when that is not certain.
 * @module
 */

const SLASH = 0x2f;
const QUESTION = 0x3f;
const HASH = 0x23;

/**
 * The path of a request target as a router sees it, for health-check and exclusion matching.
 * Cut at the first `?` or `#`; an absolute-form target (`http://host/p`) becomes its path
 * (`/p`; with no `/` right after the host, undefined). Returns undefined, meaning "never excluded, never a health
 * check", for anything that does not start with `/` after that, and for a path a router might
 * read differently than an exact string match would: a `.` or `..` segment, a backslash, a
 * `;`, or a percent-encoded `.`, `/`, `\` or `%` (`%252e` is `.` once decoded twice). Adapters use it to tell whether a path may be
 * matched as a string at all.
 *
 * Allocation-free for a plain origin-form path (the common case).
 *
 * @example
 * ```ts
 * import { matchablePath } from '@cdn-origin-guard/core';
 * matchablePath('/health?full=1'); // '/health'
 * matchablePath('/ops/health/%2e%2e/admin'); // undefined: a server may decode and resolve it
 * ```
 */
export function matchablePath(target: string): string | undefined {
  let path = target;
  if (path.charCodeAt(0) !== SLASH) {
    const authority = absoluteFormAuthority(path);
    if (authority < 0) return undefined;
    let i = authority;
    while (i < path.length) {
      const c = path.charCodeAt(i);
      if (c === SLASH || c === QUESTION || c === HASH) break;
      i++;
    }
    // No `/` right after the authority (`http://host?/admin`, `http://host#x`, `http://host`):
    // routers disagree on the path (find-my-way before 9.9 routed `http://host?/admin` as
    // `/admin`), so it is matched against nothing (outside review, 4 December).
    if (i === path.length || path.charCodeAt(i) !== SLASH) return undefined;
    path = path.slice(i);
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === QUESTION || c === HASH) {
      path = path.slice(0, i);
      break;
    }
  }
  return isAmbiguous(path) ? undefined : path;
}

/** Index just after `http://` or `https://` (any case), or -1. */
function absoluteFormAuthority(s: string): number {
  const lower = s.slice(0, 8).toLowerCase();
  if (lower.startsWith('http://')) return 7;
  if (lower.startsWith('https://')) return 8;
  return -1;
}

/** Whether a router might normalise `path` into something else (dot segments, encodings). */
function isAmbiguous(path: string): boolean {
  const n = path.length;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x5c /* \ */ || c === 0x3b /* ; */) return true;
    if (c === 0x25 /* % */ && i + 2 < n) {
      const hi = path.charCodeAt(i + 1);
      const lo = path.charCodeAt(i + 2) | 0x20;
      // %2e %2f %5c, any case; and %25 (an encoded `%`): a router decodes a parameter once and a
      // static-file server again, so `%252e%252e` becomes `..` there (outside review, 4 December).
      if (
        (hi === 0x32 && (lo === 0x65 || lo === 0x66)) ||
        (hi === 0x35 && lo === 0x63) ||
        (hi === 0x32 && lo === 0x35)
      )
        return true;
    }
    if (c === 0x2e /* . */ && path.charCodeAt(i - 1) === SLASH) {
      // "/." or "/.." followed by "/" or the end.
      let j = i + 1;
      if (path.charCodeAt(j) === 0x2e) j++;
      if (j === n || path.charCodeAt(j) === SLASH) return true;
    }
  }
  return false;
}

/**
 * For an adapter in an Express-style router: the path to match health-check paths and
 * exclusions on, given the pathname of the target as received (`req.originalUrl`) and of the
 * target the router routes on from the adapter's position (`req.url`), which differ in two
 * cases. Under a mount (`app.use('/api', guard)`) the router cut the mount path from `req.url`
 * and keeps it in `req.baseUrl`: the request is routed on the target as received, whose path is
 * returned. When something before the adapter rewrote `req.url` (a URL-rewrite middleware), the
 * router routes on a path the request did not name: undefined is returned, so no path rule
 * applies and the request must pass every check (an exclusion matched on the received path
 * would otherwise let the request through to whatever route the rewrite chose).
 *
 * @param originalPath - pathname of the target as received (query and fragment cut).
 * @param routedPath - pathname of `req.url` at the adapter.
 * @param mountPath - `req.baseUrl` at the adapter (`''` or undefined when not mounted).
 * @returns `originalPath`, or undefined when the router routes on another path.
 * @example
 * ```ts
 * import { pathUnderMount } from '@cdn-origin-guard/core';
 * pathUnderMount('/api/health', '/health', '/api'); // '/api/health' (mounted at /api)
 * pathUnderMount('/api', '/', '/api'); // '/api'
 * pathUnderMount('/public', '/admin', ''); // undefined (req.url was rewritten)
 * ```
 */
export function pathUnderMount(
  originalPath: string | undefined,
  routedPath: string | undefined,
  mountPath: string | undefined,
): string | undefined {
  if (originalPath === undefined || routedPath === undefined) return undefined;
  if (originalPath === routedPath) return originalPath;
  const base = mountPath ?? '';
  const mounted =
    // `/api/health` = `/api` + `/health`; `/api` mounted at `/api` is routed as `/`.
    (originalPath.length === base.length + routedPath.length &&
      originalPath.startsWith(base) &&
      originalPath.endsWith(routedPath)) ||
    (routedPath === '/' && originalPath === base);
  return mounted ? originalPath : undefined;
}

/**
 * `path` as a router may route it: runs of `/` collapsed and a trailing `/` cut (`/` stays `/`).
 * Express routes `/x/` to the route `/x`; Fastify answers `/x/` from a prefixed plugin's `/`
 * route, and with `ignoreTrailingSlash` / `ignoreDuplicateSlashes` routes `/x//` to `/x`.
 */
export function collapsedPath(path: string): string {
  let out = path;
  if (out.includes('//')) out = out.replace(/\/{2,}/g, '/');
  if (out.length > 1 && out.charCodeAt(out.length - 1) === SLASH) out = out.slice(0, -1);
  return out;
}
