/**
 * Nest 10 and 11 in the test matrix (issue 10; Nest 10 added with issue 12's platform check):
 * the packed @cdn-origin-guard/core and @cdn-origin-guard/nestjs installed next to
 * @nestjs/*@<major> from the npm registry, without `--legacy-peer-deps` (so the peer range
 * `^10 || ^11 || ^12` is proved too), then a small CommonJS app started on 127.0.0.1 and asked
 * over real HTTP. The repository itself runs Nest 12, which the rest of the suite covers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NPM_INSTALL } from './npm.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'NestMajor-Origin-Verify-Value-0123456789abcdef';
let scratch: string;
let tarballs: string;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A CommonJS Nest app written without a compiler: decorators applied by hand. */
const APP = `
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { CdnOriginGuardModule, SkipOriginGuard } = require('@cdn-origin-guard/nestjs');

class AppController {
  admin() { return 'guarded'; }
  open() { return 'open'; }
}
const method = (name, ...decorators) => {
  const descriptor = Object.getOwnPropertyDescriptor(AppController.prototype, name);
  for (const decorate of decorators) decorate(AppController.prototype, name, descriptor);
};
method('admin', Get('admin'));
method('open', Get('open'), SkipOriginGuard());
Controller()(AppController);

// No @SkipOriginGuard() route: the module's check is then an Express app.use function.
class HookController {
  admin() { return 'guarded'; }
}
Get('admin')(HookController.prototype, 'admin', Object.getOwnPropertyDescriptor(HookController.prototype, 'admin'));
Controller()(HookController);

const guardModule = () => CdnOriginGuardModule.forRoot({
  secret: ['${SECRET}'],
  ranges: ['130.176.0.0/17'],
  excludePaths: [/\\.css$/],
  logLevel: 'silent',
});
class AppModule {}
Module({ imports: [guardModule()], controllers: [AppController] })(AppModule);
class HookModule {}
Module({ imports: [guardModule()], controllers: [HookController] })(HookModule);

const ours = {
  'x-forwarded-for': '198.51.100.23, 130.176.12.34',
  'x-amz-cf-id': 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==',
  'x-origin-verify': '${SECRET}',
};
const bot = { 'x-forwarded-for': '203.0.113.9' };

(async () => {
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const status = async (path, headers) =>
    (await fetch('http://127.0.0.1:' + port + path, { headers })).status;
  const net = require('node:net');
  const raw = (target) => new Promise((resolve) => {
    const chunks = [];
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.end('GET ' + target + ' HTTP/1.1\\r\\nHost: h\\r\\nConnection: close\\r\\nX-Forwarded-For: 203.0.113.9\\r\\n\\r\\n'));
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1').split('\\r\\n', 1)[0]));
  });
  const result = {
    nest: require('@nestjs/core/package.json').version,
    ours: await status('/admin', ours),
    bot: await status('/admin', bot),
    unknown: await status('/.env', bot),
    skipped: await status('/open', bot),
    fragment: await raw('/admin#.css'),
  };
  await app.close();
  const hookApp = await NestFactory.create(HookModule, { logger: false });
  await hookApp.listen(0, '127.0.0.1');
  const hookPort = hookApp.getHttpServer().address().port;
  const hookStatus = async (path, headers) =>
    (await fetch('http://127.0.0.1:' + hookPort + path, { headers })).status;
  const express = hookApp.getHttpAdapter().getInstance();
  result.hook = {
    onPlatform: (express._router ?? express.router).stack.some((l) => l.name === 'cdnOriginGuardAllPaths'),
    ours: await hookStatus('/admin', ours),
    bot: await hookStatus('/admin', bot),
    unknown: await hookStatus('/.env', bot),
    oursUnknown: await hookStatus('/.env', ours),
  };
  await hookApp.close();
  console.log(JSON.stringify(result));
})().catch((error) => { console.error(error); process.exit(1); });
`;

beforeAll(() => {
  if (!existsSync(join(root, 'packages', 'nestjs', 'dist', 'cjs', 'index.js')))
    run(process.execPath, [join(root, 'scripts', 'build.mjs')], root);
  scratch = mkdtempSync(join(tmpdir(), 'cdn-origin-guard-nest-majors-'));
  tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs);
  run(
    'npm',
    [
      'pack',
      '--silent',
      '--pack-destination',
      tarballs,
      '--workspace',
      'packages/core',
      '--workspace',
      'packages/nestjs',
    ],
    root,
  );
}, 120_000);

/**
 * A scratch app with @nestjs/*@<major> and the packed tarballs installed. Nest 10 gets
 * reflect-metadata 0.1 (Nest 10 and 11 accept `^0.1.12 || ^0.2.0`, and many Nest 10 apps still
 * have 0.1: outside review, 4 December, found the adapter's peer range refusing them).
 */
function installApp(major: number): string {
  const app = join(scratch, `nest${major}`);
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: `nest${major}-app`, private: true }),
  );
  writeFileSync(join(app, 'main.cjs'), APP);
  run(
    'npm',
    [
      ...NPM_INSTALL,
      `@nestjs/common@^${major}`,
      `@nestjs/core@^${major}`,
      `@nestjs/platform-express@^${major}`,
      major === 10 ? 'reflect-metadata@~0.1.13' : 'reflect-metadata@^0.2',
      'rxjs@^7',
      ...readdirSync(tarballs).map((f) => join(tarballs, f)),
    ],
    app,
  );
  return app;
}

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe.each([10, 11])('the packed Nest adapter on Nest %i (Express platform)', (major) => {
  let result: {
    nest: string;
    ours: number;
    bot: number;
    unknown: number;
    skipped: number;
    fragment: string;
    hook: Record<string, unknown>;
  };
  beforeAll(() => {
    const app = installApp(major);
    const output = run(process.execPath, ['main.cjs'], app);
    result = JSON.parse(output.trim().split('\n').pop()!);
  }, 240_000);

  it('guards by default, denies unknown paths alike, honours @SkipOriginGuard() and cuts fragments', () => {
    expect(result.nest).toMatch(new RegExp(`^${major}\\.`));
    expect(result).toMatchObject({ ours: 200, bot: 403, unknown: 403, skipped: 200 });
    expect(result.fragment).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('runs the all-paths check as an Express app.use function when no route is skipped', () => {
    expect(result.hook).toEqual({
      onPlatform: true,
      ours: 200,
      bot: 403,
      unknown: 403,
      oursUnknown: 404,
    });
  });
});
