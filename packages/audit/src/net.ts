/**
 * Just enough CIDR arithmetic to tell a public source from a private one.
 * @module
 */

const PRIVATE_V4: readonly (readonly [string, number])[] = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
];

function v4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const octet = Number(p);
    if (!/^\d{1,3}$/.test(p) || octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

function v4Range(cidr: string): [number, number] | undefined {
  const [ip, bitsText] = cidr.split('/');
  const base = v4ToInt(ip ?? '');
  const bits = Number(bitsText ?? '32');
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  const start = Math.floor(base / size) * size;
  return [start, start + size - 1];
}

/** Whether a CIDR is the whole address space (`0.0.0.0/0` or `::/0`). */
export function isAnywhere(cidr: string): boolean {
  return /^0\.0\.0\.0\/0$/.test(cidr) || /^(::|0:0:0:0:0:0:0:0)\/0$/.test(cidr);
}

/**
 * Whether any address of the CIDR is public: not inside RFC 1918, CGNAT, loopback, link-local
 * (IPv4), unique-local or link-local (IPv6). Unparsable CIDRs count as public.
 */
export function isPublicCidr(cidr: string): boolean {
  if (cidr.includes(':')) {
    const [ip, bitsText] = cidr.split('/');
    const bits = Number(bitsText ?? '128');
    const first = Number.parseInt((ip ?? '').split(':')[0] || '0', 16);
    if (Number.isNaN(first)) return true;
    if (bits >= 7 && (first & 0xfe00) === 0xfc00) return false;
    if (bits >= 10 && (first & 0xffc0) === 0xfe80) return false;
    if (cidr === '::1/128') return false;
    return true;
  }
  const range = v4Range(cidr);
  if (range === undefined) return true;
  return !PRIVATE_V4.some(([net, bits]) => {
    const priv = v4Range(`${net}/${bits}`);
    return priv !== undefined && range[0] >= priv[0] && range[1] <= priv[1];
  });
}

/**
 * A domain name as CloudFront may name the ALB: lower case, without a trailing dot and without
 * the `dualstack.` prefix (`dualstack.<ALB DNS name>` is the same ALB over IPv4 and IPv6), so
 * `bareDomain(origin) === bareDomain(alb)` tells whether an origin is the ALB.
 */
export function bareDomain(domain: string): string {
  return domain
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^dualstack\./, '');
}

/** The IPv6 address `ip` as a 128-bit number (`::` and a trailing dotted quad allowed). */
function v6ToBigInt(ip: string): bigint | undefined {
  let text = ip;
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad !== null) {
    const v4 = v4ToInt(quad[2] ?? '');
    if (v4 === undefined) return undefined;
    text = `${quad[1]}${Math.floor(v4 / 65_536).toString(16)}:${(v4 % 65_536).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [
    ...head,
    ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'),
    ...tail,
  ];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return n;
}

/** A parsed CIDR: its family and first and last address. */
interface CidrRange {
  readonly family: 'IPv4' | 'IPv6';
  readonly start: bigint;
  readonly end: bigint;
}

function cidrRange(cidr: string): CidrRange | undefined {
  const [ip = '', bitsText] = cidr.split('/');
  const v6 = ip.includes(':');
  const width = v6 ? 128 : 32;
  const bits = bitsText === undefined ? width : Number(bitsText);
  if (!/^\d{1,3}$/.test(bitsText ?? String(width)) || bits > width) return undefined;
  const base = v6
    ? v6ToBigInt(ip)
    : (() => {
        const n = v4ToInt(ip);
        return n === undefined ? undefined : BigInt(n);
      })();
  if (base === undefined) return undefined;
  const size = 1n << BigInt(width - bits);
  const start = (base / size) * size;
  return { family: v6 ? 'IPv6' : 'IPv4', start, end: start + size - 1n };
}

/**
 * Whether the address lies inside the CIDR (`10.0.5.20` in `10.0.5.16/28`; any spelling of an
 * IPv6 address). `false` across families or when either cannot be parsed.
 */
export function cidrHolds(cidr: string, address: string): boolean {
  const range = cidrRange(cidr);
  const at = cidrRange(address);
  return (
    range !== undefined &&
    at !== undefined &&
    range.family === at.family &&
    at.start >= range.start &&
    at.end <= range.end
  );
}

/** The prefix length of a CIDR (`32`/`128` for a bare address); `undefined` when unparsable. */
export function prefixLength(cidr: string): number | undefined {
  const range = cidrRange(cidr);
  if (range === undefined) return undefined;
  const width = range.family === 'IPv6' ? 128 : 32;
  return width - (range.end - range.start + 1n).toString(2).length + 1;
}

/**
 * The address families whose whole address space `cidrs` cover together (e.g. `0.0.0.0/1` and
 * `128.0.0.0/1` cover every IPv4 address). Unparsable CIDRs are ignored.
 */
export function coveredFamilies(cidrs: readonly string[]): ('IPv4' | 'IPv6')[] {
  const out: ('IPv4' | 'IPv6')[] = [];
  const ranges = cidrs.map(cidrRange).filter((r) => r !== undefined);
  for (const family of ['IPv4', 'IPv6'] as const) {
    const last = (1n << (family === 'IPv6' ? 128n : 32n)) - 1n;
    const sorted = ranges
      .filter((r) => r.family === family)
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let next = 0n; // first address not yet covered
    for (const r of sorted) {
      if (r.start > next) break;
      if (r.end + 1n > next) next = r.end + 1n;
    }
    if (sorted.length > 0 && next > last) out.push(family);
  }
  return out;
}
