import type { VerifyInput } from '../src/index.js';

/** CloudFront origin-facing ranges used by the core tests (a realistic subset). */
export const CF_RANGES = [
  '130.176.0.0/17',
  '64.252.64.0/18',
  '15.158.0.0/16',
  '2600:9000:eee::/48',
  '2600:9000:ddd::/48',
] as const;

export const SECRET = 'S3cr3t-Origin-Verify-Value-0123456789abcdef';
export const PREVIOUS = 'Old-Origin-Verify-Value-abcdef0123456789XYZ';
export const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
export const EDGE = '130.176.12.34';
export const VIEWER = '198.51.100.23';
export const ALB = '10.0.1.15';

/** A request exactly as it reaches the app through CloudFront and the ALB. */
export function throughCloudFront(
  overrides: Partial<VerifyInput> & {
    headers?: Record<string, string | string[] | undefined>;
  } = {},
): VerifyInput {
  return {
    remoteAddress: 'remoteAddress' in overrides ? overrides.remoteAddress : ALB,
    method: overrides.method ?? 'GET',
    path: overrides.path ?? '/orders',
    ...(overrides.rawHeaders ? { rawHeaders: overrides.rawHeaders } : {}),
    headers: {
      host: 'origin.example.com',
      'x-forwarded-for': `${VIEWER}, ${EDGE}`,
      'x-amz-cf-id': CF_ID,
      'x-origin-verify': SECRET,
      ...overrides.headers,
    },
  };
}
