/**
 * The requests every adapter suite plays: one legitimate request through our CloudFront
 * distribution and the ALB, and the denied ones whose responses must all be identical.
 * Shared so the Express and Fastify suites (and any future adapter) test the same contract.
 */
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RangeSource, type SecretSource, SourceError } from '@cdn-origin-guard/core';

export const SECRET = 'S3cr3t-Origin-Verify-Value-0123456789abcdef';
export const RANGES = ['130.176.0.0/17', '2600:9000:eee::/48'];
export const CF_ID = 'eXAmPlEbIK6UQ6FXVQfxbTC1rZvq8J3Y4H6m2lqqvB3WqLz0PlkVXw==';
export const VIEWER = '198.51.100.23';
export const EDGE = '130.176.12.34';
/** Guard options of every adapter test app (static secret and ranges, `/healthz` for the ALB). */
export const BASE = { secret: [SECRET], ranges: RANGES, healthCheckPaths: ['/healthz'] } as const;

/** Headers of a request that came through our CloudFront distribution and the ALB. */
export const OUR_CLOUDFRONT: Readonly<Record<string, string>> = {
  'x-forwarded-for': `${VIEWER}, ${EDGE}`,
  'x-amz-cf-id': CF_ID,
  'x-origin-verify': SECRET,
};

/** A bot straight at the ALB: the ALB appended the bot's own address. */
export const BOT: Readonly<Record<string, string>> = { 'x-forwarded-for': '203.0.113.9' };

/** One denied request: path, headers, and whether it reaches an app whose peer is untrusted. */
export interface DenyCase {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Send it to an app that trusts only 10.0.0.0/8, so the loopback peer is "around the ALB". */
  readonly aroundAlb: boolean;
}

/** Eight requests denied for seven different reasons; their responses must be byte-identical. */
export const UNIFORM_DENY_CASES: readonly DenyCase[] = [
  { path: '/.env', headers: BOT, aroundAlb: false },
  { path: '/', headers: {}, aroundAlb: false },
  { path: '/', headers: { ...OUR_CLOUDFRONT, 'x-forwarded-for': 'not-an-ip' }, aroundAlb: false },
  { path: '/', headers: { ...OUR_CLOUDFRONT, 'x-amz-cf-id': '' }, aroundAlb: false },
  { path: '/', headers: { ...OUR_CLOUDFRONT, 'x-amz-cf-id': 'not a cf id!' }, aroundAlb: false },
  { path: '/', headers: { ...OUR_CLOUDFRONT, 'x-origin-verify': '' }, aroundAlb: false },
  { path: '/', headers: { ...OUR_CLOUDFRONT, 'x-origin-verify': `${SECRET}x` }, aroundAlb: false },
  { path: '/', headers: OUR_CLOUDFRONT, aroundAlb: true },
];
/** How many distinct deny reasons {@link UNIFORM_DENY_CASES} produce. */
export const UNIFORM_DENY_REASONS = 7;

/**
 * Send raw bytes (a request with `Connection: close`) and read the whole raw response, until the
 * server closes the connection (at most `timeoutMs`). Our side stays open: a half-close makes
 * Node's server end the connection at once, losing the response of a handler that waits on I/O
 * (serve-static's `fs.stat`), so a leak through such a handler would read as an empty answer
 * (outside review, 4 December).
 */
