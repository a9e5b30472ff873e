/**
 * Resolution of the secret options: static values, a custom source, or a Secrets Manager
 * secret (`secretId`, `jsonKey`, `secretStages`, `secretsManagerClient`, `previousMaxAgeMs`).
 * @module
 */
import { InvalidOptionError } from '../errors.js';
import { secretValueProblem } from '../secret/compare.js';
import { requirePeer } from '../sources/peer.js';
import { type StaticSecret, staticSecretSnapshot } from '../sources/static.js';
import { DEFAULT_SECRET_STAGES, DEFAULTS } from './defaults.js';
import {
  awsClient,
  describe,
  isSource,
  numberOption,
  ownProperties,
  stringList,
  suggest,
} from './readers.js';
import type { ResolvedOptions } from './types.js';

/** Resolve the secret options of `given` (the caller's options, read only). */
export function resolveSecret(given: Readonly<Record<string, unknown>>): ResolvedOptions['secret'] {
  const hasSecret = given.secret !== undefined;
  const hasId = given.secretId !== undefined;
  if (hasSecret && hasId)
    throw new InvalidOptionError(
      'secret',
      'and `secretId` are both set; give static values in `secret` or a Secrets Manager secret in `secretId`, not both.',
    );
  if (!hasSecret && !hasId)
    throw new InvalidOptionError(
      'secretId',
      'is missing; set `secretId` to the Secrets Manager secret that CloudFront’s X-Origin-Verify value comes from, or `secret` to static values for development.',
    );
  if (hasSecret) {
    for (const key of [
      'jsonKey',
      'secretStages',
      'secretsManagerClient',
      'previousMaxAgeMs',
    ] as const)
      if (given[key] !== undefined)
        throw new InvalidOptionError(
          key,
          'only applies with `secretId`; remove it or use `secretId`.',
        );
    const secret = given.secret;
    if (isSource(secret)) {
      if (typeof secret.name !== 'string')
        throw new InvalidOptionError(
          'secret.name',
          'must be a string naming the custom secret source.',
        );
      return { kind: 'source', source: secret };
    }
    const list = typeof secret === 'string' ? [secret] : secret;
    if (!Array.isArray(list) || list.length === 0)
      throw new InvalidOptionError(
        'secret',
        `is ${describe(secret)}; expected a string, a non-empty array of strings, or a SecretSource.`,
      );
    // `Array.from`, not `map`: `map` skips the holes of a sparse array (`[, 'value']`), which
    // must be reported like any other missing value (outside review, 4 December).
    const values = Array.from(list as unknown[], (item: unknown, i: number) => {
      const path = typeof secret === 'string' ? 'secret' : `secret[${i}]`;
      // `{ value, stage }` read from its own properties only, as every option object.
      const fields = typeof item === 'object' && item !== null ? ownProperties(item) : undefined;
      const value = fields === undefined ? item : fields.value;
      const problem = secretValueProblem(value);
      if (problem) throw new InvalidOptionError(path, `${problem}.`);
      const stage = fields?.stage;
      if (stage !== undefined && (typeof stage !== 'string' || stage === ''))
        throw new InvalidOptionError(`${path}.stage`, 'must be a non-empty string.');
      return (fields === undefined ? item : { value, stage }) as StaticSecret;
    });
    return { kind: 'static', snapshot: staticSecretSnapshot(values) };
  }
  const secretId = given.secretId;
  if (typeof secretId !== 'string' || secretId.trim() === '' || secretId.length > 2048)
    throw new InvalidOptionError(
      'secretId',
      `is ${describe(secretId)}; expected a secret name or ARN.`,
    );
  const jsonKey = given.jsonKey;
  if (jsonKey !== undefined && (typeof jsonKey !== 'string' || jsonKey === ''))
    throw new InvalidOptionError(
      'jsonKey',
      `is ${describe(jsonKey)}; expected the JSON key holding the value.`,
    );
  const stages = stringList('secretStages', given.secretStages, DEFAULTS.secretStages);
  if (stages.length === 0)
    throw new InvalidOptionError('secretStages', 'is empty; list at least `AWSCURRENT`.');
  stages.forEach(checkStage);
  const previousMaxAgeMs = numberOption('previousMaxAgeMs', given.previousMaxAgeMs);
  if (previousMaxAgeMs !== undefined && !stages.includes('AWSPREVIOUS'))
    throw new InvalidOptionError(
      'previousMaxAgeMs',
      `limits how long the AWSPREVIOUS value is accepted, but \`secretStages\` (${stages.join(', ')}) does not accept it; remove \`previousMaxAgeMs\`, or add AWSPREVIOUS to \`secretStages\`.`,
    );
  const client = awsClient(
    'secretsManagerClient',
    given.secretsManagerClient,
    'a SecretsManagerClient from @aws-sdk/client-secrets-manager',
  );
  if (client === undefined)
    requirePeer('secretId', '@aws-sdk/client-secrets-manager', 'secretsManagerClient');
  return {
    kind: 'secrets-manager',
    secretId: secretId.trim(),
    jsonKey,
    stages,
    client,
    previousMaxAgeMs,
  };
}

/**
 * Throws when the staging label at `index` is a misspelt AWS label (`AWSPREVIUS`,
 * `awsprevious`): Secrets Manager labels are case-sensitive, so the value under the real label
 * would be denied during a rotation. Custom labels are accepted; one within two edits of an AWS
 * label is taken for a typo of it.
 */
function checkStage(stage: string, index: number): void {
  if ((DEFAULT_SECRET_STAGES as readonly string[]).includes(stage)) return;
  const meant = suggest(stage, DEFAULT_SECRET_STAGES, 2);
  if (meant === undefined) return;
  throw new InvalidOptionError(
    `secretStages[${index}]`,
    `is ${describe(stage)}, not a staging label Secrets Manager sets (labels are case-sensitive). Did you mean \`${meant}\`?`,
  );
}
