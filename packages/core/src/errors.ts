/**
 * Typed errors with stable codes. No message ever contains a secret value.
 *
 * The family: {@link CdnOriginGuardError} (`SourceError`, `NotReadyError`) for what happens at
 * run time, and {@link InvalidOptionError} for a bad option at construction, which extends
 * `TypeError` instead (a programming error, as Node's own `ERR_INVALID_ARG_*` errors are).
 * What they share is a `code` starting with `ERR_CDN_ORIGIN_GUARD_` and a message starting
 * with `@cdn-origin-guard`; {@link isOriginGuardError} recognises every one of them (and the
 * errors of the other `@cdn-origin-guard/*` packages) by that code.
 * @module
 */

/** Stable error codes thrown or surfaced by `@cdn-origin-guard/core`. */
export type ErrorCode =
  | 'ERR_CDN_ORIGIN_GUARD_OPTION'
  | 'ERR_CDN_ORIGIN_GUARD_SOURCE'
  | 'ERR_CDN_ORIGIN_GUARD_NOT_READY';

/** The prefix of every error code of every `@cdn-origin-guard/*` package. */
const CODE_PREFIX = 'ERR_CDN_ORIGIN_GUARD_';

/**
 * Whether `error` was thrown by cdn-origin-guard: an error whose `code` starts with
 * `ERR_CDN_ORIGIN_GUARD_` (`InvalidOptionError`, `SourceError`, `NotReadyError`, and the
 * audit and rotation packages' errors). Recognised by code, not `instanceof`, so it also holds
 * across two copies of the package (ESM and CJS builds, duplicated installs).
 * @example
 * ```ts
 * import { isOriginGuardError } from '@cdn-origin-guard/core';
 * try { await verifier.ready(); } catch (error) { if (isOriginGuardError(error)) console.error(error.code); }
 * ```
 */
export function isOriginGuardError(error: unknown): error is Error & { readonly code: string } {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith(CODE_PREFIX);
}

/**
 * Base class of the run-time errors (`SourceError`, `NotReadyError`). `InvalidOptionError`
 * is not one of them: it extends `TypeError` (see the module notes); use
 * {@link isOriginGuardError} to catch the whole family.
 */
export class CdnOriginGuardError extends Error {
  /** A stable, documented code to branch on. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CdnOriginGuardError';
    this.code = code;
  }
}

/**
 * A bad option, thrown at construction. The message names the option path, what is wrong
 * with the value and what is expected. It is a `TypeError` so generic handlers treat it as a
 * programming error.
 */
export class InvalidOptionError extends TypeError {
  readonly code = 'ERR_CDN_ORIGIN_GUARD_OPTION' as const;
  /** The option path, e.g. `proxyHops` or `CDN_ORIGIN_GUARD_PROXY_HOPS`. */
  readonly option: string;
  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super(`@cdn-origin-guard: option \`${option}\` ${message}`, options);
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

/** A source (Secrets Manager, EC2, ip-ranges, custom) failed to load or returned bad data. */
export class SourceError extends CdnOriginGuardError {
  /** The source's name, e.g. `secrets-manager:prod/origin-verify`. */
  readonly source: string;
  /** The AWS error code or HTTP status when there is one, e.g. `ResourceNotFoundException`. */
  readonly awsCode: string | undefined;
  /**
   * Whether the store said the values no longer exist (Secrets Manager: the secret was deleted
   * or is scheduled for deletion). The values in use are then dropped, not kept as
   * last-known-good: requests are denied until a load succeeds. A custom source may throw
   * such an error too.
   */
  readonly revoked: boolean;
  constructor(
    source: string,
    message: string,
    options?: { cause?: unknown; awsCode?: string | undefined; revoked?: boolean | undefined },
  ) {
    super('ERR_CDN_ORIGIN_GUARD_SOURCE', `@cdn-origin-guard: ${source}: ${message}`, options);
    this.name = 'SourceError';
    this.source = source;
    this.awsCode = options?.awsCode;
    this.revoked = options?.revoked === true;
  }
}

/**
 * `ready()` could not load a source that has never loaded, or was called on a closed verifier
 * (the message says which).
 */
export class NotReadyError extends CdnOriginGuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CDN_ORIGIN_GUARD_NOT_READY', `@cdn-origin-guard: ${message}`, options);
    this.name = 'NotReadyError';
  }
}
