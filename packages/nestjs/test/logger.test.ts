/**
 * An app logger that throws on the guard's lines (a failing transport or serializer) never
 * breaks a deny (outside review, thirteenth session, Low): the uniform deny used to become the
 * platform's 500, and a deny decided on the promise path (through a CloudFront without the
 * secret, which forces a re-read of a source) an unhandled rejection and a request never
 * answered. Real apps over HTTP on 127.0.0.1, on both platforms.
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { CdnOriginGuardModule } from '@cdn-origin-guard/nestjs';
import { Controller, Get, type INestApplication, type LoggerService } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../../../test/support/adapter-fixtures.js';
import { watchProcess } from '../../../test/support/process-watch.js';
import { BASE_OPTIONS, SECRET, THROUGH_CLOUDFRONT } from './fixtures.js';

@Controller()
class AdminController {
  @Get('admin') admin() {
    return 'GUARDED';
  }
}

/** Throws on every line of the guard's, as a broken log transport would. */
const throwing: LoggerService = {
  log(message: unknown) {
    if (String(message).includes('cdn-origin-guard')) throw new Error('log sink failed: EPIPE');
  },
  error(message: unknown) {
    if (String(message).includes('cdn-origin-guard')) throw new Error('log sink failed: EPIPE');
  },
  warn(message: unknown) {
    if (String(message).includes('cdn-origin-guard')) throw new Error('log sink failed: EPIPE');
  },
  debug() {},
  verbose() {},
};

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const withoutDate = (text: string) => text.replace(/^date: .*\r\n/im, '');

describe.each(['express', 'fastify'] as const)(
  'Nest on %s with a logger that throws',
  (platform) => {
    it('still answers the uniform deny, sync and async, and says so once', async () => {
      const watch = watchProcess();
      try {
        const { secret: _static, ...options } = BASE_OPTIONS;
        const moduleRef = await Test.createTestingModule({
          imports: [
            CdnOriginGuardModule.forRoot({
              ...options,
              // A secret from a source: a request through CloudFront without the secret forces
              // a re-read, so its deny is decided on the promise path.
              secret: {
                name: 'custom',
                load: async () => ({
                  values: [{ stage: 'AWSCURRENT', value: SECRET }],
                  version: 'v1',
                }),
              },
            }),
          ],
          controllers: [AdminController],
        }).compile();
        app = moduleRef.createNestApplication(
          platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
          { logger: throwing },
        );
        await app.listen(0, '127.0.0.1');
        const { port } = app.getHttpServer().address() as AddressInfo;
        const { 'x-origin-verify': _secret, ...noSecret } = THROUGH_CLOUDFRONT;

        const bot = await rawRequest(port, '/admin', { 'x-forwarded-for': '203.0.113.9' });
        const otherCloudFront = await rawRequest(port, '/admin', noSecret);
        const ours = await rawRequest(port, '/admin', THROUGH_CLOUDFRONT);

        expect(bot.split('\r\n', 1)[0]).toBe('HTTP/1.1 403 Forbidden');
        expect(withoutDate(otherCloudFront)).toBe(withoutDate(bot));
        expect(bot).not.toContain('EPIPE');
        expect(ours.endsWith('GUARDED')).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(watch.unhandled).toEqual([]);
        const said = watch.warnings.filter((w) => w.code === 'CDN_ORIGIN_GUARD_LOGGER_THREW');
        expect(said.map((w) => w.message)).toEqual([
          expect.stringMatching(
            /^@cdn-origin-guard\/nestjs: the logger's \w+\(\) threw \(log sink failed: EPIPE\); its guard lines are lost\. Further throws are not reported\.$/,
          ),
        ]);
      } finally {
        watch.stop();
      }
    });
  },
);
