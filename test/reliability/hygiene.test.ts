/**
 * Secret hygiene: with the secret set to a recognisable random value, run the core, the Express
 * adapter (through its example app) and the Fastify adapter (through its example app, logger at
 * `trace`) through allowed and denied requests, bad options, a Secrets Manager that starts
 * answering AccessDenied, failing stages, invalid stored values, `NotReadyError` at startup and
 * after close; capture every log line, console and stdout/stderr write, error (message, stack,
 * `util.inspect` with hidden fields, JSON, cause chain), response (status line, headers, body),
 * decision and `stats()` output; then scan all of it for the secret and for any 12-character
 * window of it. Found: 0 times. The scan itself is checked on control strings.
 */
import { format, inspect } from 'node:util';
import {
  createOriginVerifier,
  type OriginGuardOptions,
  optionsFromEnv,
  type SecretSnapshot,
} from '@cdn-origin-guard/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp as createExpressApp } from '../../examples/express/src/app.js';
import { createApp as createFastifyApp } from '../../examples/fastify/src/app.js';
import { type LocalAws, setEnv, startLocalAws } from '../aws-local/index.js';
import { startExpress, startFastify } from './support/apps.js';
import { RawConnection } from './support/raw-http.js';
import { CF_RANGES, CF_RANGES_ENV, cloudFrontHeaders, prng, serialize } from './support/traffic.js';

const SECRET = `HYGIENE-${Buffer.from(crypto.getRandomValues(new Uint8Array(72))).toString('base64url')}`;
const PREVIOUS = `HYGIENE-PREV-${Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString('base64url')}`;
const WINDOW = 12;

/** Occurrences of the secret, or of any 12-character window of it, in `text`. */
function leaks(text: string, secret: string = SECRET): number {
  let n = 0;
  for (let i = 0; i + WINDOW <= secret.length; i++) {
    const fragment = secret.slice(i, i + WINDOW);
    let at = text.indexOf(fragment);
    while (at >= 0) {
      n++;
      at = text.indexOf(fragment, at + 1);
    }
  }
  return n;
}

const captured: { where: string; text: string }[] = [];
const keep = (where: string, value: unknown) => {
  captured.push({ where, text: typeof value === 'string' ? value : format('%o', value) });
};

/** Everything an error can show: message, stack, inspect (hidden fields), JSON, the causes. */
function keepError(where: string, error: unknown) {
  keep(`${where}: inspect`, inspect(error, { depth: 20, showHidden: true, getters: true }));
  let e: unknown = error;
  for (let depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (e instanceof Error) {
      keep(`${where}: message[${depth}]`, e.message);
      keep(`${where}: stack[${depth}]`, String(e.stack));
      try {
        keep(`${where}: json[${depth}]`, JSON.stringify(e, Object.getOwnPropertyNames(e)));
      } catch (jsonError) {
        keep(`${where}: json[${depth}]`, String(jsonError));
      }
      if (e instanceof AggregateError)
        e.errors.forEach((x, i) => {
          keepError(`${where}.errors[${i}]`, x);
        });
      e = e.cause;
    } else {
      keep(`${where}: cause[${depth}]`, inspect(e, { depth: 20, showHidden: true }));
      e = undefined;
    }
  }
}

function expectThrow(where: string, fn: () => unknown): void {
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    keepError(where, error);
  }
  expect(threw, where).toBe(true);
}

async function send(
  port: number,
  headers: readonly (readonly [string, string])[],
  path = '/whoami',
) {
  const connection = new RawConnection(port);
  try {
    const res = await connection.request(serialize({ method: 'GET', path, headers }));
    keep(`response ${port} ${path}`, `${res.head}\r\n\r\n${res.body.toString('latin1')}`);
    return res.status;
  } finally {
    connection.close();
  }
}

/** Allowed and denied requests, with near-miss values that would show if a header were echoed. */
async function traffic(port: number, rand: () => number) {
  const statuses: number[] = [];
  const cf = (secret: string) => cloudFrontHeaders(rand, secret);
  statuses.push(await send(port, cf(SECRET)));
  statuses.push(await send(port, cf(PREVIOUS)));
  statuses.push(await send(port, cf(SECRET.slice(0, -1))));
  statuses.push(await send(port, cf(`${SECRET}x`)));
  statuses.push(await send(port, cf(`${SECRET.slice(0, 40)}${SECRET.slice(40).toLowerCase()}`)));
  statuses.push(
    await send(port, [
      ['x-forwarded-for', '203.0.113.9'],
      ['x-origin-verify', SECRET],
    ]),
  );
  statuses.push(await send(port, [['x-origin-verify', SECRET]], '/'));
  statuses.push(await send(port, [...cf(SECRET), ['x-origin-verify', SECRET]]));
  statuses.push(await send(port, [['user-agent', 'ELB-HealthChecker/2.0']], '/healthz'));
  return statuses;
}

