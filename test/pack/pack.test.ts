/**
 * Consumer check: pack every publishable package with `npm pack`, install the tarballs into a
 * scratch project, and import them with `import` (ESM) and `require` (CommonJS), then
 * typecheck a consumer file in both module systems.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packages = ['core', 'express', 'fastify', 'nestjs'].filter((p) =>
  existsSync(join(root, 'packages', p, 'src', 'index.ts')),
);
const SECRET = 'Pack-Test-Origin-Verify-Value-0123456789';
let scratch: string;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(() => {
  if (packages.some((p) => !existsSync(join(root, 'packages', p, 'dist', 'cjs', 'index.js'))))
    run(process.execPath, [join(root, 'scripts', 'build.mjs')], root);
  scratch = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-pack-'));
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  run(
    'npm',
    [
      'pack',
      '--silent',
      '--pack-destination',
      tarballs,
      ...packages.flatMap((p) => ['--workspace', `packages/${p}`]),
    ],
    root,
  );
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  // Install the tarballs and their own dependencies; the frameworks (peer dependencies) are
  // linked from the root install, as an app that already has them would provide them.
  run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--legacy-peer-deps',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...files,
    ],
    app,
  );
  for (const peer of ['@nestjs', 'reflect-metadata', 'rxjs', 'express', 'fastify', 'tslib']) {
    const target = join(app, 'node_modules', peer);
    if (!existsSync(target)) symlinkSync(join(root, 'node_modules', peer), target);
  }
}, 240_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const usage = (load: string) => `
  ${load}
  const v = core.createOriginVerifier({ secret: '${SECRET}', ranges: ['130.176.0.0/17'] });
  const d = v.verify({ remoteAddress: '10.0.0.1', headers: {
    'x-forwarded-for': '198.51.100.1, 130.176.1.2',
    'x-amz-cf-id': 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
    'x-origin-verify': '${SECRET}' } });
  const adapters = { express: typeof express.cdnOriginGuard, fastify: typeof fastify.cdnOriginGuard, nestjs: typeof (nestjs && nestjs.CdnOriginGuardModule) };
  const guardError = core.isOriginGuardError(new core.NotReadyError('x')) && !core.isOriginGuardError(new Error('x'));
  console.log(JSON.stringify({ reason: d.reason, edge: d.edgeAddress, adapters, guardError }));
`;

describe('packed tarballs in a scratch project', () => {
  it('import (ESM) resolves every package to working code', () => {
    const script = usage(`
      const core = await import('@cdn-origin-guard/core');
      const express = await import('@cdn-origin-guard/express');
      const fastify = await import('@cdn-origin-guard/fastify');
      const nestjs = ${packages.includes('nestjs') ? "await import('@cdn-origin-guard/nestjs')" : 'null'};
      if (!import.meta.resolve('@cdn-origin-guard/core').includes('/dist/esm/')) throw new Error('not the ESM build');
    `);
    const out = JSON.parse(
      run(process.execPath, ['--input-type=module', '-e', script], join(scratch, 'app')),
    );
    expect(out.reason).toBe('verified');
    expect(out.edge).toBe('130.176.1.2');
    expect(out.guardError).toBe(true);
    expect(out.adapters.express).toBe('function');
    expect(out.adapters.fastify).toBe('function');
    if (packages.includes('nestjs')) expect(out.adapters.nestjs).toBe('function');
  }, 60_000);

  it('require (CommonJS) resolves every package to the CommonJS build', () => {
    const script = usage(`
      const core = require('@cdn-origin-guard/core');
      const express = require('@cdn-origin-guard/express');
      const fastify = require('@cdn-origin-guard/fastify');
      const nestjs = ${packages.includes('nestjs') ? "require('@cdn-origin-guard/nestjs')" : 'null'};
      if (!require.resolve('@cdn-origin-guard/core').includes('/dist/cjs/')) throw new Error('not the CJS build');
    `);
    const out = JSON.parse(
      run(
        process.execPath,
        ['--no-warnings', '--input-type=commonjs', '-e', script],
        join(scratch, 'app'),
      ),
    );
    expect(out.reason).toBe('verified');
    expect(out.guardError).toBe(true);
    expect(out.adapters.express).toBe('function');
    expect(out.adapters.fastify).toBe('function');
  }, 60_000);

  it('ships type declarations that typecheck from ESM and CommonJS consumers', () => {
    const app = join(scratch, 'app');
    // The scratch app has no @aws-sdk/* package: the public types must not need one.
    expect(existsSync(join(app, 'node_modules', '@aws-sdk'))).toBe(false);
    const body = `
      const v = createOriginVerifier({ secret: '${SECRET}', ranges: ['130.176.0.0/17'] });
      const d = v.verify({ remoteAddress: '10.0.0.1', headers: {} });
      if (d.allowed && d.reason === 'verified') { const edge: string = d.edgeAddress; void edge; }
      if (!d.allowed) { const r: import('@cdn-origin-guard/core').DenyReason = d.reason; void r; }
      if (!d.allowed) { const hop: string | undefined = d.offendingHop; const n: number = d.proxyHops; void hop; void n; }
      // Options with SDK clients type-check structurally, and base options compose with env.
      const client: AwsSdkClient = { send: async () => ({}) };
      const overrides: BaseGuardOptions = { proxyHops: 2, ec2Client: client, ranges: 'prefix-list' };
      const fromEnv = createOriginVerifier({ ...optionsFromEnv({ CDN_ORIGIN_GUARD_SECRET_ID: 'x' }), ...overrides });
      const withSecretsManager = createOriginVerifier({ secretId: 'prod/x', secretsManagerClient: client });
      const off = fromEnv.onSourceEvent((e: SourceEvent) => { if (e.type === 'failing') void e.error.message; });
      off(); void withSecretsManager;
    `;
    const imports =
      "import { type AwsSdkClient, type BaseGuardOptions, createOriginVerifier, optionsFromEnv, type SourceEvent } from '@cdn-origin-guard/core';";
    writeFileSync(join(app, 'esm.mts'), `${imports}\n${body}`);
    writeFileSync(join(app, 'cjs.cts'), `${imports}\n${body}`);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          // Every published .d.ts is checked, with no optional peer installed.
          skipLibCheck: false,
          types: [],
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    let output = '';
    try {
      run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], app);
    } catch (error) {
      output = String((error as { stdout?: unknown }).stdout ?? error);
    }
    expect(output).toBe('');
  }, 60_000);

  it.each([
    [
      'secretId',
      "{ secretId: 'prod/x', ranges: ['130.176.0.0/17'] }",
      '@aws-sdk/client-secrets-manager',
    ],
    ['prefix-list', `{ secret: '${SECRET}', ranges: 'prefix-list' }`, '@aws-sdk/client-ec2'],
  ])(
    'a missing optional peer for %s is an error at construction, in ESM and CommonJS',
    (_, options, pkg) => {
      const app = join(scratch, 'app');
      const attempt = `
      let message = 'constructed';
      try { core.createOriginVerifier(${options}); } catch (e) { message = e.name + ': ' + e.message; }
      // A client passed in needs no SDK package.
      const withClient = core.createOriginVerifier({ ...${options}, ${pkg.endsWith('ec2') ? 'ec2Client' : 'secretsManagerClient'}: { send: async () => ({}) } });
      console.log(JSON.stringify({ message, withClient: typeof withClient.verify }));
    `;
      const esm = JSON.parse(
        run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const core = await import('@cdn-origin-guard/core');${attempt}`,
          ],
          app,
        ),
      );
      const cjs = JSON.parse(
        run(
          process.execPath,
          [
            '--input-type=commonjs',
            '-e',
            `const core = require('@cdn-origin-guard/core');${attempt}`,
          ],
          app,
        ),
      );
      for (const out of [esm, cjs]) {
        expect(out.message).toMatch(/^InvalidOptionError: /);
        expect(out.message).toContain(
          `needs the optional peer dependency ${pkg}, which is not installed`,
        );
        expect(out.message).toContain(`\`npm install ${pkg}\``);
        expect(out.withClient).toBe('function');
      }
    },
    60_000,
  );
});

describe('every tarball is complete for the registry', () => {
  // Every publishable package, including the AWS-side ones (rotation, audit).
  const publishable = ['core', 'express', 'fastify', 'nestjs', 'rotation', 'audit'].filter((p) =>
    existsSync(join(root, 'packages', p, 'src', 'index.ts')),
  );

  it('ships LICENSE, repository/homepage/license/bugs, and no source map pointing outside it', () => {
    const out = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-contents-'));
    try {
      for (const name of publishable) {
        if (!existsSync(join(root, 'packages', name, 'dist', 'esm', 'index.js')))
          run(process.execPath, [join(root, 'scripts', 'build.mjs')], root);
        const [packed] = JSON.parse(
          run(
            'npm',
            ['pack', '--json', '--pack-destination', out, '--workspace', `packages/${name}`],
            root,
          ),
        ) as { filename: string }[];
        const dir = join(out, name);
        mkdirSync(dir);
        run(
          'tar',
          ['-xzf', join(out, packed!.filename.replace(/^@/, '').replace('/', '-')), '-C', dir],
          out,
        );
        const pkg = join(dir, 'package');

        expect(readFileSync(join(pkg, 'LICENSE'), 'utf8'), name).toBe(
          readFileSync(join(root, 'LICENSE'), 'utf8'),
        );
        const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
        expect(manifest.license, name).toBe('MIT');
        expect(manifest.repository, name).toMatchObject({
          type: 'git',
          url: expect.stringMatching(/^git\+https:\/\/github\.com\/.+\.git$/),
          directory: `packages/${name}`,
        });
        expect(manifest.homepage, name).toMatch(/^https:\/\//);
        expect(manifest.bugs?.url, name).toMatch(/^https:\/\//);

        // A source map either resolves every source inside the tarball or is not shipped.
        const maps = listFiles(pkg).filter((f) => f.endsWith('.map'));
        for (const map of maps) {
          const { sources, sourceRoot } = JSON.parse(readFileSync(map, 'utf8')) as {
            sources: string[];
            sourceRoot?: string;
          };
          for (const source of sources) {
            const target = resolve(dirname(map), sourceRoot ?? '', source);
            expect(target.startsWith(pkg + sep) && existsSync(target), `${map} -> ${source}`).toBe(
              true,
            );
          }
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}
