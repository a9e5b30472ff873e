import 'reflect-metadata';
import { type Decision, NotReadyError, type SecretSource } from '@cdn-origin-guard/core';
import { CdnOriginGuard, CdnOriginGuardModule, SkipOriginGuard } from '@cdn-origin-guard/nestjs';
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  Module,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { afterEach, describe, expect, it } from 'vitest';
import { decisionRecording } from '../../core/src/request/record.js';
import {
  AppController,
  BASE_OPTIONS,
  CF_ID,
  CONTROLLERS,
  create,
  PLATFORMS,
  type Reply,
  RequiredController,
  SECRET,
  type Started,
  send,
  start,
  THROUGH_CLOUDFRONT,
  WRONG_SECRET,
} from './fixtures.js';

/** Requests that must be denied, and the reason the guard gives (server side only). */
const ATTACKS: [string, Record<string, string>, Decision['reason']][] = [
  ['a bot hitting the ALB directly', { 'x-forwarded-for': '203.0.113.9' }, 'edge-not-cloudfront'],
  [
    'another CloudFront distribution without our secret',
    { 'x-forwarded-for': '198.51.100.23, 130.176.12.34', 'x-amz-cf-id': CF_ID },
    'missing-secret',
  ],
  [
    'another CloudFront distribution with a wrong secret',
    { ...THROUGH_CLOUDFRONT, 'x-origin-verify': WRONG_SECRET },
    'invalid-secret',
  ],
  [
    'a forged X-Forwarded-For whose right-most hop is not CloudFront',
    { ...THROUGH_CLOUDFRONT, 'x-forwarded-for': '130.176.12.34, 203.0.113.9' },
    'edge-not-cloudfront',
  ],
];

/** A ConfigService look-alike, to show `forRootAsync` with `inject`. */
@Injectable()
class FakeConfigService {
  private readonly values: Record<string, string> = {
    ORIGIN_SECRET: SECRET,
    ORIGIN_RANGES: '130.176.0.0/17,2600:9000:eee::/48',
  };
  getOrThrow(key: string): string {
    const value = this.values[key];
    if (value === undefined) throw new Error(`${key} is not set`);
    return value;
  }
}

@Module({ providers: [FakeConfigService], exports: [FakeConfigService] })
class FakeConfigModule {}

/** A catch-all filter that tries to replace every error response with its own JSON. */
@Catch()
class RewritingFilter implements ExceptionFilter {
  catch(_error: unknown, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse();
    if (typeof res.json === 'function') res.status(500).json({ rewritten: true });
    else res.status(500).send({ rewritten: true });
  }
}

const failingSource: SecretSource = {
  name: 'down',
  load: async () => {
    throw new Error('x');
  },
};

function expectUniformDeny(reply: Reply, started: Started, method = 'GET') {
  const deny = started.verifier.denyResponse;
  expect(reply.status).toBe(deny.status);
  expect(reply.body).toBe(method === 'HEAD' ? '' : deny.body);
  for (const [name, value] of Object.entries(deny.headers))
    expect(reply.headers.get(name), name).toBe(value);
}

