import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) =>
  fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@cdn-origin-guard/core': src('core'),
      '@cdn-origin-guard/express': src('express'),
      '@cdn-origin-guard/fastify': src('fastify'),
      '@cdn-origin-guard/nestjs': src('nestjs'),
      '@cdn-origin-guard/rotation': src('rotation'),
      '@cdn-origin-guard/audit': src('audit'),
    },
  },
  test: {
    // CI asks for a JSON report through the environment, so `npm test` stays the one command.
    reporters: process.env.VITEST_JSON_REPORT
      ? ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT }]]
      : ['default'],
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one fork per core minus one: a single fork on CI's 2-core machine,
    // where the files then run one after another (Node 20: 261 s). Most of the suite waits on
    // sockets, child processes and timers rather than the CPU, so one fork per core halves
    // that (164 s); the timing test's interleaved pairs keep their power under the contention.
    maxWorkers: Math.max(2, availableParallelism()),
    typecheck: {
      enabled: true,
      include: ['packages/*/test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
});
