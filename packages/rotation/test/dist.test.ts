/**
 * The published builds: the ESM and the CommonJS output both load (with their SDK clients and
 * the core) and export the same working API; `handler` is there for Lambda's `index.handler`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dist = join(root, 'packages', 'rotation', 'dist');

beforeAll(() => {
  if (!existsSync(join(dist, 'cjs', 'index.js')) || !existsSync(join(dist, 'esm', 'index.js')))
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
}, 240_000);

type Api = typeof import('@cdn-origin-guard/rotation');

function check(api: Api): void {
  expect(typeof api.createRotationHandler).toBe('function');
  expect(typeof api.handler).toBe('function');
  expect(api.ROTATION_STEPS).toEqual(['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
  expect(api.generateSecretValue(64, 'abcdefghijklmnopqrstuvwxyz0123456789')).toMatch(
    /^[a-z0-9]{64}$/,
  );
  expect(() => api.createRotationHandler({})).toThrow(/rotation\.distributionIds/);
}

describe('@cdn-origin-guard/rotation builds', () => {
  it('the ESM build loads and works', async () => {
    check((await import(pathToFileURL(join(dist, 'esm', 'index.js')).href)) as Api);
  });

  it('the CommonJS build loads and works', () => {
    check(createRequire(import.meta.url)(join(dist, 'cjs', 'index.js')) as Api);
  });
});
