import IPCIDR from 'ip-cidr';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { parseIp } from '../src/net/address.js';
import { parseCidr, RangeMatcher, TRUSTED_PROXY_NAMES } from '../src/net/matcher.js';

function compileError(cidrs: readonly string[], optionName?: string): InvalidOptionError {
  try {
    RangeMatcher.compile(cidrs, optionName);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected RangeMatcher.compile to throw');
}

describe('RangeMatcher: regression against ip-cidr cross-family matches', () => {
  // ip-cidr 4.0.2 (with ip-address 9.0.5) compares the leading prefix bits of the binary
  // strings without checking the family, so an IPv6 address whose first 24 bits are
  // 0x010203 is "in" 1.2.3.0/24, and 38.0.0.1 (0x26...) is "in" 2600::/8. (`2600::1`
  // itself does not trigger it: its first 24 bits are 0x260000.) If ip-cidr fixes this,
  // the first expectation of each test flips; ours must not.
  it('does not match IPv6 102:300::1 against 1.2.3.0/24, which ip-cidr 4.0.2 does', () => {
    const ipCidr = new IPCIDR('1.2.3.0/24');
    const matcher = RangeMatcher.compile(['1.2.3.0/24']);

    expect(ipCidr.contains('102:300::1')).toBe(true);
    expect(matcher.containsText('102:300::1')).toBe(false);
    expect(matcher.containsText('2600::1')).toBe(false);
  });

  it('does not match IPv4 38.0.0.1 against 2600::/8, which ip-cidr 4.0.2 does', () => {
    const ipCidr = new IPCIDR('2600::/8');
    const matcher = RangeMatcher.compile(['2600::/8']);

    expect(ipCidr.contains('38.0.0.1')).toBe(true);
    expect(matcher.containsText('38.0.0.1')).toBe(false);
  });
});

describe('RangeMatcher: families are kept apart', () => {
  it('never matches an IPv6 address against IPv4 ranges, even 0.0.0.0/0', () => {
    const matcher = RangeMatcher.compile(['0.0.0.0/0']);

    expect(matcher.containsText('255.255.255.255')).toBe(true);
    expect(matcher.containsText('::')).toBe(false);
    expect(matcher.containsText('::1.2.3.4')).toBe(false);
    expect(matcher.containsText('2001:db8::1')).toBe(false);
  });

  it('never matches an IPv4 address against IPv6 ranges, even ::/0', () => {
    const matcher = RangeMatcher.compile(['::/0']);

    expect(matcher.containsText('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(matcher.containsText('0.0.0.0')).toBe(false);
    expect(matcher.containsText('1.2.3.4')).toBe(false);
    expect(matcher.containsText('::ffff:1.2.3.4')).toBe(false);
  });

  it('matches an IPv4-mapped IPv6 address against the IPv4 ranges', () => {
    const matcher = RangeMatcher.compile(['1.2.3.0/24']);

    expect(matcher.containsText('::ffff:1.2.3.4')).toBe(true);
    expect(matcher.containsText('::FFFF:102:3ff')).toBe(true);
    expect(matcher.containsText('::ffff:1.2.4.0')).toBe(false);
  });

  it('treats hand-built IPv4-mapped words passed as family 6 as IPv4', () => {
    const matcher = RangeMatcher.compile(['1.2.3.0/24', '::/0']);
    const mapped = new Uint32Array([0, 0, 0xffff, 0x01020304]);
    const mappedOutside = new Uint32Array([0, 0, 0xffff, 0x01020404]);

    expect(matcher.contains(6, mapped)).toBe(true);
    expect(matcher.contains(6, mappedOutside)).toBe(false);
  });

  it('answers false for family 0 whatever the words hold', () => {
    const matcher = RangeMatcher.compile(['0.0.0.0/0', '::/0']);

    expect(matcher.contains(0, new Uint32Array(4))).toBe(false);
    expect(matcher.containsText('not an ip')).toBe(false);
    expect(matcher.containsText('')).toBe(false);
  });
});

describe('RangeMatcher: lookups', () => {
  it('matches the first and last address of a range and not their neighbours', () => {
    const matcher = RangeMatcher.compile(['10.0.0.0/24', '2600:9000::/28']);

    expect(matcher.containsText('9.255.255.255')).toBe(false);
    expect(matcher.containsText('10.0.0.0')).toBe(true);
    expect(matcher.containsText('10.0.0.255')).toBe(true);
    expect(matcher.containsText('10.0.1.0')).toBe(false);
    expect(matcher.containsText('25ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(false);
    expect(matcher.containsText('2600:9000::')).toBe(true);
    expect(matcher.containsText('2600:900f:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(matcher.containsText('2600:9010::')).toBe(false);
  });

  it('matches everything of its family with a /0 range', () => {
    const v4 = RangeMatcher.compile(['0.0.0.0/0']);
    const v6 = RangeMatcher.compile(['::/0']);

    expect(v4.containsText('0.0.0.0')).toBe(true);
    expect(v4.containsText('255.255.255.255')).toBe(true);
    expect(v6.containsText('::')).toBe(true);
    expect(v6.containsText('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(v4.size).toBe(1);
    expect(v6.size).toBe(1);
  });

  it('treats a bare address as a /32 or /128 range', () => {
    const matcher = RangeMatcher.compile(['192.0.2.1', '2001:db8::1']);

    expect(matcher.containsText('192.0.2.1')).toBe(true);
    expect(matcher.containsText('192.0.2.2')).toBe(false);
    expect(matcher.containsText('2001:db8::1')).toBe(true);
    expect(matcher.containsText('2001:db8::2')).toBe(false);
  });

  it('matches addresses parsed from X-Forwarded-For entries through contains()', () => {
    const matcher = RangeMatcher.compile(['130.176.0.0/17']);
    const words = new Uint32Array(4);

    const family = parseIp('130.176.127.255', words);

    expect(matcher.contains(family, words)).toBe(true);
  });

  it('compiles an empty list to a matcher that contains nothing', () => {
    const matcher = RangeMatcher.compile([]);

    expect(matcher.size).toBe(0);
    expect(matcher.sizeV4).toBe(0);
    expect(matcher.sizeV6).toBe(0);
    expect(matcher.containsText('1.2.3.4')).toBe(false);
    expect(matcher.containsText('::1')).toBe(false);
  });

  it('keeps a frozen copy of the source list', () => {
    const list = ['10.0.0.0/8'];
    const matcher = RangeMatcher.compile(list);
    list.push('11.0.0.0/8');

    expect(matcher.source).toEqual(['10.0.0.0/8']);
    expect(Object.isFrozen(matcher.source)).toBe(true);
  });
});

describe('RangeMatcher: merging', () => {
  it('merges adjacent IPv4 ranges into one', () => {
    const matcher = RangeMatcher.compile(['10.0.1.0/24', '10.0.0.0/24', '10.0.2.0/23']);

    expect(matcher.sizeV4).toBe(1);
    expect(matcher.containsText('10.0.3.255')).toBe(true);
    expect(matcher.containsText('10.0.4.0')).toBe(false);
  });

  it('merges overlapping and nested IPv4 ranges, keeping gaps apart', () => {
    const matcher = RangeMatcher.compile(['10.0.0.0/8', '10.1.0.0/16', '10.0.0.0/8', '12.0.0.0/8']);

    expect(matcher.sizeV4).toBe(2);
    expect(matcher.containsText('11.0.0.0')).toBe(false);
    expect(matcher.containsText('12.255.255.255')).toBe(true);
  });

  it('merges adjacent and overlapping IPv6 ranges across a word boundary', () => {
    const matcher = RangeMatcher.compile([
      '2001:db8:0:1::/64',
      '2001:db8::/64',
      '2001:db8::/33',
      '2001:db8:8000::/33',
      '2001:db9::/32',
      '2001:dbb::/32',
    ]);

    expect(matcher.sizeV6).toBe(2);
    expect(matcher.containsText('2001:db9:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(matcher.containsText('2001:dba::')).toBe(false);
    expect(matcher.containsText('2001:dbb::1')).toBe(true);
  });

  it('merges ranges ending at the last address of each family', () => {
    const matcher = RangeMatcher.compile([
      '255.255.255.255',
      '255.255.255.0/24',
      '128.0.0.0/1',
      'ffff::/16',
      'ffff:ffff::/32',
      '8000::/1',
    ]);

    expect(matcher.sizeV4).toBe(1);
    expect(matcher.sizeV6).toBe(1);
    expect(matcher.size).toBe(2);
    expect(matcher.containsText('127.255.255.255')).toBe(false);
    expect(matcher.containsText('255.255.255.255')).toBe(true);
    expect(matcher.containsText('7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(false);
  });
});

describe('RangeMatcher: trusted proxy names', () => {
  it.each([
    ['loopback', ['127.0.0.1', '127.255.255.255', '::1'], ['128.0.0.1', '::2']],
    ['linklocal', ['169.254.0.1', 'fe80::1', 'febf::1'], ['169.255.0.1', 'fec0::1']],
    [
      'uniquelocal',
      ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fc00::1', 'fdff::1'],
      ['172.32.0.1', '192.169.0.1', 'fe00::1', '11.0.0.1'],
    ],
  ])('expands %s to the proxy-addr ranges', (name, inside, outside) => {
    const matcher = RangeMatcher.compile([name], 'trustedProxies');

    for (const address of inside) expect(matcher.containsText(address), address).toBe(true);
    for (const address of outside) expect(matcher.containsText(address), address).toBe(false);
    expect(matcher.size).toBe(TRUSTED_PROXY_NAMES[name as keyof typeof TRUSTED_PROXY_NAMES].length);
  });

  it('mixes names and CIDRs in one list', () => {
    const matcher = RangeMatcher.compile(['loopback', '203.0.113.0/24', 'uniquelocal']);

    expect(matcher.containsText('127.0.0.1')).toBe(true);
    expect(matcher.containsText('203.0.113.9')).toBe(true);
    expect(matcher.containsText('10.0.0.1')).toBe(true);
    expect(matcher.containsText('169.254.0.1')).toBe(false);
  });

  it('exposes frozen name tables', () => {
    expect(Object.isFrozen(TRUSTED_PROXY_NAMES)).toBe(true);
    expect(Object.isFrozen(TRUSTED_PROXY_NAMES.loopback)).toBe(true);
  });
});

describe('RangeMatcher.compile: strict errors', () => {
  it.each([
    ['10.0.0.1/8', 'host bits are set; did you mean 10.0.0.0/8?'],
    ['2001:db8::1/32', 'host bits are set; did you mean 2001:db8::/32?'],
    ['1.2.3.0/33', '/33 is too long for IPv4 (0-32)'],
    ['::/129', '/129 is too long for IPv6 (0-128)'],
    ['1.2.3.0/08', 'leading zero'],
    ['1.2.3.0/+8', 'must be a decimal number'],
    ['1.2.3.0/', 'must be a decimal number'],
    ['1.2.3.0/24/8', 'must be a decimal number'],
    ['/24', 'address before `/` is missing'],
    ['garbage', 'not a valid IPv4 or IPv6 address'],
    ['1.2.3/24', 'not a valid IPv4 or IPv6 address'],
    ['', 'empty'],
    [' 10.0.0.0/8', 'whitespace'],
    ['fe80::1%eth0', 'zone ids'],
    ['[2001:db8::]/32', 'brackets'],
    ['::ffff:1.2.3.4/120', 'host bits are set; did you mean ::ffff:1.2.3.0/120?'],
    ['::ffff:1.2.3.0/64', 'host bits are set; did you mean ::/64?'],
  ])('rejects %j with a message saying %j', (entry, problem) => {
    const error = compileError(['192.0.2.0/24', entry], 'trustedProxies');

    expect(error.code).toBe('ERR_CDN_ORIGIN_GUARD_OPTION');
    expect(error.option).toBe('trustedProxies');
    expect(error.message).toContain('option `trustedProxies`');
    expect(error.message).toContain('index 1');
    expect(error.message).toContain(JSON.stringify(entry));
    expect(error.message).toContain(problem);
  });

  it('names the default option `ranges` when none is given', () => {
    const error = compileError(['10.0.0.1/8']);

    expect(error.option).toBe('ranges');
    expect(error.message).toBe(
      '@cdn-origin-guard: option `ranges` has an invalid entry at index 0 ("10.0.0.1/8"): host bits are set; did you mean 10.0.0.0/8?',
    );
  });

  it('suggests the proxy name a misspelt entry was probably meant to be', () => {
    const error = compileError(['Link-Local'], 'trustedProxies');

    expect(error.message).toContain('did you mean `linklocal`?');
  });

  it('lists the proxy names when an entry is an unknown word', () => {
    const error = compileError(['private'], 'trustedProxies');

    expect(error.message).toContain('loopback, linklocal, uniquelocal');
  });

  it('rejects a non-string entry and a non-array list', () => {
    const nonString = compileError([42 as unknown as string]);
    const nonArray = compileError('10.0.0.0/8' as unknown as string[]);

    expect(nonString.message).toContain('index 0: expected a CIDR string, got number');
    expect(nonArray.message).toContain('must be an array of CIDR strings');
  });
});

describe('parseCidr', () => {
  it('parses IPv4 and IPv6 blocks into words and prefix', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({
      family: 4,
      words: new Uint32Array([0x0a000000, 0, 0, 0]),
      prefix: 8,
    });
    expect(parseCidr('2600:9000::/28')).toEqual({
      family: 6,
      words: new Uint32Array([0x26009000, 0, 0, 0]),
      prefix: 28,
    });
  });

  it('reads a bare address as a host block', () => {
    expect(parseCidr('1.2.3.4')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseCidr('::1')).toMatchObject({ family: 6, prefix: 128 });
  });

  it('accepts /0 in both families', () => {
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ family: 4, prefix: 0 });
    expect(parseCidr('::/0')).toMatchObject({ family: 6, prefix: 0 });
  });

  it('turns an IPv4-mapped block of /96 or longer into the IPv4 block', () => {
    expect(parseCidr('::ffff:1.2.3.0/120')).toEqual({
      family: 4,
      words: new Uint32Array([0x01020300, 0, 0, 0]),
      prefix: 24,
    });
    expect(parseCidr('::ffff:0:0/96')).toMatchObject({ family: 4, prefix: 0 });
    expect(parseCidr('::ffff:1.2.3.4')).toMatchObject({ family: 4, prefix: 32 });
  });

  it('returns an error string instead of throwing', () => {
    expect(parseCidr('10.0.0.1/8')).toBe('host bits are set; did you mean 10.0.0.0/8?');
    expect(typeof parseCidr('nope')).toBe('string');
  });
});

describe('RangeMatcher: addressCount', () => {
  it('counts the merged ranges of each family, overlaps and adjacent blocks once', () => {
    const matcher = RangeMatcher.compile([
      '10.0.0.0/8',
      '10.1.0.0/16',
      '11.0.0.0/24',
      '11.0.1.0/24',
      '2600::/16',
      '2600:1::/32',
      '::1',
      'loopback',
    ]);
    expect(matcher.addressCount()).toEqual({
      4: 2n ** 24n + 2n ** 9n + 2n ** 24n,
      6: 2n ** 112n + 1n,
    });
    expect(RangeMatcher.compile(['0.0.0.0/0', '::/0']).addressCount()).toEqual({
      4: 2n ** 32n,
      6: 2n ** 128n,
    });
  });
});
