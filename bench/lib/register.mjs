/**
 * `node --import ./bench/lib/register.mjs file.ts`: run TypeScript as `tsc` compiles it (see
 * ts-hooks.mjs). Used for every measured child process of the benchmark.
 */
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
globalThis.__benchTranspiler = 'tsc';
