/**
 * The plumbing the AWS sources share: the `timeoutMs` default and check, a lazily imported SDK
 * and client, a deadline per load, racing a promise against an abort, and turning SDK errors
 * into `SourceError` text.
 * Internal: not exported from the package.
 * @module
 */

import type { NodeHttpHandler } from '@smithy/node-http-handler';
import { SourceError } from '../errors.js';
import { isAwsResponseParseFailure } from './aws-errors.js';

/** Default upper bound of one load of an AWS source, in milliseconds. */
const DEFAULT_TIMEOUT_MS = 3000;

/** `timeoutMs` of a source's options, defaulted to 3000 and checked to be a positive number. */
export function resolveTimeoutMs(source: string, value: number | undefined): number {
  const timeoutMs = value ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new SourceError(
      source,
      `\`timeoutMs\` must be a positive number of milliseconds, got ${String(timeoutMs)}.`,
    );
  }
  return timeoutMs;
}

/** Settings the SDK turns into its Node request handler itself. */
type RequestHandlerSettings = {
  connectionTimeout: number;
  requestTimeout: number;
  throwOnRequestTimeout: boolean;
};

/** The `requestHandler` a created client gets: connection/request timeouts that throw. */
export type RequestHandlerInput = NodeHttpHandler | RequestHandlerSettings;

/** The config handed to {@link LazyAwsClientOptions.create}. */
export interface CreatedClientConfig {
  requestHandler: RequestHandlerInput;
  region?: string;
  endpoint?: string;
}

/** The client options every AWS source takes. */
export interface AwsClientOptions<C> {
  /** A client to use as is (never destroyed). */
  readonly client?: C | undefined;
  /** Region of the created client. */
  readonly region?: string | undefined;
  /** Endpoint of the created client. */
  readonly endpoint?: string | undefined;
}

/** How to get one AWS SDK client package and build its client. */
export interface AwsSdk<M, C> {
  /** The optional peer dependency, named in the error when it cannot be imported. */
  readonly packageName: string;
  /** `() => import('@aws-sdk/client-...')`, a literal specifier so bundlers see it. */
  readonly importSdk: () => Promise<M>;
  /** Build the client from the SDK module and its config. */
  readonly create: (sdk: M, config: CreatedClientConfig) => C;
}

/** The SDK module and a client, both made on first use. */
export interface LazyAwsClient<M, C> {
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** The client and the SDK module, or a rejection as soon as `signal` aborts. */
  open(signal: AbortSignal): Promise<[C, M]>;
  /** Mark closed and destroy a created client (an injected one is left alone). */
  close(): Promise<void>;
}

/**
 * `options.client`, or a client made on first use from an optional peer dependency with
 * `options.region`, `options.endpoint` and `timeoutMs` as its connection and request timeouts.
 * A failed import or creation is forgotten, so the next load tries again.
 */
export function lazyAwsClient<M, C extends { destroy(): void }>(
  source: string,
  options: AwsClientOptions<C>,
  timeoutMs: number,
  sdkSpec: AwsSdk<M, C>,
): LazyAwsClient<M, C> {
  const injected = options.client;
  let sdk: Promise<M> | undefined;
  let created: Promise<C> | undefined;
  let closed = false;

  const loadSdk = (): Promise<M> => {
    sdk ??= sdkSpec.importSdk().catch((cause: unknown) => {
      sdk = undefined;
      throw new SourceError(
        source,
        `needs the optional peer dependency \`${sdkSpec.packageName}\`; install it next to @cdn-origin-guard/core.`,
        { cause },
      );
    });
    return sdk;
  };

  const getClient = (): Promise<C> => {
    if (injected !== undefined) return Promise.resolve(injected);
    created ??= (async () => {
      const mod = await loadSdk();
      const config: CreatedClientConfig = {
        requestHandler: await createRequestHandler(timeoutMs),
      };
      if (options.region !== undefined) config.region = options.region;
      if (options.endpoint !== undefined) config.endpoint = options.endpoint;
      return sdkSpec.create(mod, config);
    })().catch((error: unknown) => {
      created = undefined;
      throw error;
    });
    return created;
  };

  return {
    get closed() {
      return closed;
    },
    open(signal) {
      return untilAborted(Promise.all([getClient(), loadSdk()]), signal);
    },
    async close() {
      closed = true;
      const pending = created;
      created = undefined;
      if (pending !== undefined) {
        // A client that failed to be created has nothing to destroy. That failure was the
        // failure of the load that awaited it, reported through the cache (stats, onError),
        // unless close() aborted that load first: then the source is closed, no load will use
        // the client, and the cache reports nothing for a load close() aborted (shutdown).
        const client = await pending.catch(() => undefined);
        client?.destroy();
      }
    },
  };
}

