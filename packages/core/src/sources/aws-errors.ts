/**
 * Telling an AWS SDK v3 error that quotes its response from one that does not. Kept apart from
 * the SDK wiring (aws-shared.ts), whose declarations name optional peer packages, so the rotation
 * and audit packages can use it.
 * @module
 */

/**
 * Whether `error` (from an AWS SDK v3 call) is a failure to parse the response rather than an
 * AWS error: any `SyntaxError` (JSON.parse quotes its input), a `TypeError` that came with a
 * response (a field's parser quotes the field; one without, such as `Invalid URL` for a bad
 * `endpoint`, quotes only configuration), or any error the SDK marked as a deserialization
 * failure (a hidden `$response` or `$responseBodyText` without the `$fault` every modelled AWS
 * exception has). Its message and its hidden fields quote the response body, which may hold a
 * secret (`GetSecretValue`, a CloudFront origin header): never show them. For the rotation and
 * audit packages, which report AWS errors too.
 *
 * @example
 * ```ts
 * import { isAwsResponseParseFailure } from '@cdn-origin-guard/core';
 * const shown = (error: Error) => (isAwsResponseParseFailure(error) ? error.name : error.message);
 * ```
 */
export function isAwsResponseParseFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const name = (error as { name?: unknown }).name;
  if (error instanceof SyntaxError || name === 'SyntaxError') return true;
  const answered = '$response' in error || '$responseBodyText' in error;
  if (error instanceof TypeError || name === 'TypeError') return answered || '$metadata' in error;
  if (answered && !('$fault' in error)) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && message.includes('Deserialization error');
}
