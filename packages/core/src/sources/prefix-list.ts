// PLACEHOLDER written by the lead so other work can compile; the AWS-sources helper replaces this file entirely.
import type { RangeSource } from './types.js';
export interface PrefixListSourceOptions { readonly names?: readonly string[]; readonly ipv6?: boolean; readonly client?: unknown; readonly region?: string | undefined; readonly timeoutMs?: number }
export function prefixListSource(_options: PrefixListSourceOptions = {}): RangeSource {
  return { name: 'prefix-list', load: async () => { throw new Error('not implemented'); } };
}
