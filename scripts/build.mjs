// Builds every publishable package twice (ESM and CommonJS) with tsc, in dependency order.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['core', 'express', 'fastify', 'nestjs', 'rotation', 'audit'];
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

for (const name of packages) {
  const dir = join(root, 'packages', name);
  if (!existsSync(join(dir, 'src', 'index.ts'))) continue;
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  if (process.argv.includes('--clean')) continue;
  for (const flavour of ['esm', 'cjs']) {
    execFileSync(process.execPath, [tsc, '-p', join(dir, `tsconfig.${flavour}.json`)], {
      stdio: 'inherit',
    });
  }
  mkdirSync(join(dir, 'dist', 'cjs'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
  console.log(`built @cdn-origin-guard/${name} (esm + cjs)`);
}
