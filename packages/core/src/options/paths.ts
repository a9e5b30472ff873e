/**
 * Resolution of the path options, `healthCheckPaths` and `excludePaths`: every string entry is
 * a path the guard can match, and no RegExp entry lets nearly every path through.
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import { collapsedPath, matchablePath } from '../request/path.js';
import { DEFAULTS } from './defaults.js';
import { describe, stringList } from './readers.js';

/** The path options, resolved. */
export interface ResolvedPaths {
  readonly healthCheckPaths: ReadonlySet<string>;
  readonly excludeExact: ReadonlySet<string>;
  readonly excludePatterns: readonly RegExp[];
}

/** Resolve `healthCheckPaths` and `excludePaths` of `given` (the caller's options, read only). */
export function resolvePaths(given: Readonly<Record<string, unknown>>): ResolvedPaths {
  const health = stringList('healthCheckPaths', given.healthCheckPaths, DEFAULTS.healthCheckPaths);
  health.forEach((path, i) => {
    checkPath(`healthCheckPaths[${i}]`, path);
  });
  const excludes = given.excludePaths ?? DEFAULTS.excludePaths;
  if (!Array.isArray(excludes))
    throw new InvalidOptionError(
      'excludePaths',
      `is ${describe(excludes)}; expected an array of paths or RegExps.`,
    );
  const excludeExact: string[] = [];
  const excludePatterns: RegExp[] = [];
  excludes.forEach((exclude: unknown, i: number) => {
    const name = `excludePaths[${i}]`;
    if (exclude instanceof RegExp) {
      // A copy without `g` and `y`: those make `test` stateful (it would start at `lastIndex`).
      const pattern = new RegExp(exclude.source, exclude.flags.replace(/[gy]/g, ''));
      checkNarrow(name, pattern);
      if (matchesAnywhere(exclude.source)) warnUnanchoredExclude(i, exclude);
      excludePatterns.push(pattern);
    } else if (typeof exclude === 'string' && exclude.startsWith('/')) {
      checkPath(name, exclude);
      excludeExact.push(exclude);
    } else
      throw new InvalidOptionError(
        name,
        `is ${describe(exclude)}; expected a path starting with "/" or a RegExp.`,
      );
  });
  // An exact path ending in `/` or holding `//` excludes nothing on its own: it is excluded only
  // when the path a router routes it on is too (review, eleventh session).
  excludeExact.forEach((entry) => {
    const routed = collapsedPath(entry);
    if (routed === entry || excludeExact.includes(routed)) return;
    if (excludePatterns.some((pattern) => pattern.test(routed))) return;
    throw new InvalidOptionError(
      `excludePaths[${excludes.indexOf(entry)}]`,
      `is '${entry}', which excludes nothing on its own: a router takes it for '${routed}' (Express routes '/x/' to the route '/x'; Fastify a prefixed plugin's '/' route), so it is excluded only when '${routed}' is too. A string is one exact path, not a prefix: to exclude the path, list '${routed}' as well, or instead; to exclude everything under it, pass a RegExp in code (e.g. /^\\/assets\\/[^/]/; CDN_ORIGIN_GUARD_EXCLUDE_PATHS takes exact paths only).`,
    );
  });
  return {
    healthCheckPaths: new Set(health),
    excludeExact: new Set(excludeExact),
    excludePatterns,
  };
}

/**
 * Throws unless `entry` is a path the guard can match: it compares the request's path, cut at
 * `?` or `#` and only when it is unambiguous (see `matchablePath`), to the entry as a string.
 */
function checkPath(name: string, entry: string): void {
  if (!entry.startsWith('/'))
    throw new InvalidOptionError(name, `is ${describe(entry)}; expected a path starting with "/".`);
  const problem = pathProblem(entry);
  if (problem !== undefined)
    throw new InvalidOptionError(
      name,
      `is ${describe(entry)}, which no request ever matches: ${problem}`,
    );
}

/** Why no request path can equal `entry`, with what to write instead; undefined when one can. */
function pathProblem(entry: string): string | undefined {
  if (entry.startsWith('/^') || (entry.length > 1 && entry.endsWith('/') && entry.includes('\\')))
    return 'it is a RegExp written as a string, compared as a literal path (CDN_ORIGIN_GUARD_EXCLUDE_PATHS takes literal paths only). Pass a RegExp in code, e.g. `excludePaths: [/^\\/static\\//]`, or list exact paths.';
  const trimmed = entry.trim();
  if (trimmed !== entry) return `it has white space at its start or end; use '${trimmed}'.`;
  const query = entry.indexOf('?');
  const fragment = entry.indexOf('#');
  if (query >= 0 && (fragment < 0 || query < fragment))
    return `the path is matched without its query: use '${entry.slice(0, query)}'.`;
  if (fragment >= 0)
    return `the path is matched without its fragment (which clients never send): use '${entry.slice(0, fragment)}'.`;
  // Node answers 400 to a request target with a raw space, control character or non-ASCII byte.
  if (/[^\x21-\x7e]/.test(entry))
    return `a request path never holds a space, control or non-ASCII character unencoded (clients percent-encode it); use '${encodeURI(entry)}'.`;
  if (matchablePath(entry) === entry) return undefined;
  if (/(^|\/)\.\.?(\/|$)/.test(entry)) {
    const resolved = new URL(entry, 'http://x').pathname;
    return `it has a '.' or '..' segment, and the guard never matches such a path (a router resolves it first)${matchablePath(resolved) === resolved ? `; use '${resolved}'` : ''}.`;
  }
  const what = entry.includes('\\')
    ? 'a backslash, which some servers read as "/"'
    : entry.includes(';')
      ? "a ';', a path parameter some servers cut"
      : "a percent-encoded '.', '/', '\\' or '%', which a router or a static-file server may decode into another path";
  return `it has ${what}, and the guard never matches such a path; list the path as your routes name it.`;
}

