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
