/**
 * `skippedPathPattern`: the paths a `@SkipOriginGuard()` route might be routed on, for the front
 * check on Express. It may match more than the skipped routes (those requests go on to the Nest
 * middleware, as before), never less.
 */
import { RequestMethod } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { type RouteInfo, skippedPathMatcher, skippedPathPattern } from '../src/routes.js';

const routes = (...paths: string[]): RouteInfo[] =>
  paths.map((path) => ({ path, method: RequestMethod.GET }));
const PREFIXED = { globalPrefix: 'api', uriVersionPrefix: 'v' };

/** Each path matched by `pattern` (or each not, with `matched` false), named when it fails. */
function expectEach(pattern: Pick<RegExp, 'test'>, paths: readonly string[], matched: boolean) {
  for (const path of paths) expect(pattern.test(path), path).toBe(matched);
}

describe('skippedPathPattern', () => {
  it('matches wherever Nest may put the route: global prefix, URI version, any case, a trailing slash, an escaped parameter', () => {
    const pattern = skippedPathPattern(routes('/ops/health/:id', '/status'), PREFIXED)!;
    expectEach(
      pattern,
      [
        '/ops/health/1',
        '/api/v2/ops/health/1',
        '/v1/ops/health/1',
        '/OPS/Health/x/',
        '/API/ops/health',
        '/status',
        '/api/status/',
        '/ops/health/a%20b',
      ],
      true,
    );
  });

  it('leaves out paths that cannot be a skipped route: other places, other endings, escapes', () => {
    const pattern = skippedPathPattern(routes('/ops/health/:id', '/v1.2/ping'), PREFIXED)!;
    // An escape in a literal segment: Express does not decode it before matching the route.
    expectEach(
      pattern,
      [
        '/',
        '/items',
        '/ops',
        '/health',
        '/ops/status',
        '/ops/healthy',
        '/v1x2/ping',
        '/v1.2/ping/x',
        '/ops/heal%74h/1',
        '/%6Fps/health/1',
        '/ops%2Fhealth/1',
        '/internal%2Dreport.txt',
        '/internal-api/ops/health',
        '/internal-api/OPS/Health/anything',
        '/api/x/ops/health/1',
        '/api/api/ops/health/1',
        '//ops/health/1',
      ],
      false,
    );
  });

  it('without a global prefix or URI versioning, only the route itself', () => {
    const pattern = skippedPathPattern(routes('/ops/health'))!;
    expect(pattern.test('/ops/health')).toBe(true);
    expect(pattern.test('/ops/health/')).toBe(true);
    expectEach(pattern, ['/api/ops/health', '/v1/ops/health', '/ops/health/x'], false);
  });

  it('keeps only the literal segments before the first parameter or wildcard', () => {
    const pattern = skippedPathPattern(routes('/files/:name.json', '/assets/*path', '/a/b{/:c}'))!;
    expectEach(
      pattern,
      ['/files', '/files/x.json', '/assets', '/assets/x/y', '/a/b', '/a/b/c'],
      true,
    );
    // '/a/b{/:c}': the segment 'b{' holds an optional part, so only '/a' is kept (a superset).
    expectEach(pattern, ['/file', '/filesx/y', '/ab'], false);
  });

  it('matches a skipped root route only at the root (under the prefix and version)', () => {
    const pattern = skippedPathPattern(routes('/'), PREFIXED)!;
    expectEach(pattern, ['/', '/api', '/api/', '/api/v1', '/v1/'], true);
    expectEach(pattern, ['/x', '/api/x', '/internal-report.txt', '/api/v1/x'], false);
  });

  it('gives no pattern when a skipped route could be on any path', () => {
    expect(skippedPathPattern(routes('/:tenant/health'))).toBeUndefined();
    expect(skippedPathPattern(routes('/ok', '*'))).toBeUndefined();
  });

  it('as the front check matcher, reads the prefixes at its first test, not when built', () => {
    let prefixes = { globalPrefix: '' };
    const matcher = skippedPathMatcher(routes('/ops/health'), () => prefixes)!;
    prefixes = { globalPrefix: 'api' }; // main.ts's setGlobalPrefix(), after the module was created
    expectEach(matcher, ['/api/ops/health', '/ops/health'], true);
    expect(skippedPathMatcher(routes('/:tenant/health'), () => prefixes)).toBeUndefined();
  });
});
