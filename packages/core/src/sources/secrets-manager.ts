/**
 * Secret source backed by AWS Secrets Manager: one `GetSecretValue` per staging label.
 * Only loads; caching, refresh and last-known-good live in the cache layer.
 * @module
 */
import type {
  GetSecretValueCommandOutput,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SecretStage } from '../decision.js';
import { SourceError } from '../errors.js';
import { DEFAULT_SECRET_STAGES } from '../options/defaults.js';
import { secretValueProblem } from '../secret/compare.js';
import {
  awsCallError,
  awsErrorCode,
  createDeadline,
  lazyAwsClient,
  resolveTimeoutMs,
  untilAborted,
} from './aws-shared.js';
import { requirePeer } from './peer.js';
import type { AwsSdkClient, SecretSnapshot, SecretSource, SecretValue } from './types.js';

const REQUIRED_STAGE = 'AWSCURRENT';

/** Options of {@link secretsManagerSource}. */
export interface SecretsManagerSourceOptions {
  /**
   * The secret's name or ARN.
   * @example
   * secretsManagerSource({ secretId: 'prod/cloudfront/origin-verify' });
   */
  readonly secretId: string;
  /**
   * Read this key of a JSON `SecretString` (`{"header":"..."}`) instead of the whole string.
   * The key's value must be a string. Defaults to `undefined` (the whole SecretString).
   * @example
   * secretsManagerSource({ secretId: 'prod/cloudfront', jsonKey: 'originVerify' });
   */
  readonly jsonKey?: string;
  /**
   * Staging labels to load. `AWSCURRENT` is required and always loaded; the others are
   * optional (a label that does not exist on the secret is skipped). Defaults to
   * `['AWSCURRENT', 'AWSPREVIOUS', 'AWSPENDING']`.
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', stages: ['AWSCURRENT', 'AWSPREVIOUS'] });
   */
  readonly stages?: readonly SecretStage[];
  /**
   * A client to use as is (the source never destroys it). Its own timeouts and retries apply
   * per attempt; `timeoutMs` still bounds the whole load. Defaults to a client created on the
   * first load (the SDK is an optional peer dependency) and destroyed by `close()`.
   * @example
   * import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
   * secretsManagerSource({ secretId: 'prod/origin-verify', client: new SecretsManagerClient({}) });
   */
  readonly client?: AwsSdkClient;
  /**
   * Region of the created client. Ignored with `client`. Defaults to the SDK's default chain
   * (`AWS_REGION`, shared config, ...).
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', region: 'eu-west-1' });
   */
  readonly region?: string;
  /**
   * Endpoint of the created client (e.g. a VPC endpoint or a local test server). Ignored with
   * `client`. Defaults to the SDK's resolution, which honours `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', endpoint: 'http://127.0.0.1:4566' });
   */
  readonly endpoint?: string;
  /**
   * Upper bound in milliseconds for the AWS calls of one `load()`, SDK retries included; also
   * the created client's connection and request timeouts. The one-time SDK import and client
   * creation of the first load are not counted (the caller's signal still aborts them).
   * Defaults to `3000`.
   * @example
   * secretsManagerSource({ secretId: 'prod/origin-verify', timeoutMs: 1500 });
   */
  readonly timeoutMs?: number;
}

/**
 * A {@link SecretSource} reading the secret header value from AWS Secrets Manager.
 *
 * Each `load()` sends one `GetSecretValue` per stage, in parallel, and resolves with one
 * value per stage found (two stages on the same version still give two entries, so stats can
 * tell them apart). `AWSCURRENT` must load. A missing optional stage (`ResourceNotFoundException`,
 * e.g. no `AWSPREVIOUS` before the first rotation) is skipped. An optional stage whose value is
 * unusable (empty, invalid, binary, a JSON object without `jsonKey`; e.g. left by a failed
 * rotation) is left out and listed in `snapshot.skipped`, so the other stages keep loading and
 * a later rotation is picked up. Any other failure of an optional stage (access denied, KMS),
 * and an unusable `AWSCURRENT`, fail the whole load so the guard keeps its last-known-good
 * values. A JSON-object value read without `jsonKey` is unusable: the error names its keys
 * (never their values) and the `jsonKey` option.
 * Values must be 16-256 printable ASCII characters (0x21-0x7E). Errors are `SourceError`s
 * naming the secret id, the stage and the AWS error code (`awsCode`); they never contain a value.
 *
 * Defaults to stages `AWSCURRENT`, `AWSPREVIOUS` and `AWSPENDING`, and a 3000 ms timeout.
 * @example
 * import { createOriginVerifier, secretsManagerSource } from '@cdn-origin-guard/core';
 *
 * const verifier = createOriginVerifier({
 *   secret: secretsManagerSource({ secretId: 'prod/cloudfront/origin-verify' }),
 * });
 */
