/**
 * The example Nest app, configured from the environment only: `optionsFromEnv()`
 * (CDN_ORIGIN_GUARD_*) plus the AWS SDK's own variables (AWS_REGION,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_EC2, credentials).
 */
import type { Decision, OriginGuardOptions, VerifyInput } from '@cdn-origin-guard/core';
import { CdnOriginGuardModule, OriginDecision, optionsFromEnv } from '@cdn-origin-guard/nestjs';
import { Controller, Get, Module } from '@nestjs/common';

/** One JSON line per deny (and per would-be deny in report mode): codes and addresses only. */
export function denyLine(decision: Decision, input: VerifyInput): string | undefined {
  if (decision.allowed && decision.reason !== 'reported') return undefined;
  return JSON.stringify({
    level: 'info',
    time: new Date().toISOString(),
    msg: decision.allowed ? 'cdn-origin-guard report' : 'cdn-origin-guard deny',
    reason: decision.reason,
    failures: decision.failures,
    method: input.method,
    path: input.path?.split('?', 1)[0],
    peer: decision.peerAddress,
    edge: decision.edgeAddress,
    cfId: decision.cfId,
  });
}

/** Guard options from the environment, with the example's defaults. */
export function guardOptions(env = process.env): OriginGuardOptions {
  const fromEnv = optionsFromEnv(env);
  return {
    ...fromEnv,
    // ALB health checks hit /healthz unless CDN_ORIGIN_GUARD_HEALTH_PATHS says otherwise.
    healthCheckPaths: fromEnv.healthCheckPaths ?? ['/healthz'],
    // Deny lines are written as JSON below, so the guard's own Nest log line is turned off.
    logLevel: 'silent',
    onDecision: (decision, input) => {
      const line = denyLine(decision, input);
      if (line !== undefined) process.stdout.write(`${line}\n`);
    },
  } as OriginGuardOptions;
}

@Controller()
export class AppController {
  @Get()
  root() {
    return { ok: true };
  }

  /** Let in without `@SkipOriginGuard()`: the health-check rule admits only the ALB itself. */
  @Get('healthz')
  health() {
    return { ok: true };
  }

  @Get('whoami')
  whoami(@OriginDecision() decision: Decision | undefined) {
    const viaCloudFront =
      decision?.reason === 'verified' || decision?.reason === 'reported' ? decision : undefined;
    return {
      viewerAddress: viaCloudFront?.viewerAddress ?? null,
      edgeAddress: viaCloudFront?.edgeAddress ?? null,
      cfId: viaCloudFront?.cfId ?? null,
    };
  }
}

@Module({
  imports: [
    // A factory, so a bad environment variable fails bootstrap with a message naming it.
    CdnOriginGuardModule.forRootAsync({ useFactory: () => guardOptions(), applyGlobally: true }),
  ],
  controllers: [AppController],
})
export class AppModule {}
