import { describe, expect, it } from 'vitest';
import {
  createOriginVerifier,
  type Decision,
  type OriginGuardOptions,
  pathUnderMount,
} from '../src/index.js';
import { matchablePath } from '../src/request/path.js';
import { ALB, CF_RANGES, EDGE, SECRET, throughCloudFront, VIEWER } from './fixtures.js';

const make = (extra: Partial<OriginGuardOptions> = {}) =>
  createOriginVerifier({ secret: [SECRET], ranges: CF_RANGES, ...extra } as OriginGuardOptions);

function denied(d: Decision) {
  if (d.allowed) throw new Error(`expected a deny, got allowed (${d.reason})`);
  return d;
}

/** Node's rawHeaders for a request through CloudFront, with `extra` lines appended. */
function rawHeadersOf(extra: string[] = []): string[] {
  return [
    'Host',
    'origin.example.com',
    'X-Forwarded-For',
    `${VIEWER}, ${EDGE}`,
    'X-Amz-Cf-Id',
    'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
    'X-Origin-Verify',
    SECRET,
    ...extra,
  ];
}

describe('repeated X-Forwarded-For lines (rawHeaders)', () => {
  const verifier = make();
  it('verifies a request with one X-Forwarded-For line', () => {
    const d = verifier.verify(throughCloudFront({ rawHeaders: rawHeadersOf() }));
    expect(d.reason).toBe('verified');
  });
  it.each([['X-Forwarded-For'], ['x-forwarded-for'], ['X-FORWARDED-FOR'], ['x-Forwarded-for']])(
    'denies a second line named %s as malformed-forwarded-for',
    (name) => {
      // Node joins both lines into headers['x-forwarded-for']; the right-most entry is a real edge.
      const d = verifier.verify(
        throughCloudFront({
          headers: { 'x-forwarded-for': `${VIEWER}, ${EDGE}, ${VIEWER}, ${EDGE}` },
          rawHeaders: rawHeadersOf([name, `${VIEWER}, ${EDGE}`]),
        }),
      );
      expect(denied(d)).toMatchObject({ reason: 'malformed-forwarded-for', check: 'edge' });
    },
  );
  it('does not mistake other 15-character header names for X-Forwarded-For', () => {
    const d = verifier.verify(
      throughCloudFront({
        rawHeaders: rawHeadersOf([
          'Accept-Language',
          'en',
          'X-Forwarded_For',
          'x',
          'X-Forwarded-Fox',
          'y',
        ]),
      }),
    );
    expect(d.reason).toBe('verified');
  });
  it('reports the repeated lines in report mode and never uses them as a health check', () => {
    const v = make({ mode: 'report', healthCheckPaths: ['/healthz'] });
    const d = v.verify({
      remoteAddress: ALB,
      path: '/healthz',
      headers: { 'x-forwarded-for': ', ' },
      rawHeaders: ['X-Forwarded-For', '', 'x-forwarded-for', ''],
    });
    expect(d.reason).toBe('reported');
    if (d.reason === 'reported') expect(d.failures[0]).toBe('malformed-forwarded-for');
  });
});

describe('an X-Forwarded-For value Node never makes (a caller outside the adapters)', () => {
  const verifier = make();
  it.each([
    ['a number', 42],
    ['an object', { toString: () => `${VIEWER}, ${EDGE}` }],
    ['an array holding undefined', [undefined]],
    ['an array holding a number', [7]],
  ])('denies %s as malformed-forwarded-for instead of throwing', (_, value) => {
    const input = throughCloudFront({});
    const d = verifier.verify({
      ...input,
      headers: { ...input.headers, 'x-forwarded-for': value as unknown as string },
    });
    expect(denied(d)).toMatchObject({ reason: 'malformed-forwarded-for', check: 'edge' });
  });
  it('still reads a one-line array as Node would give it', () => {
    const input = throughCloudFront({});
    const d = verifier.verify({
      ...input,
      headers: { ...input.headers, 'x-forwarded-for': [`${VIEWER}, ${EDGE}`] },
    });
    expect(d.reason).toBe('verified');
  });
});