/** The SDK's request handler with connection/request timeouts that throw. */
async function createRequestHandler(timeoutMs: number): Promise<RequestHandlerInput> {
  const settings: RequestHandlerSettings = {
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    throwOnRequestTimeout: true,
  };
  try {
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    return new NodeHttpHandler(settings);
  } catch {
    // Not resolvable from here (strict installs): the client builds the same handler from options.
    return settings;
  }
}

/** A load's deadline: see {@link createDeadline}. */
export interface Deadline {
  /** Aborts when the caller's signal aborts or `timeoutMs` passes. */
  readonly signal: AbortSignal;
  /** Start the timeout (the one-time SDK import and client creation are not counted). */
  start(): void;
  /** A SourceError saying whether the load timed out or was aborted. */
  error(source: string, what: string): SourceError;
  dispose(): void;
}

/**
 * The caller's signal combined with a timeout. Hand-rolled rather than
 * `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: it detaches from a long-lived caller
 * signal when the load ends (AbortSignal.any retains dependants, nodejs/node#55351) and tells
 * a timeout from an abort.
 */
export function createDeadline(parent: AbortSignal, timeoutMs: number): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = (): void => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    start() {
      if (timer !== undefined || controller.signal.aborted) return;
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
      }, timeoutMs);
    },
    error(source, what) {
      return timedOut
        ? new SourceError(source, `${what} timed out after ${timeoutMs} ms.`, {
            cause: controller.signal.reason,
            awsCode: 'TimeoutError',
          })
        : new SourceError(source, `${what} was aborted.`, {
            cause: parent.reason,
            awsCode: 'AbortError',
          });
    },
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}

/** `promise`, or a rejection as soon as `signal` aborts (the SDK may sleep between retries). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The caller gets the abort (a timeout or close, reported by the cache as the load's
    // failure); a later rejection of the abandoned call must not be an unhandled rejection.
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The AWS error code (the SDK error's `name`), e.g. `AccessDeniedException`. */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'name' in error) {
    const value = (error as { name?: unknown }).name;
    return typeof value === 'string' && value.length > 0 && value !== 'Error' ? value : undefined;
  }
  return undefined;
}

/**
 * `<what> failed with <code> (HTTP 400 after 1 attempt): <message>.` as a SourceError carrying
 * the error as its cause and the code as `awsCode`.
 *
 * A response the SDK could not parse is the exception: its error (V8's JSON `SyntaxError`, a
 * `TypeError` from a field's parser) quotes the body in its message and keeps the body in the
 * hidden `$response` / `$responseBodyText`, and a `GetSecretValue` body is the secret. Only the
 * error's name, the HTTP status and a fixed hint are kept, and the error is not the cause.
 */
export function awsCallError(
  source: string,
  what: string,
  error: unknown,
  options: { readonly revoked?: boolean } = {},
): SourceError {
  const code = awsErrorCode(error);
  const revoked = options.revoked === true;
  if (isAwsResponseParseFailure(error)) {
    return new SourceError(
      source,
      `${what} failed with ${code ?? 'an unknown error'}${describeAttempts(error)}: the response body could not be parsed (it is not quoted here: it may hold the secret). Check that the \`endpoint\` option (or the AWS_ENDPOINT_URL_* variable) reaches the AWS service itself, not a proxy or another service that rewrites its answers.`,
      { awsCode: code, revoked },
    );
  }
  const detail = describeAwsError(error);
  return new SourceError(
    source,
    `${what} failed with ${code ?? 'an unknown error'}${detail}.${hintFor(detail)}`,
    { cause: error, awsCode: code, revoked },
  );
}

/** What to do about an SDK error the user can fix in configuration, or ''. */
function hintFor(detail: string): string {
  if (/region is missing/i.test(detail))
    return ' Set the `region` option or the AWS_REGION variable (the AWS SDK for JavaScript v3 never reads AWS_DEFAULT_REGION, and reaches instance metadata only in recent releases and where IMDS is reachable).';
  return '';
}

/** ` (HTTP 400 after 1 attempt)` from an SDK error's `$metadata`, or ''. */
function describeAttempts(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const meta = (error as { $metadata?: { httpStatusCode?: number; attempts?: number } }).$metadata;
  const parts: string[] = [];
  if (typeof meta?.httpStatusCode === 'number') parts.push(`HTTP ${meta.httpStatusCode}`);
  if (typeof meta?.attempts === 'number')
    parts.push(`after ${meta.attempts} attempt${meta.attempts === 1 ? '' : 's'}`);
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}

/** ` (HTTP 400 after 1 attempt): message` from an SDK error, on one line and capped. */
function describeAwsError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const raw = (error as { message?: unknown }).message;
  // Trailing periods are dropped: the caller ends the sentence.
  const message =
    typeof raw === 'string'
      ? raw
          .replace(/\s+/g, ' ')
          .trim()
          .slice(0, 300)
          .replace(/[.\s]+$/, '')
      : '';
  return `${describeAttempts(error)}${message.length > 0 ? `: ${message}` : ''}`;
}
