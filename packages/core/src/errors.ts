/**
 * Typed errors with stable codes. No message ever contains a secret value.
 * @module
 */

/** Stable error codes thrown or surfaced by cdn-origin-guard. */
export type ErrorCode =
  | 'ERR_CDN_ORIGIN_GUARD_OPTION'
  | 'ERR_CDN_ORIGIN_GUARD_SOURCE'
  | 'ERR_CDN_ORIGIN_GUARD_NOT_READY'
  | 'ERR_CDN_ORIGIN_GUARD_CLOSED';

/** Base class of every error cdn-origin-guard throws. */
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
  constructor(
    source: string,
    message: string,
    options?: { cause?: unknown; awsCode?: string | undefined },
  ) {
    super('ERR_CDN_ORIGIN_GUARD_SOURCE', `@cdn-origin-guard: ${source}: ${message}`, options);
    this.name = 'SourceError';
    this.source = source;
    this.awsCode = options?.awsCode;
  }
}

/** `ready()` could not load a source that has never loaded. */
export class NotReadyError extends CdnOriginGuardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CDN_ORIGIN_GUARD_NOT_READY', `@cdn-origin-guard: ${message}`, options);
    this.name = 'NotReadyError';
  }
}
