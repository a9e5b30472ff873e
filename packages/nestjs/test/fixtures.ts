import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { format } from 'node:util';
import type { Decision, OriginVerifier } from '@cdn-origin-guard/core';
import {
  CDN_ORIGIN_GUARD_VERIFIER,
  OriginDecision,
  RequireOriginGuard,
  SkipOriginGuard,
} from '@cdn-origin-guard/nestjs';
import {
  Controller,
  Get,
  type INestApplication,
  type LoggerService,
  type ModuleMetadata,
} from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

export const SECRET = 'S3cr3t-Origin-Verify-Value-0123456789abcdef';
export const WRONG_SECRET = 'Wr0ng-Origin-Verify-Value-0123456789abcdef';
export const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
export const BASE_OPTIONS = {
  secret: [SECRET],
  ranges: ['130.176.0.0/17', '2600:9000:eee::/48'],
  healthCheckPaths: ['/healthz'],
} as const;

/** Headers of a request that came through our CloudFront distribution and the ALB. */
export const THROUGH_CLOUDFRONT = {
  'x-forwarded-for': '198.51.100.23, 130.176.12.34',
  'x-amz-cf-id': CF_ID,
  'x-origin-verify': SECRET,
};

export type Platform = 'express' | 'fastify';
export const PLATFORMS: [Platform, () => AbstractHttpAdapter][] = [
  ['express', () => new ExpressAdapter()],
  ['fastify', () => new FastifyAdapter()],
];

@Controller()
export class AppController {
  @Get()
  root() {
    return { ok: true };
  }

  @Get('whoami')
  whoami(@OriginDecision() decision: Decision | undefined) {
    return { decision: decision ?? null };
  }

  @Get('healthz')
  health() {
    return { healthy: true };
  }

  @SkipOriginGuard()
  @Get('skipped')
  skipped() {
    return { skipped: true };
  }
}

@Controller('open')
export class OpenController {
  @Get()
  open() {
    return { open: true };
  }
}

@Controller('required')
@RequireOriginGuard()
export class RequiredController {
  @Get()
  required() {
    return { required: true };
  }

  @SkipOriginGuard()
  @Get('public')
  publicRoute() {
    return { public: true };
  }
}

@Controller('skipped-class')
@SkipOriginGuard()
export class SkippedController {
  @Get()
  skipped() {
    return { skipped: true };
  }

  @RequireOriginGuard()
  @Get('private')
  privateRoute() {
    return { private: true };
  }
}

export const CONTROLLERS = [AppController, OpenController, RequiredController, SkippedController];

/** A Nest logger that keeps every line, to check what reaches the logs. */
export class RecordingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  private record(level: string, args: unknown[]) {
    this.lines.push({ level, message: format(...args) });
  }
  log(...args: unknown[]) {
    this.record('log', args);
  }
  error(...args: unknown[]) {
    this.record('error', args);
  }
  warn(...args: unknown[]) {
    this.record('warn', args);
  }
  debug(...args: unknown[]) {
    this.record('debug', args);
  }
  verbose(...args: unknown[]) {
    this.record('verbose', args);
  }
  fatal(...args: unknown[]) {
    this.record('fatal', args);
  }
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.message}`).join('\n');
  }
}

export interface Started {
  readonly app: INestApplication;
  readonly url: string;
  readonly verifier: OriginVerifier;
  readonly logger: RecordingLogger;
}

/** Compile `metadata` into an app on `platform` without initialising it. */
export async function create(
  adapter: () => AbstractHttpAdapter,
  metadata: ModuleMetadata,
  logger = new RecordingLogger(),
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).setLogger(logger).compile();
  return moduleRef.createNestApplication(adapter());
}

/** Compile, init and listen on a free port on 127.0.0.1. */
export async function start(
  adapter: () => AbstractHttpAdapter,
  metadata: ModuleMetadata,
): Promise<Started> {
  const logger = new RecordingLogger();
  const app = await create(adapter, metadata, logger);
  await app.init();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    verifier: app.get<OriginVerifier>(CDN_ORIGIN_GUARD_VERIFIER),
    logger,
  };
}

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

export async function send(
  url: string,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Reply> {
  const res = await fetch(url + path, { method, headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}