describe('secret hygiene', () => {
  let aws: LocalAws;
  let restoreEnv: () => void;
  let summary = '';
  const originalStdout = process.stdout.write.bind(process.stdout);
  const originalStderr = process.stderr.write.bind(process.stderr);

  beforeAll(async () => {
    aws = await startLocalAws();
    restoreEnv = setEnv(aws.env());
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const)
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        keep(`console.${method}`, format(...args));
      });
    process.stdout.write = ((chunk: string | Uint8Array) => {
      keep('stdout', Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      keep('stderr', Buffer.from(chunk).toString('utf8'));
      return true;
    }) as typeof process.stderr.write;
  });

  afterAll(async () => {
    process.stdout.write = originalStdout;
    process.stderr.write = originalStderr;
    vi.restoreAllMocks();
    if (summary) console.info(summary);
    restoreEnv();
    await aws.close();
  });

  it('the scan finds the secret, a fragment of it, and the secret inside inspected objects', () => {
    expect(leaks(`control: ${SECRET} end`)).toBeGreaterThan(0);
    expect(leaks(`…${SECRET.slice(30, 30 + WINDOW)}…`)).toBeGreaterThan(0);
    expect(leaks(inspect({ nested: { deeper: [SECRET] } }))).toBeGreaterThan(0);
    expect(leaks(JSON.stringify({ header: SECRET.slice(0, 50) }))).toBeGreaterThan(0);
    expect(leaks('nothing secret here: x-origin-verify=<redacted>')).toBe(0);
  });

  it('never shows the secret in logs, errors, responses, decisions or stats', async () => {
    const rand = prng(7);
    // The core, with a decision hook that records everything it is given except the input.
    const decisions: unknown[] = [];
    const core = createOriginVerifier({
      secret: [
        { value: SECRET, stage: 'AWSCURRENT' },
        { value: PREVIOUS, stage: 'AWSPREVIOUS' },
      ],
      ranges: CF_RANGES,
      onDecision: (d) => decisions.push(d),
    });
    for (const s of [SECRET, PREVIOUS, SECRET.slice(0, -1), `${SECRET} `, '', undefined]) {
      const d = core.verify({
        headers: {
          ...Object.fromEntries(cloudFrontHeaders(rand, 'x'.repeat(20))),
          'x-origin-verify': s,
        },
        remoteAddress: '127.0.0.1',
        path: '/',
      });
      keep('core decision', JSON.stringify(d));
      keep('core decision inspect', inspect(d, { depth: 10, showHidden: true }));
    }
    expect(decisions.filter((d) => (d as { allowed: boolean }).allowed)).toHaveLength(2);
    keep('core decisions', JSON.stringify(decisions));
    keep('core stats', JSON.stringify(core.stats()));
    keep('core inspect', inspect(core, { depth: 10, showHidden: true, getters: true }));
    keep('core json', JSON.stringify(core));
    await core.close();
    await expect(core.ready()).rejects.toThrow();
    await core.ready().catch((e: unknown) => keepError('ready after close', e));

    // Bad options of every kind, next to a real secret.
    const bad: [string, () => unknown][] = [
      [
        'secret with a space',
        () => createOriginVerifier({ secret: `${SECRET} x`, ranges: CF_RANGES }),
      ],
      [
        'secret too long',
        () => createOriginVerifier({ secret: SECRET.repeat(4), ranges: CF_RANGES }),
      ],
      [
        'one value too short',
        () => createOriginVerifier({ secret: [SECRET, SECRET.slice(0, 10)], ranges: CF_RANGES }),
      ],
      [
        'secret and secretId',
        () =>
          createOriginVerifier({
            secret: SECRET,
            secretId: 'x',
            ranges: CF_RANGES,
          } as unknown as OriginGuardOptions),
      ],
      [
        'typo next to the secret',
        () =>
          createOriginVerifier({
            secret: SECRET,
            rangez: CF_RANGES,
          } as unknown as OriginGuardOptions),
      ],
      [
        'bad stage',
        () => createOriginVerifier({ secret: [{ value: SECRET, stage: '' }], ranges: CF_RANGES }),
      ],
      [
        'secretStages with static secret',
        () =>
          createOriginVerifier({
            secret: SECRET,
            secretStages: ['AWSCURRENT'],
            ranges: CF_RANGES,
          } as unknown as OriginGuardOptions),
      ],
      [
        'bad denyResponse',
        () => createOriginVerifier({ secret: SECRET, ranges: CF_RANGES, denyResponse: 5 as never }),
      ],
      ['bad CIDR', () => createOriginVerifier({ secret: SECRET, ranges: ['3.10.17.128/33'] })],
      [
        'env: secret with a space',
        () =>
          optionsFromEnv({
            CDN_ORIGIN_GUARD_SECRET: `${SECRET} x`,
            CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
          }),
      ],
      [
        'env: short previous value',
        () =>
          optionsFromEnv({
            CDN_ORIGIN_GUARD_SECRET: SECRET,
            CDN_ORIGIN_GUARD_SECRET_PREVIOUS: 'short',
            CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
          }),
      ],
      [
        'env: secret and secret id',
        () => optionsFromEnv({ CDN_ORIGIN_GUARD_SECRET: SECRET, CDN_ORIGIN_GUARD_SECRET_ID: 'x' }),
      ],
      [
        'env: bad hops',
        () =>
          optionsFromEnv({ CDN_ORIGIN_GUARD_SECRET: SECRET, CDN_ORIGIN_GUARD_PROXY_HOPS: 'two' }),
      ],
      [
        'express app: bad env',
        () =>
          createExpressApp({
            env: { CDN_ORIGIN_GUARD_SECRET: `${SECRET}\t`, CDN_ORIGIN_GUARD_RANGES: 'nope' },
          }),
      ],
      [
        'fastify app: bad env',
        () =>
          createFastifyApp({ env: { CDN_ORIGIN_GUARD_SECRET: SECRET.slice(0, 8) }, logger: false }),
      ],
    ];
    for (const [where, fn] of bad) expectThrow(`bad options: ${where}`, fn);

    // A custom source returning values that are not usable header values.
    for (const value of [`${SECRET} `, SECRET.repeat(4), `${SECRET}\u00e9`]) {
      const v = createOriginVerifier({
        secret: {
          name: 'custom',
          load: async (): Promise<SecretSnapshot> => ({ values: [{ stage: 'AWSCURRENT', value }] }),
        },
        ranges: CF_RANGES,
        onSourceError: (e) => keepError('custom source onSourceError', e),
      });
      await v.ready().catch((e: unknown) => keepError('custom source ready', e));
      keep('custom source stats', JSON.stringify(v.stats()));
      await v.close();
    }

    // Secrets Manager: loads, then AccessDenied, a failing stage, an invalid stored value.
    const id = 'prod/hygiene/origin-verify';
    aws.secrets.put(id, PREVIOUS);
    aws.secrets.put(id, SECRET);
    const sourceErrors: unknown[] = [];
    const sm = createOriginVerifier({
      secretId: id,
      ranges: CF_RANGES,
      secretRefreshMs: 1_000,
      mismatchRefreshMs: 1_000,
      onSourceError: (e) => sourceErrors.push(e),
    });
    // Each wrong value below forces a refresh: one a window (`mismatchRefreshMs`, at its floor).
    const nextWindow = () => new Promise((resolve) => setTimeout(resolve, 1_050));
    await sm.ready();
    const cfInput = (s: string) => ({
      headers: { ...Object.fromEntries(cloudFrontHeaders(rand, s)) },
      remoteAddress: '127.0.0.1',
      path: '/',
    });
    aws.secrets.deny(id);
    keep(
      'sm check during AccessDenied',
      JSON.stringify(await sm.check(cfInput('wrong-but-long-enough-value'))),
    );
    aws.secrets.deny(id, false);
    aws.secrets.failStage(id, 'AWSPREVIOUS', 'InternalServiceError');
    await nextWindow();
    keep(
      'sm check with a failing stage',
      JSON.stringify(await sm.check(cfInput('another-wrong-long-value'))),
    );
    aws.secrets.failStage(id, 'AWSPREVIOUS', undefined);
    aws.secrets.stagePending(id, `${SECRET} pending`);
    await nextWindow();
    keep(
      'sm check with an invalid pending value',
      JSON.stringify(await sm.check(cfInput('third-wrong-long-value'))),
    );
    expect((await sm.check(cfInput(SECRET))).allowed).toBe(true);
    keep('sm stats', JSON.stringify(sm.stats()));
    keep('sm stats inspect', inspect(sm.stats(), { depth: 10 }));
    await sm.close();
    expect(sourceErrors.length).toBeGreaterThanOrEqual(3);
    sourceErrors.forEach((e, i) => {
      keepError(`sm onSourceError[${i}]`, e);
    });
    aws.secrets.remove(id);

    // NotReadyError at startup: AccessDenied from the first load.
    const deniedId = 'prod/hygiene/denied';
    aws.secrets.put(deniedId, SECRET);
    aws.secrets.deny(deniedId);
    const cold = createOriginVerifier({ secretId: deniedId, ranges: CF_RANGES });
    await cold.ready().then(
      () => expect.unreachable('ready() should reject'),
      (e: unknown) => keepError('NotReadyError (AccessDenied)', e),
    );
    keep('cold stats', JSON.stringify(cold.stats()));
    await cold.close();

    // Express example app: static values, then Secrets Manager.
    const expressLines: string[] = [];
    for (const env of [
      {
        CDN_ORIGIN_GUARD_SECRET: SECRET,
        CDN_ORIGIN_GUARD_SECRET_PREVIOUS: PREVIOUS,
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      },
      {
        CDN_ORIGIN_GUARD_SECRET_ID: 'prod/hygiene/express',
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      },
    ]) {
      aws.secrets.put('prod/hygiene/express', PREVIOUS);
      aws.secrets.put('prod/hygiene/express', SECRET);
      const app = await startExpress({ env, log: (line) => expressLines.push(line) });
      const statuses = await traffic(app.port, rand);
      expect(statuses).toEqual([200, 200, 403, 403, 403, 403, 403, 403, 200]);
      keep('express stats', JSON.stringify(app.verifier.stats()));
      await app.close();
    }
    expect(expressLines.length).toBeGreaterThanOrEqual(12);
    keep('express deny lines', expressLines.join('\n'));
    const { guard } = createExpressApp({
      env: { CDN_ORIGIN_GUARD_SECRET: SECRET, CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV },
      log: () => undefined,
    });
    keep('express guard inspect', inspect(guard, { depth: 10, showHidden: true, getters: true }));
    await guard.close();

    // Fastify example app, every log line at trace level.
    const fastifyLines: string[] = [];
    const logger = { level: 'trace', stream: { write: (line: string) => fastifyLines.push(line) } };
    aws.secrets.put('prod/hygiene/fastify', PREVIOUS);
    aws.secrets.put('prod/hygiene/fastify', SECRET);
    for (const env of [
      {
        CDN_ORIGIN_GUARD_SECRET: SECRET,
        CDN_ORIGIN_GUARD_SECRET_PREVIOUS: PREVIOUS,
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      },
      {
        CDN_ORIGIN_GUARD_SECRET_ID: 'prod/hygiene/fastify',
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      },
    ]) {
      const app = await startFastify({ env, logger });
      const statuses = await traffic(app.port, rand);
      expect(statuses).toEqual([200, 200, 403, 403, 403, 403, 403, 403, 200]);
      keep('fastify stats', JSON.stringify(app.verifier.stats()));
      await app.close();
    }
    // Startup with AccessDenied: failing boot, and starting anyway (failOnStartupError: false).
    aws.secrets.deny('prod/hygiene/fastify');
    const failing = createFastifyApp({
      env: {
        CDN_ORIGIN_GUARD_SECRET_ID: 'prod/hygiene/fastify',
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      },
      logger,
    });
    await failing.ready().then(
      () => expect.unreachable('boot should fail'),
      (e: unknown) => keepError('fastify boot NotReadyError', e),
    );
    await failing.close().catch((e: unknown) => keepError('fastify close', e));
    const lenient = await startFastify({
      env: {
        CDN_ORIGIN_GUARD_SECRET_ID: 'prod/hygiene/fastify',
        CDN_ORIGIN_GUARD_RANGES: CF_RANGES_ENV,
      },
      guard: { failOnStartupError: false },
      logger,
    });
    expect(await send(lenient.port, cloudFrontHeaders(rand, SECRET))).toBe(403);
    keep('fastify lenient stats', JSON.stringify(lenient.verifier.stats()));
    await lenient.close();
    expect(fastifyLines.length).toBeGreaterThan(20);
    keep('fastify log', fastifyLines.join(''));

    // The scan.
    const total = captured.reduce((n, c) => n + c.text.length, 0);
    const found = captured.filter((c) => leaks(c.text) > 0 || leaks(c.text, PREVIOUS) > 0);
    summary = `[hygiene] scanned ${captured.length} captures, ${total} characters: ${found.length} contain the secret or a ${WINDOW}-character fragment of it`;
    expect(found.map((c) => `${c.where}: ${c.text.slice(0, 300)}`)).toEqual([]);
    expect(total).toBeGreaterThan(20_000);
  }, 60_000);
});