describe.each(PLATFORMS)('CdnOriginGuard on the %s platform', (_platform, adapter) => {
  const apps: INestApplication[] = [];
  const boot = async (
    ...args: Parameters<typeof start> extends [unknown, ...infer R] ? R : never
  ) => {
    const started = await start(adapter, ...args);
    apps.push(started.app);
    return started;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  function globalApp(extra: Record<string, unknown> = {}, decisions: Decision[] = []) {
    return boot({
      imports: [
        CdnOriginGuardModule.forRoot({
          ...BASE_OPTIONS,
          onDecision: (d) => decisions.push(d),
          applyGlobally: true,
          ...extra,
        }),
      ],
      controllers: CONTROLLERS,
    });
  }

  describe('the attack table', () => {
    it.each(ATTACKS)('denies %s', async (_name, headers, reason) => {
      const decisions: Decision[] = [];
      const started = await globalApp({}, decisions);

      const reply = await send(started.url, '/', headers);

      expectUniformDeny(reply, started);
      expect(decisions.map((d) => d.reason)).toEqual([reason]);
    });

    it('lets a request through our CloudFront distribution in', async () => {
      const started = await globalApp();

      const reply = await send(started.url, '/', THROUGH_CLOUDFRONT);

      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ ok: true });
    });
  });

  describe('the deny response', () => {
    it('is the same for every reason and equals verifier.denyResponse', async () => {
      const started = await globalApp();
      const requests = [{}, ...ATTACKS.map(([, headers]) => headers)];

      const replies = await Promise.all(requests.map((h) => send(started.url, '/open', h)));

      for (const reply of replies) expectUniformDeny(reply, started);
      const shapes = replies.map((r) => [r.status, r.body, r.headers.get('content-type')]);
      expect(new Set(shapes.map((s) => JSON.stringify(s))).size).toBe(1);
    });

    it('keeps a custom JSON deny response even under a catch-all exception filter', async () => {
      const started = await boot({
        imports: [
          CdnOriginGuardModule.forRoot({
            ...BASE_OPTIONS,
            denyResponse: { status: 404, body: { message: 'Not Found' } },
            applyGlobally: true,
          }),
        ],
        controllers: CONTROLLERS,
        providers: [{ provide: APP_FILTER, useClass: RewritingFilter }],
      });

      const first = await send(started.url, '/', { 'x-forwarded-for': '203.0.113.9' });
      const second = await send(started.url, '/', { ...THROUGH_CLOUDFRONT, 'x-origin-verify': '' });

      for (const reply of [first, second]) {
        expectUniformDeny(reply, started);
        expect(JSON.parse(reply.body)).toEqual({ message: 'Not Found' });
      }
      expect(started.verifier.denyResponse.headers['content-type']).toMatch(/^application\/json/);
    });

    it('answers a denied HEAD request with the deny status and headers, and no body', async () => {
      const started = await globalApp();

      const denied = await send(started.url, '/', {}, 'HEAD');
      const allowed = await send(started.url, '/', THROUGH_CLOUDFRONT, 'HEAD');

      expectUniformDeny(denied, started, 'HEAD');
      expect(allowed.status).toBe(200);
    });
  });

  describe('where the guard applies', () => {
    it('guards every route when applyGlobally is true', async () => {
      const started = await globalApp();

      expect((await send(started.url, '/open')).status).toBe(403);
      expect((await send(started.url, '/open', THROUGH_CLOUDFRONT)).status).toBe(200);
    });

    it('guards every route by default: forRoot(options) alone', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
        controllers: CONTROLLERS,
      });

      expect((await send(started.url, '/open')).status).toBe(403);
      expect((await send(started.url, '/')).status).toBe(403);
      expect((await send(started.url, '/open', THROUGH_CLOUDFRONT)).status).toBe(200);
      expect((await send(started.url, '/skipped')).status).toBe(200);
    });

    it('answers an unknown path exactly as a guarded one, so a bot cannot enumerate routes', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
        controllers: CONTROLLERS,
      });
      const bot = { 'x-forwarded-for': '203.0.113.9' };

      const replies = await Promise.all(
        ['/.env', '/', '/open', '/no/such/route', '/wp-admin/setup.php'].map((path) =>
          send(started.url, path, bot),
        ),
      );
      const post = await send(started.url, '/.env', bot, 'POST');

      const shapes = [...replies, post].map((r) => {
        const headers = Object.fromEntries(r.headers);
        delete headers.date;
        return JSON.stringify({ status: r.status, body: r.body, headers });
      });
      expect(new Set(shapes).size).toBe(1);
      expectUniformDeny(replies[0]!, started);
      expect(started.logger.text()).not.toMatch(/Cannot GET/);
    });

    it('lets our CloudFront reach an unknown path and get the framework 404', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
        controllers: CONTROLLERS,
      });

      const reply = await send(started.url, '/.env', THROUGH_CLOUDFRONT);

      expect(reply.status).toBe(404);
    });

    it('warns at bootstrap when the guard is registered nowhere', async () => {
      const nowhere = await boot({
        imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: false })],
        controllers: [AppController],
      });
      const required = await boot({
        imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: false })],
        controllers: [RequiredController],
      });
      const appGuard = await boot({
        imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: false })],
        controllers: [AppController],
        providers: [{ provide: APP_GUARD, useClass: CdnOriginGuard }],
      });

      const warning = /registered nowhere/;
      expect(nowhere.logger.lines).toContainEqual(
        expect.objectContaining({ level: 'warn', message: expect.stringMatching(warning) }),
      );
      expect(required.logger.text()).not.toMatch(warning);
      expect(appGuard.logger.text()).not.toMatch(warning);
    });

    it('guards every route when the app provides it as APP_GUARD', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
        controllers: CONTROLLERS,
        providers: [{ provide: APP_GUARD, useClass: CdnOriginGuard }],
      });

      expect((await send(started.url, '/open')).status).toBe(403);
      expect((await send(started.url, '/open', THROUGH_CLOUDFRONT)).status).toBe(200);
    });

    it('guards only @RequireOriginGuard() controllers with applyGlobally: false', async () => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: false })],
        controllers: CONTROLLERS,
      });

      expect((await send(started.url, '/open')).status).toBe(200);
      expect((await send(started.url, '/required')).status).toBe(403);
      expect((await send(started.url, '/required', THROUGH_CLOUDFRONT)).status).toBe(200);
    });

    it('skips a @SkipOriginGuard() handler under a global guard', async () => {
      const started = await globalApp();

      const reply = await send(started.url, '/skipped', { 'x-forwarded-for': '203.0.113.9' });

      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ skipped: true });
    });

    it('reads @SkipOriginGuard() per controller for a handler two controllers inherit', async () => {
      // One handler function on two routes: the rule depends on the class, not the function.
      class PageBase {
        @Get()
        page() {
          return { page: true };
        }
      }
      @Controller('guarded-page')
      class GuardedPage extends PageBase {}
      @Controller('skipped-page')
      @SkipOriginGuard()
      class SkippedPage extends PageBase {}
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: true })],
        controllers: [GuardedPage, SkippedPage],
      });

      const guardedFirst = await send(started.url, '/guarded-page', THROUGH_CLOUDFRONT);
      const skipped = await send(started.url, '/skipped-page', {
        'x-forwarded-for': '203.0.113.9',
      });
      const guardedBot = await send(started.url, '/guarded-page', {
        'x-forwarded-for': '203.0.113.9',
      });

      expect(guardedFirst.status).toBe(200);
      expect(skipped.status).toBe(200);
      expect(JSON.parse(skipped.body)).toEqual({ page: true });
      expect(guardedBot.status).toBe(403);
    });

    it('lets the ALB health check in on a healthCheckPaths route (no X-Forwarded-For)', async () => {
      const started = await globalApp();

      expect((await send(started.url, '/healthz')).status).toBe(200);
      expect(
        (await send(started.url, '/healthz', { 'x-forwarded-for': '203.0.113.9' })).status,
      ).toBe(403);
    });

    it.each([
      ['applied globally', true],
      ['per controller', false],
    ])('resolves the method decorator over the class decorator (%s)', async (_name, globally) => {
      const started = await boot({
        imports: [CdnOriginGuardModule.forRoot({ ...BASE_OPTIONS, applyGlobally: globally })],
        controllers: CONTROLLERS,
      });

      expect((await send(started.url, '/required/public')).status).toBe(200);
      expect((await send(started.url, '/skipped-class')).status).toBe(200);
      expect((await send(started.url, '/skipped-class/private')).status).toBe(403);
      expect((await send(started.url, '/skipped-class/private', THROUGH_CLOUDFRONT)).status).toBe(
        200,
      );
    });

    it('decides once when a global guard and @RequireOriginGuard() both apply', async () => {
      const decisions: Decision[] = [];
      const started = await globalApp({}, decisions);

      const reply = await send(started.url, '/required', THROUGH_CLOUDFRONT);

      expect(reply.status).toBe(200);
      expect(decisions).toHaveLength(1);
    });
  });

  describe('the decision', () => {
    it('is given to the handler by @OriginDecision()', async () => {
      const started = await globalApp();

      const reply = await send(started.url, '/whoami', THROUGH_CLOUDFRONT);

      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).decision).toMatchObject({
        allowed: true,
        reason: 'verified',
        edgeAddress: '130.176.12.34',
        viewerAddress: '198.51.100.23',
        cfId: CF_ID,
      });
      expect(reply.body).not.toContain(SECRET);
    });

    it.each([
      ['kept on rawHeaders, read through the accessor (V8 < 13)', false],
      ['an own property (V8 13+)', true],
    ])(
      'is recorded once by the all-paths check and taken up by the guard: %s',
      async (_way, ownProperty) => {
        // Both ways on every Node version (the default follows the running V8).
        const initially = decisionRecording.ownProperty;
        decisionRecording.ownProperty = ownProperty;
        try {
          const decisions: Decision[] = [];
          const started = await globalApp({}, decisions);

          const reply = await send(started.url, '/whoami', THROUGH_CLOUDFRONT);
          const denied = await send(started.url, '/whoami', { 'x-forwarded-for': '203.0.113.9' });

          expect(reply.status).toBe(200);
          expect(JSON.parse(reply.body).decision).toMatchObject({
            allowed: true,
            reason: 'verified',
          });
          expect(denied.status).toBe(403);
          expect(decisions.map((d) => d.reason)).toEqual(['verified', 'edge-not-cloudfront']);
        } finally {
          decisionRecording.ownProperty = initially;
        }
      },
    );

    it('lets a bad request through in report mode and says `reported`', async () => {
      const started = await globalApp({ mode: 'report' });

      const reply = await send(started.url, '/whoami', { 'x-forwarded-for': '203.0.113.9' });

      expect(reply.status).toBe(200);
      const { decision } = JSON.parse(reply.body);
      expect(decision).toMatchObject({ allowed: true, reason: 'reported' });
      expect(decision.failures).toContain('edge-not-cloudfront');
    });
  });

  describe('configuration', () => {
    it('builds the options with forRootAsync from an injected config provider', async () => {
      const started = await boot({
        imports: [
          CdnOriginGuardModule.forRootAsync({
            imports: [FakeConfigModule],
            inject: [FakeConfigService],
            useFactory: (config: FakeConfigService) => ({
              secret: [config.getOrThrow('ORIGIN_SECRET')],
              ranges: config.getOrThrow('ORIGIN_RANGES').split(','),
            }),
            applyGlobally: true,
          }),
        ],
        controllers: CONTROLLERS,
      });

      expect((await send(started.url, '/')).status).toBe(403);
      expect((await send(started.url, '/', THROUGH_CLOUDFRONT)).status).toBe(200);
    });

    it.each([
      ['applyGlobally', true],
      ['requestPaths', ['/live']],
      ['continuePathRules', true],
    ])(
      'rejects %s returned by the forRootAsync factory, naming where it belongs',
      async (key, value) => {
        const compiling = create(adapter, {
          imports: [
            CdnOriginGuardModule.forRootAsync({
              useFactory: () => ({ ...BASE_OPTIONS, [key]: value }) as never,
            }),
          ],
        });

        await expect(compiling).rejects.toThrow(new RegExp(`forRootAsync\\(\\{ ${key} \\}\\)`));
      },
    );

    it('injects the guard into a user-defined consumer with explicit @Inject', async () => {
      @Injectable()
      class UsesGuard {
        constructor(@Inject(CdnOriginGuard) readonly guard: CdnOriginGuard) {}
      }
      const app = await create(adapter, {
        imports: [CdnOriginGuardModule.forRoot(BASE_OPTIONS)],
        providers: [UsesGuard],
      });
      apps.push(app);

      expect(app.get(UsesGuard).guard).toBeInstanceOf(CdnOriginGuard);
    });
  });

  describe('startup and shutdown', () => {
    it('fails bootstrap with NotReadyError when a source cannot load', async () => {
      const app = await create(adapter, {
        imports: [
          CdnOriginGuardModule.forRoot({
            ...BASE_OPTIONS,
            secret: failingSource,
            applyGlobally: true,
          }),
        ],
        controllers: CONTROLLERS,
      });
      apps.push(app);

      await expect(app.init()).rejects.toBeInstanceOf(NotReadyError);
    });

    it('boots and denies when failOnStartupError is false', async () => {
      const decisions: Decision[] = [];
      const started = await globalApp(
        { secret: failingSource, failOnStartupError: false },
        decisions,
      );

      const reply = await send(started.url, '/', THROUGH_CLOUDFRONT);

      expectUniformDeny(reply, started);
      expect(decisions.map((d) => d.reason)).toEqual(['secret-unavailable']);
      expect(started.logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: expect.stringMatching(/not loaded yet/),
        }),
      );
    });

    it('closes the verifier when the app closes', async () => {
      const started = await globalApp();

      await started.app.close();

      await expect(started.verifier.ready()).rejects.toThrow(/closed/);
    });
  });

  describe('logs', () => {
    it('log the deny reason at the logLevel, never the secret or the value sent', async () => {
      const started = await globalApp({ logLevel: 'warn' });

      const replies = await Promise.all([
        send(started.url, '/', { ...THROUGH_CLOUDFRONT, 'x-origin-verify': WRONG_SECRET }),
        send(started.url, '/', { ...THROUGH_CLOUDFRONT, 'x-origin-verify': '' }),
        send(started.url, '/whoami', THROUGH_CLOUDFRONT),
      ]);

      const denyLines = started.logger.lines.filter((l) => l.message.includes('denied'));
      expect(denyLines.map((l) => l.level)).toEqual(['warn', 'warn']);
      expect(started.logger.text()).toMatch(/reason=invalid-secret/);
      expect(started.logger.text()).toMatch(/reason=missing-secret/);
      for (const text of [started.logger.text(), ...replies.map((r) => r.body)]) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(WRONG_SECRET);
      }
    });

    it('log nothing for a deny when logLevel is silent', async () => {
      const started = await globalApp({ logLevel: 'silent' });

      expect((await send(started.url, '/')).status).toBe(403);

      expect(started.logger.text()).not.toMatch(/denied/);
    });
  });
});
