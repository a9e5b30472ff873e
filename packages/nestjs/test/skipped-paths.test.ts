/**
 * `skippedPathPattern`: the paths a `@SkipOriginGuard()` route might be routed on, for the front
 * check on Express. It may match more than the skipped routes (those requests go on to the Nest
 * middleware, as before), never less.
 */
import { RequestMethod } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { type RouteInfo, skippedPathPattern } from '../src/routes.js';

const routes = (...paths: string[]): RouteInfo[] =>
  paths.map((path) => ({ path, method: RequestMethod.GET }));

describe('skippedPathPattern', () => {
  it('matches wherever Nest may put the route: prefix, version, module path, any case, a trailing slash, an escaped parameter', () => {
    const pattern = skippedPathPattern(routes('/ops/health/:id', '/status'))!;
    for (const path of [
      '/ops/health/1',
      '/api/v2/ops/health/1',
      '/OPS/Health/x/',
      '/tenant-module/ops/health',
      '/status',
      '/api/status/',
      '/ops/health/a%20b',
      '/v%31/ops/health/1',
    ])
      expect(pattern.test(path), path).toBe(true);
  });

  it('leaves out paths that cannot be a skipped route', () => {
    const pattern = skippedPathPattern(routes('/ops/health/:id', '/v1.2/ping'))!;
    // An escape in a literal segment: Express does not decode it before matching the route.
    for (const path of [
      '/',
      '/items',
      '/ops',
      '/health',
      '/ops/status',
      '/v1x2/ping',
      '/ops/heal%74h/1',
      '/%6Fps/health/1',
      '/ops%2Fhealth/1',
      '/internal%2Dreport.txt',
    ])
      expect(pattern.test(path), path).toBe(false);
  });

  it('keeps only the literal segments before the first parameter or wildcard', () => {
    const pattern = skippedPathPattern(routes('/files/:name.json', '/assets/*path', '/a/b{/:c}'))!;
    for (const path of ['/files', '/files/x.json', '/assets', '/a/b'])
      expect(pattern.test(path), path).toBe(true);
    expect(pattern.test('/file')).toBe(false);
  });

  it('gives no pattern when a skipped route could be on any path', () => {
    expect(skippedPathPattern(routes('/ok', '/'))).toBeUndefined();
    expect(skippedPathPattern(routes('/:tenant/health'))).toBeUndefined();
    expect(skippedPathPattern(routes('*'))).toBeUndefined();
  });
});