describe('path normalisation before health-check and exclusion matching', () => {
  const verifier = make({
    healthCheckPaths: ['/healthz'],
    excludePaths: ['/public', /\.(css|js|png)$/, /^\/assets\//],
  });
  const bot = (path: string) =>
    verifier.verify({ remoteAddress: '203.0.113.9', path, headers: {} });
  const albHealth = (path: string) =>
    verifier.verify({ remoteAddress: '10.0.3.4', path, headers: {} });

  it.each([
    ['/public', 'excluded'],
    ['/public?x=1', 'excluded'],
    ['/public#frag', 'excluded'],
    ['/app.css', 'excluded'],
    ['/app.css?v=2', 'excluded'],
    ['/assets/a.png', 'excluded'],
    ['http://h/public', 'excluded'],
    ['https://h:8443/app.css?x', 'excluded'],
    ['HTTP://h/assets/x', 'excluded'],
    // The router sees /admin: never excluded.
    ['/admin#.css', 'untrusted-peer'],
    ['/admin?.css', 'untrusted-peer'],
    ['/admin?x=/public', 'untrusted-peer'],
    ['http://h/admin#.css', 'untrusted-peer'],
    ['http://h/admin?x.css', 'untrusted-peer'],
    ['https://h#/public', 'untrusted-peer'],
    ['http://h', 'untrusted-peer'],
    // Not a path: never excluded.
    ['admin.css', 'untrusted-peer'],
    ['*', 'untrusted-peer'],
    ['', 'untrusted-peer'],
    ['ftp://h/app.css', 'untrusted-peer'],
    ['//h/admin#.css', 'untrusted-peer'],
    // Paths a router may normalise differently than an exact match: never excluded.
    ['/assets/../admin', 'untrusted-peer'],
    ['/assets/./x.js', 'untrusted-peer'],
    ['/assets/x/..', 'untrusted-peer'],
    ['/admin/%2e%2e/app.css', 'untrusted-peer'],
    ['/admin%2Fx.css', 'untrusted-peer'],
    ['/admin%5cx.css', 'untrusted-peer'],
    ['/admin\\x.css', 'untrusted-peer'],
    ['/admin;.css', 'untrusted-peer'],
    // Double encoding: a router decodes a parameter, a static-file server decodes it again.
    ['/admin/%252e%252e/app.css', 'untrusted-peer'],
    ['/admin%252fx.css', 'untrusted-peer'],
    // Case variants match only what the exclusion says.
    ['/PUBLIC', 'untrusted-peer'],
    ['/Public#x', 'untrusted-peer'],
  ])('%j from an untrusted peer is %s', (path, reason) => {
    expect(bot(path).reason).toBe(reason);
  });

  it.each([
    ['/healthz', 'health-check'],
    ['/healthz?probe=1', 'health-check'],
    ['/healthz#x', 'health-check'],
    ['http://10.0.3.9/healthz', 'health-check'],
    ['/healthz/', 'missing-forwarded-for'],
    ['/HEALTHZ', 'missing-forwarded-for'],
    ['/./healthz', 'missing-forwarded-for'],
    ['/%2e/healthz', 'missing-forwarded-for'],
    ['/%252e/healthz', 'missing-forwarded-for'],
    ['//healthz', 'missing-forwarded-for'],
    ['healthz', 'missing-forwarded-for'],
  ])('%j from the ALB without X-Forwarded-For is %s', (path, reason) => {
    expect(albHealth(path).reason).toBe(reason);
  });

  it.each([
    ['/a/b', '/a/b'],
    ['/a?b#c', '/a'],
    ['/a#b?c', '/a'],
    ['http://h/a/b?c', '/a/b'],
    ['https://h:1/', '/'],
    ['https://h?x', undefined],
    // Old find-my-way (Fastify 5 before 9.9) routed these as `/admin`: no path to match.
    ['http://h?/admin', undefined],
    ['http://h#/admin', undefined],
    ['http://h', undefined],
    ['HTTP://h/admin?x', '/admin'],
    ['/a.b/c..d/.e', '/a.b/c..d/.e'],
    ['/a/%2E', undefined],
    ['mailto:x', undefined],
  ])('matchablePath(%j) is %j', (target, path) => {
    expect(matchablePath(target)).toBe(path);
  });
});

describe('pathUnderMount: the path rules see the path Express routes on', () => {
  it.each([
    // [original, routed, mount, expected]
    ['/health', '/health', '', '/health'],
    ['/health', '/health', undefined, '/health'],
    ['/api/health', '/health', '/api', '/api/health'],
    ['/api', '/', '/api', '/api'],
    ['/api/', '/', '/api', '/api/'],
    ['/API/health', '/health', '/API', '/API/health'],
    ['/a/b/c', '/c', '/a/b', '/a/b/c'],
  ] as const)('%s routed as %s under %s: %s', (original, routed, mount, expected) => {
    expect(pathUnderMount(original, routed, mount)).toBe(expected);
  });

  it.each([
    // A rewrite before the adapter: the router routes on a path the request did not name.
    ['/public', '/admin', ''],
    ['/public', '/admin', undefined],
    ['/api/public', '/admin', '/api'],
    ['/api/public', '/public', '/other'],
    ['/apix/public', '/public', '/api'],
    ['/api', '/x', '/api'],
    ['/public', '/public/', ''],
    ['/public', undefined, ''],
    [undefined, '/public', ''],
  ] as const)('%s routed as %s under %s: no path rule applies', (original, routed, mount) => {
    expect(pathUnderMount(original, routed, mount)).toBeUndefined();
  });
});

describe('offendingHop and proxyHops on denied and reported decisions', () => {
  it('names the edge entry that is not CloudFront, and the hop count', () => {
    const d = make().verify(
      throughCloudFront({ headers: { 'x-forwarded-for': `${VIEWER}, 203.0.113.9` } }),
    );
    expect(denied(d)).toMatchObject({
      reason: 'edge-not-cloudfront',
      offendingHop: '203.0.113.9',
      proxyHops: 1,
    });
  });
  it('names the untrusted socket peer', () => {
    const d = make().verify(throughCloudFront({ remoteAddress: '203.0.113.50' }));
    expect(denied(d)).toMatchObject({ reason: 'untrusted-peer', offendingHop: '203.0.113.50' });
  });
  it('names the untrusted inner hop with proxyHops 2 (the common rollout mistake)', () => {
    const d = make({ proxyHops: 2 }).verify(throughCloudFront());
    // With one real proxy, the hop walked as "inner proxy" is the CloudFront edge itself.
    expect(denied(d)).toMatchObject({ reason: 'untrusted-peer', offendingHop: EDGE, proxyHops: 2 });
  });
  it('names a malformed entry, with control characters escaped and cut to 64 characters', () => {
    const v = make({ mode: { edge: 'report' } });
    const bad = `${'x'.repeat(70)}\u0001`;
    const d = make().verify(
      throughCloudFront({ headers: { 'x-forwarded-for': `${VIEWER}, ev\til\u0000` } }),
    );
    expect(denied(d)).toMatchObject({
      reason: 'malformed-forwarded-for',
      offendingHop: 'ev\\x09il\\x00',
    });
    const long = denied(
      make().verify(throughCloudFront({ headers: { 'x-forwarded-for': `${VIEWER}, ${bad}` } })),
    );
    expect(long.offendingHop).toBe('x'.repeat(64));
    const reported = v.verify(throughCloudFront({ headers: { 'x-forwarded-for': 'nope' } }));
    expect(reported).toMatchObject({ reason: 'reported', offendingHop: 'nope', proxyHops: 1 });
  });
  it('names a malformed viewer entry', () => {
    const d = make().verify(throughCloudFront({ headers: { 'x-forwarded-for': `junk, ${EDGE}` } }));
    expect(denied(d)).toMatchObject({ reason: 'malformed-forwarded-for', offendingHop: 'junk' });
  });
  it('leaves offendingHop undefined for other reasons, and when no single entry failed', () => {
    const v = make();
    const secret = denied(
      v.verify(throughCloudFront({ headers: { 'x-origin-verify': undefined } })),
    );
    expect(secret).toMatchObject({
      reason: 'missing-secret',
      offendingHop: undefined,
      proxyHops: 1,
    });
    const lines = denied(
      v.verify(throughCloudFront({ headers: { 'x-forwarded-for': ['a', 'b'] } })),
    );
    expect(lines).toMatchObject({ reason: 'malformed-forwarded-for', offendingHop: undefined });
    const missing = denied(
      v.verify(throughCloudFront({ headers: { 'x-forwarded-for': undefined } })),
    );
    expect(missing.offendingHop).toBeUndefined();
  });
  it('keeps an edge failure offendingHop on a later deny in mixed mode', () => {
    const d = make({ mode: { edge: 'report' } }).verify(
      throughCloudFront({
        headers: { 'x-forwarded-for': `${VIEWER}, 203.0.113.9`, 'x-origin-verify': undefined },
      }),
    );
    expect(denied(d)).toMatchObject({
      reason: 'missing-secret',
      failures: ['edge-not-cloudfront', 'missing-secret'],
      offendingHop: '203.0.113.9',
    });
  });
});