export function rawHttp(port: number, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    const timer = setTimeout(
      () => socket.destroy(new Error(`rawHttp: no close within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/**
 * A request written as given (`target` is not normalised, as fetch would do with dot segments)
 * with `Connection: close`, sent with {@link rawHttp}; the raw response.
 */
export function rawRequest(
  port: number,
  target: string,
  headers: Readonly<Record<string, string>> = {},
  method = 'GET',
): Promise<string> {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return rawHttp(
    port,
    `${method} ${target} HTTP/1.1\r\nHost: origin.example\r\nConnection: close\r\n${lines.join('')}\r\n`,
  );
}

/**
 * A bot's request (a `POST` unless `method` says) with `Expect: 100-continue` to `target`
 * (Node hands it to the server's `'checkContinue'` listeners when it has some); the raw
 * response.
 */
export function rawExpectContinue(port: number, target: string, method = 'POST'): Promise<string> {
  return rawRequest(port, target, { ...BOT, expect: '100-continue' }, method);
}

/** The start of the response to an `Expect: 100-continue` request the app answered `200`. */
export const CONTINUED_OK = /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/;

/**
 * The status codes of the responses to a bot's {@link rawExpectContinue} `POST` to each of
 * `targets`, in order, and the body: `'100 200 webhook'` for a request the app answered after
 * `100 Continue`, `'403 Forbidden'` for the guard's deny.
 */
export async function expectContinueOutcomes(
  port: number,
  targets: readonly string[],
): Promise<string[]> {
  const outcomes: string[] = [];
  for (const target of targets) {
    const raw = await rawExpectContinue(port, target);
    const statuses = [...raw.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((match) => match[1]);
    outcomes.push(`${statuses.join(' ')} ${raw.slice(raw.lastIndexOf('\r\n\r\n') + 4)}`);
  }
  return outcomes;
}

/**
 * Run `make` with `Object.prototype[key]` set to `value` (a polluted prototype), then remove it
 * (once the promise `make` returns settles, if it returns one): what an option read through the
 * prototype would pick up.
 */
export function withPollutedPrototype<T>(key: string, value: unknown, make: () => T): T {
  const proto = Object.prototype as Record<string, unknown>;
  proto[key] = value;
  let result: T;
  try {
    result = make();
  } catch (error) {
    delete proto[key];
    throw error;
  }
  if (result instanceof Promise)
    return result.finally(() => {
      delete proto[key];
    }) as T;
  delete proto[key];
  return result;
}

/** Our CloudFront with a wrong secret: denied, and it makes the verifier refresh the secret. */
export const WRONG_SECRET: Readonly<Record<string, string>> = {
  ...OUR_CLOUDFRONT,
  'x-origin-verify': 'Wr0ng-Origin-Verify-Value-0123456789abcdef',
};

/**
 * A secret source that loads until `state.failing` is set, so a test can start a failure
 * streak after startup and end it. A {@link WRONG_SECRET} request forces a load: the first
 * at once, later ones at the end of the `mismatchRefreshMs` window (1 s at the least), so the
 * streak follows the requests.
 */
export function switchableSecret(): {
  source: SecretSource;
  state: { failing: boolean };
} {
  const state = { failing: false };
  const source: SecretSource = {
    name: 'switchable',
    load: async () => {
      if (state.failing) throw new Error('AccessDeniedException: secret unreadable');
      return { values: [{ stage: 'AWSCURRENT', value: SECRET }], version: 'v1' };
    },
  };
  return { source, state };
}

/**
 * A range source serving {@link RANGES} until `state.failing` is set: a feed that stops
 * answering (an IAM change), for `rangesMaxStaleMs`.
 */
export function switchableRanges(): {
  source: RangeSource;
  state: { failing: boolean };
} {
  const state = { failing: false };
  const source: RangeSource = {
    name: 'switchable-ranges',
    load: async () => {
      if (state.failing) throw new Error('UnauthorizedOperation: ec2:DescribeManagedPrefixLists');
      return { cidrs: RANGES, version: 'v1' };
    },
  };
  return { source, state };
}

/**
 * Make {@link switchableRanges} fail until `logged` shows the ranges expired, send one request
 * meanwhile, then let it load until `logged` shows the recovery: whether each was logged (within
 * 5 s) and the answer to the request.
 */
export async function expireAndRecover<R>(
  state: { failing: boolean },
  logged: (pattern: RegExp) => boolean,
  send: () => Promise<R>,
): Promise<{ expired: boolean; meanwhile: R; recovered: boolean }> {
  state.failing = true;
  const expired = await waitFor(() => logged(/ranges source expired/), 5_000);
  const meanwhile = await send();
  state.failing = false;
  const recovered = await waitFor(() => logged(/ranges source recovered/), 5_000);
  return { expired, meanwhile, recovered };
}

/** Ranges refreshed every second and dropped after one second unconfirmed. */
export const RANGES_STALE_AFTER_1S = {
  rangesRefreshMs: 1_000,
  rangesMaxStaleMs: 1_000,
  refreshJitter: 0,
} as const;

/** The line the Express and Nest adapters log when {@link switchableRanges} expires after 1 s. */
export const RANGES_EXPIRED_LINE =
  'cdn-origin-guard ranges source expired: not confirmed current for rangesMaxStaleMs (1 s); denying until a load succeeds';

/** What {@link skippingSecret} leaves out on every load: a too-long `AWSPENDING`. */
export const SKIPPED_MESSAGE = 'AWSPENDING is 152 characters long';

/**
 * A secret source whose every load succeeds but leaves a stage out (as a Secrets Manager load
 * skipping an `AWSPENDING` that cannot be a secret does): the same problem each time.
 */
export const skippingSecret: SecretSource = {
  name: 'skipping',
  load: async () => ({
    values: [{ stage: 'AWSCURRENT', value: SECRET }],
    version: 'v1',
    skipped: [new SourceError('skipping', SKIPPED_MESSAGE)],
  }),
};

/** Drive one failure streak and its recovery with WRONG_SECRET requests sent by `send`. */
export async function failAndRecover(
  state: { failing: boolean },
  send: () => Promise<unknown>,
  recovered: () => boolean,
): Promise<void> {
  state.failing = true;
  for (let i = 0; i < 3; i++) await send();
  state.failing = false;
  await waitFor(() => recovered(), 5_000, send);
}

/** Poll `condition` (sending `poke` between tries) until it holds or `ms` pass. */
export async function waitFor(
  condition: () => boolean,
  ms: number,
  poke?: () => Promise<unknown>,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await poke?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

/**
 * A bot's POST announcing a 100 MiB body and sending 64 KiB of it, on a keep-alive connection;
 * the raw response once the server closes the connection (rejects if it keeps it open waiting
 * for the rest of the body: a deny must not read a body an unguarded app's parser would refuse).
 */
export function denyOfAnnouncedBody(port: number, path = '/upload'): Promise<string> {
  return rawHttp(
    port,
    `POST ${path} HTTP/1.1\r\nHost: origin.example\r\nContent-Type: application/octet-stream\r\nContent-Length: ${100 * 1024 * 1024}\r\n${Object.entries(
      BOT,
    )
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n${'x'.repeat(64 * 1024)}`,
    3_000,
  );
}

/**
 * The default deny response (`403`, `Forbidden`) as an upgrade request gets it on its socket,
 * byte for byte: the headers every adapter sends for an ordinary request, `connection: close`.
 */
export const UPGRADE_DENY =
  'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 9\r\ncache-control: no-store\r\nconnection: close\r\n\r\nForbidden';

/** What {@link answer101}'s listener writes before closing the socket. */
export const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\n\r\n';

/** The text of a WebSocket handshake (an HTTP upgrade request) for `target`, with `headers`. */
export function upgradeRequest(
  target: string,
  headers: Readonly<Record<string, string>> = {},
): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `GET ${target} HTTP/1.1\r\nHost: origin.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${lines.join('')}\r\n`;
}

/**
 * A WebSocket handshake ({@link upgradeRequest}) written as given; the raw response once the
 * server closes the connection, without its `Date` line ({@link withoutDateLine}).
 */
export async function rawUpgrade(
  port: number,
  target: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<string> {
  return withoutDateLine(await rawHttp(port, upgradeRequest(target, headers)));
}

/**
 * A response without its `Date` line, which changes every second: what tests compare. Every
 * deny has one (Node writes it, and the server check writes it on a denied handshake), so
 * {@link rawUpgrade} gives a deny without it, to compare with {@link UPGRADE_DENY}.
 */
export function withoutDateLine(response: string): string {
  return response.replace(/^date: [^\r\n]*\r\n/im, '');
}

/**
 * An `'upgrade'` listener standing for a WebSocket server: answers `101` and closes, keeping
 * each request it saw and the `cdnOriginGuard` decision on it.
 */
export function answer101(): {
  listener: (req: IncomingMessage, socket: Duplex) => void;
  seen: { url: string | undefined; decision: unknown }[];
} {
  const seen: { url: string | undefined; decision: unknown }[] = [];
  return {
    seen,
    listener: (req, socket) => {
      seen.push({ url: req.url, decision: (req as { cdnOriginGuard?: unknown }).cdnOriginGuard });
      socket.end(SWITCHED);
    },
  };
}
