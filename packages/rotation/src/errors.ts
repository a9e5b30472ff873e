/**
 * The error a rotation step fails with. Never carries a secret value: AWS errors are kept as
 * their name, status and a message with every known value redacted, not as the raw object.
 * @module
 */
import { isAwsResponseParseFailure } from '@cdn-origin-guard/core';

/** Why a step failed, stable to branch on (and in the log line). */
export type RotationFailure =
  | 'bad-event'
  | 'rotation-disabled'
  | 'unknown-version'
  | 'not-pending'
  | 'bad-secret'
  | 'no-matching-origin'
  | 'no-matching-rule'
  | 'cloudfront-out-of-step'
  | 'unselected-origin'
  | 'unselected-listener'
  | 'unlisted-distribution'
  | 'unexpected-secret'
  | 'condition-limit'
  | 'wait-too-long'
  | 'update-conflict'
  | 'unmodelled-config'
  | 'not-updated'
  | 'not-deployed'
  | 'test-request-failed'
  | 'aws-error'
  | 'internal-error';

/** A rotation step failed; Secrets Manager will retry the step. */
export class RotationError extends Error {
  readonly code = 'ERR_CDN_ORIGIN_GUARD_ROTATION' as const;
  /** Why, as a stable code. */
  readonly failure: RotationFailure;
  /** The AWS error name when an AWS call failed, e.g. `AccessDenied`. */
  readonly awsCode: string | undefined;
  constructor(failure: RotationFailure, message: string, awsCode?: string) {
    super(`@cdn-origin-guard/rotation: ${message}`);
    this.name = 'RotationError';
    this.failure = failure;
    this.awsCode = awsCode;
  }
}

/** The AWS error name of an SDK error, or `undefined`. */
export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const name = (error as { name?: unknown }).name;
  return typeof name === 'string' && name !== 'Error' ? name : undefined;
}

/**
 * Wrap a failed AWS call as a {@link RotationError}: the call, the AWS error name and its
 * message with each of `secrets` replaced by `[redacted]` (AWS validation messages can echo
 * input).
 */
export function awsCallFailed(
  call: string,
  error: unknown,
  secrets: readonly string[],
): RotationError {
  const name = awsErrorName(error) ?? 'Error';
  const message = redacted(error, secrets);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
    ?.httpStatusCode;
  return new RotationError(
    'aws-error',
    `${call} failed: ${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${message}`,
    name,
  );
}

/**
 * The message of `error` with each of `secrets` replaced by `[redacted]`. A response the SDK
 * could not parse is not quoted at all: its message holds a piece of the body (of
 * `GetSecretValue`, or a CloudFront configuration with the origin header), which may be part of
 * a secret that replacing whole values would miss.
 */
export function redacted(error: unknown, secrets: readonly string[]): string {
  if (isAwsResponseParseFailure(error))
    return 'the response body could not be parsed (not quoted here: it may hold a secret); check that the endpoint reaches the AWS service itself';
  let message = error instanceof Error ? error.message : String(error);
  for (const secret of secrets)
    if (secret.length > 0) message = message.split(secret).join('[redacted]');
  return message;
}
