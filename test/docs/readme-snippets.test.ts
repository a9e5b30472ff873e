/**
 * The READMEs' TypeScript snippets compile as written: every ```ts block of the root README and
 * of each package README is type-checked with tsc (strict, NodeNext) against the workspace
 * packages' sources, as an ES module; a snippet that uses the Express adapter is also checked
 * as a CommonJS module (the same imports, which tsc turns into `require`, with the body inside
 * an async function since CommonJS has no top-level await) against the built CommonJS
 * declarations (`dist/cjs`, through the package's `exports`), as a CommonJS app would see them.
 *
 * A block that is deliberately a fragment is marked on the line before its fence with
 * `<!-- snippet: no-check (why) -->`; keep those rare.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = ['core', 'express', 'fastify', 'nestjs', 'rotation', 'audit'];
const NO_CHECK = /<!--\s*snippet:\s*no-check\b[^>]*-->/;

interface Snippet {
  /** Where the fence opens, e.g. `packages/core/README.md:12`. */
  where: string;
  /** The file tsc checks, relative to the scratch folder. */
  file: string;
  code: string;
}

/** Every ```ts / ```typescript block of one Markdown file that is not marked no-check. */
function extract(readme: string): { where: string; code: string }[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const blocks: { where: string; code: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,})\s*(ts|typescript)\s*$/.exec(lines[i] ?? '');
    if (!fence) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').trim().startsWith(fence[2]!); i++)
      body.push(lines[i]!.slice(fence[1]!.length));
    let before = start - 1;
    while (before >= 0 && (lines[before] ?? '').trim() === '') before--;
    if (NO_CHECK.test(lines[before] ?? '')) continue;
    blocks.push({ where: `${readme}:${start + 1}`, code: body.join('\n') });
  }
  return blocks;
}

/** The CommonJS form of an ES-module snippet: imports stay on top, the rest runs in a function. */
function asCommonJs(code: string): string {
  const imports = code.match(/^import\s[^;]*;/gm) ?? [];
  const rest = imports.reduce((text, statement) => text.replace(statement, ''), code);
  return `${imports.join('\n')}\nexport async function main(): Promise<void> {\n${rest}\n}\n`;
}

const readmes = ['README.md', ...PACKAGES.map((p) => `packages/${p}/README.md`)].filter((f) =>
  existsSync(join(root, f)),
);
const snippets: Snippet[] = readmes.flatMap((readme) =>
  extract(readme).flatMap(({ where, code }, n) => {
    const base = `${readme.replace(/\W+/g, '_')}_${n + 1}`;
    // A snippet is its own module even when it imports nothing.
    const esm = { where: `${where} (ESM)`, file: `${base}.mts`, code: `${code}\nexport {};\n` };
    if (!code.includes("'@cdn-origin-guard/express'")) return [esm];
    return [esm, { where: `${where} (CommonJS)`, file: `${base}.cts`, code: asCommonJs(code) }];
  }),
);

let scratch: string;
let errors = '';

beforeAll(() => {
  if (!existsSync(join(root, 'packages', 'express', 'dist', 'cjs', 'index.d.ts')))
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root });
  // Inside node_modules, so 'express', '@nestjs/common' and @types resolve from the root install.
  mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
  scratch = mkdtempSync(join(root, 'node_modules', '.cache', 'readme-snippets-'));
  for (const s of snippets) writeFileSync(join(scratch, s.file), s.code);
  const paths = Object.fromEntries(
    PACKAGES.map((p) => [`@cdn-origin-guard/${p}`, [`packages/${p}/src/index.ts`]]),
  );
  const base = {
    extends: relative(scratch, join(root, 'tsconfig.base.json')),
    compilerOptions: {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      noEmit: true,
      declaration: false,
      declarationMap: false,
    },
  };
  const projects = {
    // ES modules against the sources, as the repository's own typecheck resolves them.
    'tsconfig.esm.json': {
      ...base,
      compilerOptions: { ...base.compilerOptions, baseUrl: relative(scratch, root), paths },
      files: snippets.filter((s) => s.file.endsWith('.mts')).map((s) => s.file),
    },
    // CommonJS through node_modules/@cdn-origin-guard/* and the `require` export condition.
    'tsconfig.cjs.json': {
      ...base,
      files: snippets.filter((s) => s.file.endsWith('.cts')).map((s) => s.file),
    },
  };
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [name, project] of Object.entries(projects)) {
    writeFileSync(join(scratch, name), JSON.stringify(project));
    try {
      execFileSync(process.execPath, [tsc, '-p', join(scratch, name), '--pretty', 'false'], {
        cwd: scratch,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      errors += String((error as { stdout?: string }).stdout ?? error);
    }
  }
}, 180_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('README snippets', () => {
  it('finds the snippets of the root README and of every adapter README', () => {
    for (const readme of [
      'README.md',
      ...['core', 'express', 'fastify', 'nestjs'].map((p) => `packages/${p}/README.md`),
    ])
      expect(
        snippets.some((s) => s.where.startsWith(`${readme}:`)),
        readme,
      ).toBe(true);
    expect(snippets.some((s) => s.file.endsWith('.cts'))).toBe(true);
  });

  it.each(snippets.map((s) => [s.where, s] as const))('%s type-checks', (_, snippet) => {
    const own = errors
      .split('\n')
      .filter((line) => line.startsWith(`${snippet.file}(`) || line.includes(`/${snippet.file}(`));
    expect(own, `${snippet.where}\n${snippet.code}`).toEqual([]);
  });

  it('has no type errors outside the snippets themselves', () => {
    const elsewhere = errors
      .split('\n')
      .filter((line) => /error TS\d+/.test(line))
      .filter((line) => !snippets.some((s) => line.includes(`${s.file}(`)));
    expect(elsewhere).toEqual([]);
  });
});
