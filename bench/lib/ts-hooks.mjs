/**
 * Module hooks that run the benchmark's TypeScript the way the packages ship it: each `.ts`
 * file is transpiled with TypeScript's own `transpileModule` and the build's compiler options
 * (target ES2022, decorators with metadata), so the JavaScript measured is what `tsc` emits into
 * dist. tsx is not used for measured code because its esbuild transform keeps function names
 * (`keepNames`), wrapping every closure created per call in an `Object.defineProperty` call that
 * the published build does not have.
 *
 * Also maps `@cdn-origin-guard/*` to `packages/*\/src/index.ts` (as tsconfig.json's `paths` do)
 * and `./x.js` imports from a `.ts` file to `./x.ts`. Registered by `register.mjs`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../../', import.meta.url);
const PACKAGES = ['core', 'express', 'fastify', 'nestjs'];
/**
 * For before/after experiments only: a directory (relative to the repository root) holding a
 * modified copy of packages/core/src, used for `@cdn-origin-guard/core` instead.
 */
const CORE_DIR = process.env.BENCH_CORE_DIR;

const COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'ESNext',
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
  isolatedModules: true,
  inlineSourceMap: true,
};
/** Transpiled files, by hash of source, path and options (bench/.tmp is git-ignored). */
const CACHE = new URL('bench/.tmp/ts-cache/', ROOT);

/** TypeScript, loaded on the first cache miss only (it takes a while to load). */
let typescript;
async function transpile(source, fileName) {
  typescript ??= (await import('typescript')).default;
  const ts = typescript;
  const options = {
    ...COMPILER_OPTIONS,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
  };
  return ts.transpileModule(source, { compilerOptions: options, fileName }).outputText;
}

export async function resolve(specifier, context, nextResolve) {
  const scoped = /^@cdn-origin-guard\/([a-z]+)$/.exec(specifier);
  if (scoped && PACKAGES.includes(scoped[1])) {
    if (scoped[1] === 'core' && CORE_DIR)
      return {
        url: new URL(`${CORE_DIR.replace(/\/?$/, '/')}index.ts`, ROOT).href,
        shortCircuit: true,
      };
    const url = new URL(`packages/${scoped[1]}/src/index.ts`, ROOT);
    if (existsSync(url)) return { url: url.href, shortCircuit: true };
  }
  const parent = context.parentURL;
  if (
    parent?.endsWith('.ts') &&
    (specifier.startsWith('./') || specifier.startsWith('../')) &&
    specifier.endsWith('.js')
  ) {
    const url = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (existsSync(url)) return { url: url.href, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.ts') && !url.endsWith('.d.ts')) {
    const fileName = fileURLToPath(url);
    const source = await readFile(fileName, 'utf8');
    const key = createHash('sha256')
      .update(`${JSON.stringify(COMPILER_OPTIONS)}\0${fileName}\0${source}`)
      .digest('hex');
    const cached = new URL(`${key}.js`, CACHE);
    let output;
    try {
      output = await readFile(cached, 'utf8');
    } catch {
      output = await transpile(source, fileName);
      await mkdir(CACHE, { recursive: true });
      // Written whole, then renamed: a process reading the cache never sees half a file.
      const partial = new URL(`${key}.${process.pid}.tmp`, CACHE);
      await writeFile(partial, output);
      await rename(partial, cached);
    }
    return { format: 'module', source: output, shortCircuit: true };
  }
  return nextLoad(url, context);
}