export function secretsManagerSource(options: Readonly<SecretsManagerSourceOptions>): SecretSource {
  const secretId = options.secretId;
  if (typeof secretId !== 'string' || secretId.length === 0) {
    throw new SourceError(
      'secrets-manager',
      '`secretId` must be a non-empty string (a secret name or ARN).',
    );
  }
  const name = `secrets-manager:${secretId}`;
  const jsonKey = options.jsonKey;
  const timeoutMs = resolveTimeoutMs(name, options.timeoutMs);
  const stages = [...new Set([REQUIRED_STAGE, ...(options.stages ?? DEFAULT_SECRET_STAGES)])];
  if (options.client === undefined)
    requirePeer('client', '@aws-sdk/client-secrets-manager', 'client');
  // The structural client is the SDK's client at run time.
  const injected = options.client as SecretsManagerClient | undefined;
  const aws = lazyAwsClient(name, { ...options, client: injected }, timeoutMs, {
    packageName: '@aws-sdk/client-secrets-manager',
    importSdk: () => import('@aws-sdk/client-secrets-manager'),
    create: ({ SecretsManagerClient }, config) => new SecretsManagerClient(config),
  });

  const fail = (stage: string, error: unknown): SourceError =>
    awsCallError(name, `GetSecretValue for stage ${stage} of secret "${secretId}"`, error);

  const toValue = (stage: string, output: GetSecretValueCommandOutput): SecretValue => {
    const where = `secret "${secretId}" stage ${stage}${output.VersionId === undefined ? '' : ` (version ${output.VersionId})`}`;
    const raw = output.SecretString;
    if (typeof raw !== 'string') {
      throw new SourceError(
        name,
        `${where} has no SecretString; binary secrets are not supported.`,
      );
    }
    let value = raw;
    if (jsonKey !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        // The parser's message quotes the input, so it is deliberately not kept as the cause.
        throw new SourceError(
          name,
          `${where} is not a JSON object, so \`jsonKey\` "${jsonKey}" cannot be read.`,
        );
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new SourceError(
          name,
          `${where} is not a JSON object, so \`jsonKey\` "${jsonKey}" cannot be read.`,
        );
      }
      const record = parsed as Record<string, unknown>;
      if (!Object.hasOwn(record, jsonKey)) {
        const keys = Object.keys(record).slice(0, 10);
        throw new SourceError(
          name,
          `${where} has no key "${jsonKey}" (\`jsonKey\`); its keys are: ${keys.length === 0 ? '(none)' : keys.map((k) => `"${k}"`).join(', ')}.`,
        );
      }
      const picked = record[jsonKey];
      if (typeof picked !== 'string') {
        throw new SourceError(
          name,
          `${where} key "${jsonKey}" holds ${picked === null ? 'null' : Array.isArray(picked) ? 'an array' : `a ${typeof picked}`}; expected a string.`,
        );
      }
      value = picked;
    } else {
      const keys = jsonObjectKeys(raw);
      if (keys !== undefined)
        throw new SourceError(
          name,
          `${where} is a JSON object (keys: ${keys}), not a header value; set the \`jsonKey\` option (CDN_ORIGIN_GUARD_SECRET_JSON_KEY) to the key that holds the X-Origin-Verify value.`,
        );
    }
    const problem = secretValueProblem(value);
    if (problem !== undefined) {
      throw new SourceError(
        name,
        `${where}${jsonKey === undefined ? '' : ` key "${jsonKey}"`} is not a usable header value: it ${problem}.`,
      );
    }
    return { stage, value, versionId: output.VersionId };
  };

  return {
    name,
    async load(signal: AbortSignal): Promise<SecretSnapshot> {
      if (aws.closed) throw new SourceError(name, 'load() called after close().');
      const deadline = createDeadline(signal, timeoutMs);
      try {
        const [client, { GetSecretValueCommand }] = await aws.open(deadline.signal);
        deadline.start();
        const work = Promise.allSettled(
          stages.map((stage) =>
            client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }), {
              abortSignal: deadline.signal,
            }),
          ),
        );
        // allSettled never rejects: this only returns early when the deadline fires.
        const settled = await untilAborted(work, deadline.signal);
        const values: SecretValue[] = [];
        const skipped: SourceError[] = [];
        for (const [i, result] of settled.entries()) {
          const stage = stages[i] as string;
          if (result.status === 'rejected') {
            if (deadline.signal.aborted)
              throw deadline.error(name, `GetSecretValue of secret "${secretId}"`);
            if (
              stage !== REQUIRED_STAGE &&
              awsErrorCode(result.reason) === 'ResourceNotFoundException'
            )
              continue;
            throw fail(stage, result.reason);
          }
          if (stage === REQUIRED_STAGE) {
            values.push(toValue(stage, result.value));
            continue;
          }
          // A bad optional stage (e.g. an empty AWSPENDING left by a failed rotation) is left
          // out and reported; the other stages still load, so a later rotation is picked up.
          try {
            values.push(toValue(stage, result.value));
          } catch (error) {
            if (!(error instanceof SourceError)) throw error;
            const prefix = `@cdn-origin-guard: ${name}: `;
            const why = error.message.startsWith(prefix)
              ? error.message.slice(prefix.length)
              : error.message;
            skipped.push(
              new SourceError(
                name,
                `${why} Stage ${stage} is skipped; the other stages are in use.`,
                { awsCode: 'SkippedStage' },
              ),
            );
          }
        }
        const version = values
          .map((v) => `${v.stage}:${v.versionId ?? '?'}`)
          .sort()
          .join(',');
        return skipped.length > 0 ? { values, version, skipped } : { values, version };
      } catch (error) {
        if (error instanceof SourceError) throw error;
        if (deadline.signal.aborted)
          throw deadline.error(name, `GetSecretValue of secret "${secretId}"`);
        throw fail(REQUIRED_STAGE, error);
      } finally {
        deadline.dispose();
      }
    },
    close(): Promise<void> {
      return aws.close();
    },
  };
}

/**
 * `"a", "b"` (at most 10 keys, each cut to 64 characters) when `raw` is a JSON object, else
 * undefined. Only key names are shown, never a value.
 */
function jsonObjectKeys(raw: string): string | undefined {
  if (raw.trimStart().charCodeAt(0) !== 0x7b /* { */) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const keys = Object.keys(parsed);
  if (keys.length === 0) return '(none)';
  const shown = keys.slice(0, 10).map((k) => JSON.stringify(k.slice(0, 64)));
  return `${shown.join(', ')}${keys.length > 10 ? `, and ${keys.length - 10} more` : ''}`;
}
