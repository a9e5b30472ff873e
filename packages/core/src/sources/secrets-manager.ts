// PLACEHOLDER written by the lead so other work can compile; the AWS-sources helper replaces this file entirely.
import type { SecretSource } from './types.js';
export interface SecretsManagerSourceOptions { readonly secretId: string; readonly jsonKey?: string | undefined; readonly stages?: readonly string[]; readonly client?: unknown; readonly region?: string | undefined; readonly timeoutMs?: number }
export function secretsManagerSource(options: SecretsManagerSourceOptions): SecretSource {
  return { name: `secrets-manager:${options.secretId}`, load: async () => { throw new Error('not implemented'); } };
}
