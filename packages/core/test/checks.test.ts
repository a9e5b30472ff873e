import { describe, expect, it } from 'vitest';
import { type CfIdHit, checkCfId, isWellFormedCfId } from '../src/checks/cf-id.js';
import { type EdgeHit, EdgeWalker, newEdgeHit } from '../src/checks/edge.js';
import type { DenyReason } from '../src/decision.js';
import { RangeMatcher } from '../src/net/matcher.js';

const CLOUDFRONT = RangeMatcher.compile(['130.176.0.0/16', '2600:9000::/28'], 'test');
const TRUSTED = RangeMatcher.compile(['loopback', 'uniquelocal'], 'trustedProxies');

function walker(proxyHops = 1, maxForwardedForLength = 256): EdgeWalker {
  return new EdgeWalker({
    trusted: TRUSTED,
    proxyHops,
    maxForwardedForLength,
    scratch: new Uint32Array(4),
  });
}

describe('EdgeWalker.walk', () => {
  const passes: [name: string, xff: string, hops: number, edge: string, viewer: string][] = [
    ['viewer then edge', '203.0.113.7, 130.176.1.2', 1, '130.176.1.2', '203.0.113.7'],
    ['ports on both entries', '203.0.113.7:5555, 130.176.1.2:443', 1, '130.176.1.2', '203.0.113.7'],
    [
      'IPv6 edge, canonical text',
      '2001:db8::1, [2600:9000:0::0001]:443',
      1,
      '2600:9000::1',
      '2001:db8::1',
    ],
    [
      'IPv6 edge and viewer already canonical (sliced), bracketed with a port and bare',
      ' 2001:db8:0:1::7 ,[2600:9000:2345:6789::a]:443',
      1,
      '2600:9000:2345:6789::a',
      '2001:db8:0:1::7',
    ],
    [
      'IPv6 written in upper case, with leading zeros or an uncompressed run (formatted)',
      '2001:DB8:0:0:1:0:0:1, 2600:9000:0:0:0:0:0:a',
      1,
      '2600:9000::a',
      '2001:db8::1:0:0:1',
    ],
    [
      'a forged prefix is never read',
      'junk, 1.1.1.1, 203.0.113.7, 130.176.1.2',
      1,
      '130.176.1.2',
      '203.0.113.7',
    ],
    ['an inner trusted hop', '203.0.113.7, 130.176.1.2, 10.0.0.9', 2, '130.176.1.2', '203.0.113.7'],
  ];
  it.each(passes)('passes: %s', (_name, xff, hops, edge, viewer) => {
    const out = newEdgeHit();
    expect(walker(hops).walk(true, xff, CLOUDFRONT, out)).toBeUndefined();
    expect(out).toEqual({ edge, viewer, offendingHop: undefined });
  });

  const failures: [
    name: string,
    peerTrusted: boolean,
    xff: string | null,
    hops: number,
    reason: DenyReason,
    offendingHop: string | undefined,
  ][] = [
    ['an untrusted peer', false, '203.0.113.7, 130.176.1.2', 1, 'untrusted-peer', undefined],
    ['several header lines', true, null, 1, 'malformed-forwarded-for', undefined],
    ['no header', true, '', 1, 'missing-forwarded-for', undefined],
    [
      'an edge outside CloudFront',
      true,
      '203.0.113.7, 198.51.100.1',
      1,
      'edge-not-cloudfront',
      '198.51.100.1',
    ],
    ['an unparsable edge entry', true, '203.0.113.7, nope', 1, 'malformed-forwarded-for', 'nope'],
    ['no viewer entry', true, '130.176.1.2', 1, 'malformed-forwarded-for', undefined],
    ['an unparsable viewer entry', true, 'x, 130.176.1.2', 1, 'malformed-forwarded-for', 'x'],
    [
      'an inner hop that is not trusted',
      true,
      '203.0.113.7, 130.176.1.2, 198.51.100.1',
      2,
      'untrusted-peer',
      '198.51.100.1',
    ],
    ['too few entries for the hops', true, '10.0.0.9', 3, 'malformed-forwarded-for', undefined],
    [
      'a header over the length limit',
      true,
      `${'1.2.3.4, '.repeat(40)}130.176.1.2`,
      1,
      'malformed-forwarded-for',
      undefined,
    ],
  ];
  it.each(failures)('fails: %s', (_name, peerTrusted, xff, hops, reason, offendingHop) => {
    const out = newEdgeHit();
    out.offendingHop = 'left over from an earlier request';
    expect(walker(hops).walk(peerTrusted, xff, CLOUDFRONT, out)).toBe(reason);
    expect(out.offendingHop).toBe(offendingHop);
  });

  it('says ranges-unavailable when the ranges are not loaded, only once it reaches the edge entry', () => {
    const out = newEdgeHit();
    expect(walker().walk(true, '203.0.113.7, 130.176.1.2', undefined, out)).toBe(
      'ranges-unavailable',
    );
    expect(walker(2).walk(true, '203.0.113.7, 130.176.1.2, 8.8.8.8', undefined, out)).toBe(
      'untrusted-peer',
    );
  });

  it('reuses the output object: a second request overwrites the first one’s addresses', () => {
    const out: EdgeHit = newEdgeHit();
    const edgeWalker = walker();
    edgeWalker.walk(true, '203.0.113.7, 130.176.1.2', CLOUDFRONT, out);
    edgeWalker.walk(true, '198.51.100.9, [2600:9000::5]', CLOUDFRONT, out);
    expect(out).toEqual({ edge: '2600:9000::5', viewer: '198.51.100.9', offendingHop: undefined });
  });
});

describe('checkCfId', () => {
  const id = 'Q2xvdWRGcm9udElkMDEyMzQ1Njc4OWFiY2RlZg==';
  const cases: [
    name: string,
    header: string | string[] | undefined,
    result: string | undefined,
    cfId: string | undefined,
  ][] = [
    ['a base64 id', id, undefined, id],
    ['a base64url id', 'abc-_DEF123456789xyz', undefined, 'abc-_DEF123456789xyz'],
    ['one header line as an array', [id], undefined, id],
    ['no header', undefined, 'missing-cf-id', undefined],
    ['an empty header', '', 'missing-cf-id', undefined],
    ['several header lines', [id, id], 'invalid-cf-id', undefined],
    ['too short', 'abc', 'invalid-cf-id', undefined],
    ['too long', 'a'.repeat(129), 'invalid-cf-id', undefined],
    ['a character outside base64', `${id.slice(0, 20)}!`, 'invalid-cf-id', undefined],
    ['padding in the middle', 'abcdefgh=ijklmnopqrs', 'invalid-cf-id', undefined],
    ['three padding characters', 'abcdefghijklmnopq===', 'invalid-cf-id', undefined],
  ];
  it.each(cases)('%s', (_name, header, result, cfId) => {
    const out: CfIdHit = { cfId: 'left over' };
    expect(checkCfId(header, out)).toBe(result);
    expect(out.cfId).toBe(cfId);
    expect(isWellFormedCfId(typeof header === 'string' ? header : '')).toBe(
      typeof header === 'string' && result === undefined,
    );
  });
});
