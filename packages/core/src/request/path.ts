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
 * (`/p`, or `/` when it has none). Returns undefined, meaning "never excluded, never a health
 * check", for anything that does not start with `/` after that, and for a path a router might
 * read differently than an exact string match would: a `.` or `..` segment, a backslash, a
 * `;`, or a percent-encoded `.`, `/` or `\`.
 *
 * Allocation-free for a plain origin-form path (the common case).
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
    if (i === path.length || path.charCodeAt(i) !== SLASH) return '/';
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
      // %2e %2f %5c, any case.
      if ((hi === 0x32 && (lo === 0x65 || lo === 0x66)) || (hi === 0x35 && lo === 0x63))
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