/**
 * Paths no app names, of six shapes: one, two or three segments, without or with a lower-case
 * extension (of 2 to 5 characters). Four of each, fixed, so a configuration is accepted or refused the
 * same way at every start (outside review, 4 December: fresh random samples refused
 * `/^\/\w+\.[a-z]{3}$/` at one start in fifty). They vary in case, digits, `-`, `_` and `~`,
 * so a pattern matching all four of a shape matches nearly any path of it.
 */
const SAMPLE_PATHS: readonly (readonly string[])[] = Object.freeze([
  ['/k7q2x9vw', '/ZT4MQ8B', '/0h3n-5p_r', '/q~u7e'],
  ['/k7q2x9vw.bn', '/ZT4MQ8B.qzx', '/0h3n-5p_r.zq7k', '/q~u7e.x7y2w'],
  ['/k7q2x9vw/r5t', '/ZT4MQ8B/0', '/0h3n-5p_r/Ab-c', '/q~u7e/W_9'],
  ['/k7q2x9vw/r5t.gz', '/ZT4MQ8B/0.pdf', '/0h3n-5p_r/Ab-c.zq7k', '/q~u7e/W_9.x7y2w'],
  ['/k7q2x9vw/r5t/77', '/ZT4MQ8B/0/z', '/0h3n-5p_r/Ab-c/-', '/q~u7e/W_9/kK'],
  ['/k7q2x9vw/r5t/77.gz', '/ZT4MQ8B/0/z.pdf', '/0h3n-5p_r/Ab-c/-.zq7k', '/q~u7e/W_9/kK.x7y2w'],
]);

/**
 * Throws when `pattern` matches every sample path of some shape: it lets (nearly) every path
 * through unchecked (`/^\//`, an optional group `/^\/(health)?/`, `/^\/[^/]+$/`). All four of a
 * shape must match, so a narrow pattern (`/^\/a/`, `/^\/k7/`) passes; `/` itself is not a
 * sample, since excluding exactly `/` is legitimate.
 */
function checkNarrow(name: string, pattern: RegExp): void {
  for (const shape of SAMPLE_PATHS) {
    if (!shape.every((sample) => pattern.test(sample))) continue;
    throw new InvalidOptionError(
      name,
      `(${String(pattern)}) matches any path (it matched ${shape[0]}), so every request would be let through unchecked; anchor it to a public prefix, e.g. /^\\/assets\\//, or list exact paths.`,
    );
  }
}

/** Starts of a branch that anchor nothing: `^.*`, `^.+`, `^\/.*`, `^\/.+`. */
const ANY_PREFIX = ['.*', '.+', '\\/.*', '\\/.+'] as const;

/**
 * Whether a pattern can match away from the start of the path: some top-level alternative of
 * `source` does not begin with `^` (`/\.css$/`, `/^\/a|\/b/`), or begins with `^` followed by
 * a run of any characters (`/^.*\.css$/`, `/^\/.+\/admin/`). Groups and character classes are
 * skipped; a pattern anchored only inside a group (`(?:^\/a|^\/b)`) counts as unanchored, which
 * only costs a warning.
 */
export function matchesAnywhere(source: string): boolean {
  let depth = 0;
  let inClass = false;
  let branchStart = true;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (branchStart) {
      if (c !== '^' || ANY_PREFIX.some((any) => source.startsWith(any, i + 1))) return true;
      branchStart = false;
      continue;
    }
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) branchStart = true;
  }
  return branchStart;
}

/**
 * An exclusion pattern that can match away from the path's start lets through every path that
 * merely contains a match: `/\.css$/` also excludes `/users/1.css`, which a route such as
 * `/users/:id` answers, unchecked. Not an error (a start anchor alone does not make a pattern
 * narrow), but said once, through Node's warning channel, when the options are resolved.
 */
function warnUnanchoredExclude(index: number, pattern: RegExp): void {
  process.emitWarning(
    `@cdn-origin-guard: excludePaths[${index}] (${String(pattern)}) is not anchored at the start of the path, so any path containing a match is let through unchecked (/\\.css$/ also excludes /users/1.css, which a route /users/:id answers). Anchor every alternative with ^ and name the directory, e.g. /^\\/static\\/[\\w.-]+\\.css$/, or list exact paths.`,
    { code: 'CDN_ORIGIN_GUARD_UNANCHORED_EXCLUDE' },
  );
}
