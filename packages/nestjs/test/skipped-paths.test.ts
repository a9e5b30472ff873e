/**
 * `skippedPathPattern`: the paths a `@SkipOriginGuard()` route might be routed on, for the front
 * check on Express. It must never match less than the skipped routes, and as little more as it
 * can: a path it matches goes on past main.ts's registrations (static files, `app.use()`) to the
 * Nest middleware, so a path it wrongly matches reaches those unchecked.
 */
import { RequestMethod, VERSION_NEUTRAL } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { type RouteInfo, skippedPathMatcher, skippedPathPattern } from '../src/routes.js';

const routes = (...paths: string[]): RouteInfo[] =>
  paths.map((path) => ({ path, method: RequestMethod.GET }));
/** A global prefix every route may be excluded from (so it is optional), and URI versioning. */
const PREFIXED = {
  globalPrefix: 'api',
  excludedFromGlobalPrefix: [{ requestMethod: RequestMethod.ALL }],
  uriVersionPrefix: 'v',
};
const versioned = (path: string, version: RouteInfo['version']): RouteInfo => ({
  path,
  method: RequestMethod.GET,
  version,
});

/** Each path matched by `pattern` (or each not, with `matched` false), named when it fails. */
function expectEach(pattern: Pick<RegExp, 'test'>, paths: readonly string[], matched: boolean) {
  for (const path of paths) expect(pattern.test(path), path).toBe(matched);
}

