/**
 * Seed data for the local AWS endpoint: realistic-looking CloudFront origin-facing ranges
 * (the shape of `com.amazonaws.global.cloudfront.origin-facing`: mostly regional-edge /24-/27
 * blocks) and viewer-facing ranges that a correct source must NOT use. Not an exact copy of
 * AWS's current list; good enough to exercise parsing, pagination and matching.
 * @module
 */

/** Origin-facing IPv4 CIDRs (45 entries). */
export const CLOUDFRONT_ORIGIN_FACING_V4: readonly string[] = Object.freeze([
  '3.10.17.128/25',
  '3.11.53.0/24',
  '3.35.130.128/25',
  '3.101.158.0/23',
  '3.128.93.0/24',
  '3.134.215.0/24',
  '3.231.2.0/25',
  '3.234.232.224/27',
  '3.236.48.0/23',
  '3.236.169.192/26',
  '13.48.32.0/24',
  '13.54.63.128/26',
  '13.59.250.0/26',
  '13.113.196.64/26',
  '13.113.203.0/24',
  '13.124.199.0/24',
  '13.210.67.128/26',
  '13.228.69.0/24',
  '13.233.177.192/26',
  '15.188.184.0/24',
  '15.207.13.128/25',
  '15.207.213.128/25',
  '18.192.142.0/23',
  '18.200.212.0/23',
  '18.216.170.128/25',
  '18.229.220.192/26',
  '34.195.252.0/24',
  '34.216.51.0/25',
  '34.223.12.224/27',
  '34.223.80.192/26',
  '34.226.14.0/24',
  '35.158.136.0/24',
  '35.162.63.192/26',
  '35.167.191.128/26',
  '44.227.178.0/24',
  '44.234.90.252/30',
  '44.234.108.128/25',
  '52.15.127.128/26',
  '52.47.139.0/24',
  '52.52.191.128/26',
  '52.56.127.0/25',
  '52.57.254.0/24',
  '52.66.194.128/26',
  '52.78.247.128/26',
  '52.199.127.192/26',
]);

/** Origin-facing IPv6 CIDRs (15 entries). */
export const CLOUDFRONT_ORIGIN_FACING_V6: readonly string[] = Object.freeze([
  '2600:1f14:1c1a:a00::/56',
  '2600:1f14:fff:f800::/56',
  '2600:1f18:2148:bc00::/56',
  '2600:1f18:2148:bc80::/57',
  '2600:1f1c:12d:e900::/56',
  '2600:1f1c:fff:8000::/56',
  '2406:da14:2e00::/56',
  '2406:da18:fff:8000::/56',
  '2406:da1c:fff:8000::/56',
  '2600:1f11:c6e:8700::/56',
  '2a05:d014:ed7:f000::/56',
  '2a05:d018:34d:5800::/56',
  '2a05:d01c:fff:8000::/56',
  '2600:1f16:f4f:6c00::/56',
  '2600:1f1e:fff:8000::/56',
]);

/** Viewer-facing CloudFront ranges (service `CLOUDFRONT`): must never be treated as origin-facing. */
export const CLOUDFRONT_VIEWER_FACING_V4: readonly string[] = Object.freeze([
  '13.32.0.0/15',
  '13.224.0.0/14',
  '54.192.0.0/16',
  '99.84.0.0/16',
  '143.204.0.0/16',
  '205.251.192.0/19',
]);

/** Viewer-facing CloudFront IPv6 ranges (service `CLOUDFRONT`). */
export const CLOUDFRONT_VIEWER_FACING_V6: readonly string[] = Object.freeze([
  '2600:9000::/28',
  '2600:9000:1000::/36',
]);

/** Unrelated AWS ranges (services `AMAZON`, `EC2`, `S3`, `ROUTE53_HEALTHCHECKS`). */
export const OTHER_AWS_V4: readonly { cidr: string; service: string; region: string }[] =
  Object.freeze([
    { cidr: '3.2.34.0/26', service: 'AMAZON', region: 'af-south-1' },
    { cidr: '3.5.140.0/22', service: 'AMAZON', region: 'ap-northeast-2' },
    { cidr: '15.230.56.104/31', service: 'AMAZON', region: 'us-east-1' },
    { cidr: '52.93.178.234/32', service: 'AMAZON', region: 'us-west-1' },
    { cidr: '3.2.34.0/26', service: 'EC2', region: 'af-south-1' },
    { cidr: '18.208.0.0/13', service: 'EC2', region: 'us-east-1' },
    { cidr: '52.92.16.0/20', service: 'S3', region: 'us-east-1' },
    { cidr: '54.243.31.192/26', service: 'ROUTE53_HEALTHCHECKS', region: 'us-east-1' },
  ]);

/** Unrelated AWS IPv6 ranges. */
export const OTHER_AWS_V6: readonly { cidr: string; service: string; region: string }[] =
  Object.freeze([
    { cidr: '2600:1f18::/33', service: 'AMAZON', region: 'us-east-1' },
    { cidr: '2a05:d07a:a000::/40', service: 'S3', region: 'eu-south-1' },
    { cidr: '2600:1f18::/33', service: 'EC2', region: 'us-east-1' },
  ]);

/** Regions cycled over for origin-facing entries in the ip-ranges document. */
export const ORIGIN_FACING_REGIONS: readonly string[] = Object.freeze([
  'GLOBAL',
  'us-east-1',
  'us-west-2',
  'eu-central-1',
  'ap-northeast-1',
]);
