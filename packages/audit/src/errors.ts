/**
 * Typed errors with stable codes. No message ever contains a secret value.
 * @module
 */

/** Stable codes of {@link AuditError}. */
export type AuditErrorCode =
  | 'ERR_CDN_ORIGIN_GUARD_AUDIT_OPTION'
  | 'ERR_CDN_ORIGIN_GUARD_AUDIT_CREDENTIALS'
  | 'ERR_CDN_ORIGIN_GUARD_AUDIT_NOT_FOUND'
  | 'ERR_CDN_ORIGIN_GUARD_AUDIT_AWS';

/** The audit could not run at all (CLI exit code 2): bad options, no credentials, no such ALB. */
export class AuditError extends Error {
  /** A stable, documented code to branch on. */
  readonly code: AuditErrorCode;
  /** The CLI exit code for this error: always 2. */
  readonly exitCode = 2 as const;
  constructor(code: AuditErrorCode, message: string, options?: { cause?: unknown }) {
    super(`@cdn-origin-guard/audit: ${message}`, options);
    this.name = 'AuditError';
    this.code = code;
  }
}