describe('skippedPathPattern', () => {
  it('takes the global prefix as optional only for the routes its exclusions cover, as Nest decides (method, path)', () => {
    const pattern = skippedPathPattern(
      [
        ...routes('/ops/health', '/status', '/items/:id'),
        { path: '/hook', method: RequestMethod.POST },
      ],
      {
        globalPrefix: 'api',
        excludedFromGlobalPrefix: [
          { requestMethod: RequestMethod.ALL, pathRegex: /^\/ops\/health\/?$/i },
          { requestMethod: RequestMethod.GET, pathRegex: /^\/items\/[^/]+\/?$/i },
          { requestMethod: RequestMethod.GET, pathRegex: /^\/hook\/?$/i },
        ],
      },
    )!;
    expectEach(
      pattern,
      ['/ops/health', '/api/ops/health', '/items/1', '/api/items/1', '/api/status', '/api/hook'],
      true,
    );
    // /status is not excluded; /hook is excluded for GET only and the skipped route is POST.
    expectEach(pattern, ['/status', '/hook', '/ops/health-report'], false);
  });

  it("matches wherever Nest may put the route: global prefix, the route's own URI versions, any case, a trailing slash, an escaped parameter", () => {
    const pattern = skippedPathPattern(
      [versioned('/ops/health/:id', ['1', '2']), ...routes('/status')],
      PREFIXED,
    )!;
    expectEach(
      pattern,
      [
        '/v1/ops/health/1',
        '/api/v2/ops/health/1',
        '/V1/OPS/Health/x/',
        '/status',
        '/api/status/',
        '/v2/ops/health/a%20b',
      ],
      true,
    );
    // Not under another version, nor without one, nor an unversioned route under a version.
    expectEach(
      pattern,
      [
        '/ops/health/1',
        '/v3/ops/health/1',
        '/vx/ops/health',
        '/v1/status',
        '/api/v2/status',
        // A plain parameter is one segment, as Express routes it (outside review, 4 December).
        '/API/v2/ops/health',
        '/v1/ops/health/1/2',
        '/v1/ops/health//',
      ],
      false,
    );
  });

  it('takes the version segment from the route, else the default version, optional only for VERSION_NEUTRAL (outside review, 4 December)', () => {
    const root = skippedPathPattern([versioned('/', '1')], {
      globalPrefix: '',
      uriVersionPrefix: 'v',
    })!;
    expectEach(root, ['/v1', '/V1/'], true);
    expectEach(root, ['/', '/vault-export.json', '/v2', '/v1/x', '/internal-report.txt'], false);

    const noPrefix = skippedPathPattern([versioned('/', '1'), versioned('/ops/health', '2')], {
      globalPrefix: '',
      uriVersionPrefix: '',
    })!;
    expectEach(noPrefix, ['/1', '/2/ops/health'], true);
    expectEach(
      noPrefix,
      ['/internal-report.txt', '/vault-export.json', '/internal-api/ops/health', '/1/ops/health'],
      false,
    );

    const byDefault = skippedPathPattern(routes('/status'), {
      globalPrefix: '',
      uriVersionPrefix: 'v',
      defaultVersion: ['3', VERSION_NEUTRAL],
    })!;
    expectEach(byDefault, ['/v3/status', '/status'], true);
    expectEach(byDefault, ['/v2/status', '/vault/status'], false);

    // Header or media-type versioning puts nothing in the path.
    const byHeader = skippedPathPattern([versioned('/ops/health', '1')], { globalPrefix: '' })!;
    expectEach(byHeader, ['/ops/health'], true);
    expectEach(byHeader, ['/v1/ops/health'], false);
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

  it('requires the global prefix unless setGlobalPrefix excludes routes (outside review, 4 December)', () => {
    const pattern = skippedPathPattern(routes('/ops/health'), { globalPrefix: 'api' })!;
    expectEach(pattern, ['/api/ops/health', '/API/ops/health/'], true);
    expectEach(pattern, ['/ops/health', '/ops/health/'], false);
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

  it('matches a skipped root route only at the root (under the prefix and its version)', () => {
    const pattern = skippedPathPattern(routes('/'), PREFIXED)!;
    expectEach(pattern, ['/', '/api', '/api/'], true);
    expectEach(
      pattern,
      ['/x', '/api/x', '/internal-report.txt', '/api/v1/x', '/v1/', '/vault-export.json'],
      false,
    );
    const versionedRoot = skippedPathPattern([versioned('/', '1')], PREFIXED)!;
    expectEach(versionedRoot, ['/api/v1', '/v1/'], true);
    expectEach(versionedRoot, ['/', '/api', '/vault-export.json', '/api/v1/x'], false);
  });

  it('gives no pattern when a skipped route could be on any path (its first segment may span several)', () => {
    expect(skippedPathPattern(routes('/ok', '*'))).toBeUndefined();
    expect(skippedPathPattern(routes('/*path'))).toBeUndefined();
    expect(skippedPathPattern(routes('/:tenant?/health'))).toBeUndefined();
  });

  it('takes a plain parameter as exactly one segment, also first, and goes on only after a wildcard', () => {
    const pattern = skippedPathPattern(
      routes('/:tenant/health', '/ops/:id/status', '/files/:name/*rest'),
    )!;
    expectEach(
      pattern,
      ['/acme/health', '/ACME/Health/', '/ops/1/status', '/files/a/b/c', '/files/a/'],
      true,
    );
    expectEach(
      pattern,
      [
        '/health',
        '/a/b/health',
        '/acme/health/x',
        '/vault-export.json',
        '/ops/1/status/x',
        '/ops/1/2/status',
        '/files',
      ],
      false,
    );
  });

  it('as the front check matcher, reads the prefixes at its first test, not when built', () => {
    let prefixes = { globalPrefix: '' };
    const matcher = skippedPathMatcher(routes('/ops/health'), () => prefixes)!;
    prefixes = { globalPrefix: 'api' }; // main.ts's setGlobalPrefix(), after the module was created
    const get = { test: (path: string) => matcher.test(path, 'GET') };
    expectEach(get, ['/api/ops/health'], true);
    expectEach(get, ['/ops/health'], false);
    expect(skippedPathMatcher(routes('/*path'), () => prefixes)).toBeUndefined();
  });

  // Outside review, 4 December (sixth session): the matcher was path-only, so a skipped `@Get()`
  // route left a bot's POST, DELETE and OPTIONS on its path to main.ts's registrations unchecked.
  it('as the front check matcher, leaves a path to the Nest middleware only for the methods routed there', () => {
    const matcher = skippedPathMatcher(
      [
        { path: '/ops/health', method: RequestMethod.GET },
        { path: '/hooks/stripe', method: RequestMethod.POST },
        { path: '/any', method: RequestMethod.ALL },
      ],
      () => ({ globalPrefix: '' }),
    )!;
    const cases: [string, string | undefined, boolean][] = [
      ['/ops/health', 'GET', true],
      ['/ops/health', 'HEAD', true],
      ['/ops/health', 'POST', false],
      ['/ops/health', 'DELETE', false],
      ['/ops/health', 'OPTIONS', false],
      ['/ops/health', 'PROPFIND', false],
      ['/ops/health', undefined, false],
      ['/hooks/stripe', 'POST', true],
      ['/hooks/stripe', 'GET', false],
      ['/hooks/stripe', 'HEAD', false],
      ['/any', 'DELETE', true],
      ['/any', 'PROPFIND', true],
      ['/any', 'get', true],
      ['/ops/health', 'get', false],
    ];
    for (const [path, method, left] of cases)
      expect(matcher.test(path, method), `${method} ${path}`).toBe(left);
  });
});
