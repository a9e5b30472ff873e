/**
 * Turn an AWS SDK error into a skipped check, or into an {@link AuditError} when nothing can run.
 * @module
 */
import { isAwsResponseParseFailure } from '@cdn-origin-guard/core';
import type { IamAction } from '../constants.js';
import { AuditError } from '../errors.js';
import type { Gathered, Skip } from '../types.js';
import { PagingFault } from './paging.js';

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedAccess',
  'Forbidden',
]);

const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'EC2ThrottledException',
]);

const CREDENTIALS = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'AuthFailure',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'MissingAuthenticationToken',
]);

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** The error's AWS code (the SDK puts it in `name`). */
export function awsCode(error: unknown): string {
  return (error as SdkError | undefined)?.name ?? 'Error';
}

/** A credentials problem: nothing can run. */
export function credentialsError(error: unknown): AuditError | undefined {
  if (!CREDENTIALS.has(awsCode(error))) return undefined;
  return new AuditError(
    'ERR_CDN_ORIGIN_GUARD_AUDIT_CREDENTIALS',
    `no usable AWS credentials (${awsCode(error)}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance/task role applies`,
    { cause: error },
  );
}

/** Why `action` failed, as a skip. Credentials problems throw instead. */
export function skipFor(error: unknown, action: IamAction): Skip {
  const fatal = credentialsError(error);
  if (fatal !== undefined) throw fatal;
  const code = awsCode(error);
  const attempts = (error as SdkError | undefined)?.$metadata?.attempts;
  if (ACCESS_DENIED.has(code)) {
    return {
      reason: 'access-denied',
      message: `Access denied to ${action} (${code}); grant it to run this check`,
      missingAction: action,
    };
  }
  if (THROTTLED.has(code) || (error as SdkError | undefined)?.$metadata?.httpStatusCode === 429) {
    return {
      reason: 'throttled',
      message: `${action} was throttled (${code})${attempts === undefined ? '' : ` after ${attempts} attempts`}; run the audit again later`,
    };
  }
  // AWS error messages name resources, never secret values; keep them short. A response the
  // SDK could not parse is the exception: its message quotes the body (a secret's value, an
  // origin header), so it is never shown.
  const detail = isAwsResponseParseFailure(error)
    ? 'the response body could not be parsed; not quoted: it may hold a secret'
    : ((error as SdkError | undefined)?.message ?? '').slice(0, 200);
  return {
    reason: 'error',
    message: `${action} failed: ${code}${detail === '' || detail === code ? '' : ` (${detail})`}`,
  };
}

/** A failed call, tagged with the IAM action it needed. */
class StepFailure extends Error {
  constructor(
    readonly action: IamAction,
    readonly error: unknown,
  ) {
    super(`${action} failed`);
  }
}

/**
 * Calls one AWS action; a failure is reported as a skip naming that action. With `notFound`,
 * a not-found answer means a resource the user named does not exist: the audit cannot run as
 * asked, and an {@link AuditError} with that message is thrown instead.
 */
export type Step = <R>(action: IamAction, call: () => Promise<R>, notFound?: string) => Promise<R>;

const step: Step = async (action, call, notFound) => {
  try {
    return await call();
  } catch (error) {
    if (notFound !== undefined && /NotFound|^NoSuch/.test(awsCode(error)))
      throw new AuditError('ERR_CDN_ORIGIN_GUARD_AUDIT_NOT_FOUND', notFound, { cause: error });
    throw new StepFailure(action, error);
  }
};

/**
 * Run a read that calls one or more actions through `step`; the first failure becomes a skip
 * naming the action that failed, and a listing not read to its end ({@link PagingFault}) an
 * `error` skip. Credentials problems throw an {@link AuditError}.
 */
export async function gather<T>(read: (step: Step) => Promise<T>): Promise<Gathered<T>> {
  try {
    return { ok: true, value: await read(step) };
  } catch (error) {
    if (error instanceof StepFailure)
      return { ok: false, skip: skipFor(error.error, error.action) };
    if (error instanceof PagingFault)
      return { ok: false, skip: { reason: 'error', message: error.message } };
    throw error;
  }
}
