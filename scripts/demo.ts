/**
 * `npm run demo`: the whole story on embedded defaults, no AWS account needed.
 *
 * 1. Starts the local AWS-protocol endpoint (Secrets Manager + EC2 prefix lists) on 127.0.0.1.
 * 2. Starts the Express example app, configured only from the environment, with the real AWS
 *    SDK v3 clients pointed at that endpoint (`AWS_ENDPOINT_URL_*`).
 * 3. Plays the traffic of the threat model (docs/ARCHITECTURE.md, section 2) against it over
 *    real HTTP, rotates the secret the way Secrets Manager does, and prints who sent what and
 *    what the guard decided.
 * 4. Plays the attacks again in report mode, then stops by itself.
 *
 * Every request goes to the app on 127.0.0.1. The app's socket peer (127.0.0.1) plays the ALB;
 * requests sent from 127.0.0.2 play a client that reached the app around the ALB.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Decision } from '@cdn-origin-guard/core';
import { createApp } from '../examples/express/src/app.js';
import { CLOUDFRONT_ORIGIN_FACING_V4, startLocalAws } from '../test/aws-local/index.js';
import { auditDemo } from './demo/audit.js';
import { rotationDemo } from './demo/rotation.js';

const SECRET_ID = 'prod/cloudfront/origin-verify';
const tty = process.stdout.isTTY;
const paint = (code: string, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const green = (t: string) => paint('32', t);
const red = (t: string) => paint('31', t);
const yellow = (t: string) => paint('33', t);
const dim = (t: string) => paint('2', t);
const bold = (t: string) => paint('1', t);

/** Labels for the secret values, so the demo never prints any part of one. */
const labels = new Map<string, string>();
/** A fresh secret value, as a rotation Lambda would generate; shown only as `v1`, `v2`, ... */
const newSecret = () => {
  const value = randomBytes(24).toString('base64url');
  labels.set(value, `v${labels.size + 1}`);
  return value;
};
const masked = (s: string) => labels.get(s) ?? 'an unknown value';
const cfId = () => randomBytes(42).toString('base64url');

// An address inside CloudFront's origin-facing list the local EC2 endpoint serves.
const firstRange = CLOUDFRONT_ORIGIN_FACING_V4[0]!.split('/')[0]!.split('.').map(Number);
const EDGE = [firstRange[0], firstRange[1], firstRange[2], (firstRange[3] ?? 0) + 17].join('.');
const VIEWER = '198.51.100.23';
const BOT = '203.0.113.66';

interface Shot {
  who: string;
  method?: string;
  path: string;
  headers: Record<string, string>;
  /** Connect from this local address (127.0.0.2 = a client around the ALB). */
  from?: string;
  sent: string;
}

interface Row {
  who: string;
  sent: string;
  status: number;
  decision: Decision | undefined;
}

function send(port: number, shot: Shot): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: shot.method ?? 'GET',
        path: shot.path,
        headers: shot.headers,
        localAddress: shot.from,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

function outcome(d: Decision | undefined, status: number): string {
  if (!d) return red(`HTTP ${status}`);
  if (d.reason === 'reported') return yellow('REPORTED');
  return d.allowed ? green('ALLOWED') : red('DENIED');
}

function reasonOf(d: Decision | undefined): string {
  if (!d) return '-';
  if (d.reason === 'reported') return `would deny: ${d.failures.join(', ')}`;
  if (d.reason === 'verified') return `verified (${d.secretStage})`;
  return d.reason;
}

function printTable(title: string, rows: Row[]): void {
  const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
  const table = rows.map((r, i) => [
    String(i + 1),
    r.who,
    r.sent,
    String(r.status),
    outcome(r.decision, r.status),
    reasonOf(r.decision),
  ]);
  const head = ['#', 'who', 'what was sent', 'HTTP', 'outcome', 'reason (server log only)'];
  const widths = head.map((h, c) =>
    Math.max(h.length, ...table.map((row) => strip(row[c]!).length)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, c) => cell + ' '.repeat(widths[c]! - strip(cell).length)).join('  ');
  console.log(`\n${bold(title)}`);
  console.log(bold(line(head)));
  console.log(dim(widths.map((w) => '─'.repeat(w)).join('  ')));
  for (const row of table) console.log(line(row));
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  // 1. Local AWS.
  const aws = await startLocalAws();
  let current = newSecret();
  aws.secrets.put(SECRET_ID, current);
  Object.assign(process.env, aws.env());

  // 2. The Express example, configured from the environment only.
  const env = {
    ...process.env,
    CDN_ORIGIN_GUARD_SECRET_ID: SECRET_ID,
    CDN_ORIGIN_GUARD_RANGES: 'prefix-list',
    CDN_ORIGIN_GUARD_HEALTH_PATHS: '/healthz',
    // The ALB is 127.0.0.1 here; 127.0.0.2 plays a client that got around it.
    CDN_ORIGIN_GUARD_TRUSTED_PROXIES: '127.0.0.1/32,uniquelocal',
    CDN_ORIGIN_GUARD_REFRESH_SECONDS: '2',
    CDN_ORIGIN_GUARD_SECRET: undefined,
    CDN_ORIGIN_GUARD_IP_RANGES_URL: undefined,
  };
  const decisions: Decision[] = [];
  const logLines: string[] = [];
  const start = async (extraEnv: Record<string, string>) => {
    const { app, guard } = createApp({
      env: { ...env, ...extraEnv },
      log: (l) => logLines.push(l),
      // A value that matches nothing forces a Secrets Manager read at most once per window:
      // 1 s here so the story runs quickly, 30 s by default.
      guard: { mismatchRefreshMs: 1_000 },
    });
    // Capture each decision next to the example's own deny log.
    const verifier = guard.verifier;
    await verifier.ready();
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return { server, guard, port: (server.address() as AddressInfo).port };
  };

  console.log(bold('cdn-origin-guard demo'));
  await auditDemo();
  console.log(
    dim(
      `local AWS endpoint ${aws.url} (Secrets Manager + EC2), secret ${SECRET_ID} = ${masked(current)} (AWSCURRENT)`,
    ),
  );

  const enforce = await start({});
  const { guard } = enforce;
  // Wrap verifier.check to see each decision (the example logs only denies to stdout).
  const originalCheck = guard.verifier.check.bind(guard.verifier);
  (guard.verifier as { check: typeof originalCheck }).check = (input) => {
    const result = originalCheck(input);
    if (result instanceof Promise)
      return result.then((d) => {
        decisions.push(d);
        return d;
      });
    decisions.push(result);
    return result;
  };
  console.log(
    dim(
      `Express example listening on http://127.0.0.1:${enforce.port}, ranges from prefix list ${aws.ec2.getPrefixList('com.amazonaws.global.cloudfront.origin-facing')?.id ?? ''}`,
    ),
  );

  const viaOurCloudFront = (secret: string, path = '/whoami'): Shot => ({
    who: 'viewer via our CloudFront',
    path,
    headers: {
      'x-forwarded-for': `${VIEWER}, ${EDGE}`,
      'x-amz-cf-id': cfId(),
      'x-origin-verify': secret,
    },
    sent: `GET ${path}  XFF "${VIEWER}, ${EDGE}" + cf-id + secret ${masked(secret)}`,
  });
  const attacks = (): Shot[] => [
    {
      who: 'scanner bot straight to the ALB',
      path: '/.env',
      headers: { 'x-forwarded-for': BOT, 'user-agent': 'zgrab/0.x' },
      sent: `GET /.env  XFF "${BOT}" (appended by the ALB)`,
    },
    {
      who: 'scanner bot straight to the ALB',
      path: '/wp-admin',
      headers: { 'x-forwarded-for': BOT },
      sent: `GET /wp-admin  XFF "${BOT}"`,
    },
    {
      who: "someone else's CloudFront distribution",
      path: '/',
      headers: { 'x-forwarded-for': `${BOT}, ${EDGE}`, 'x-amz-cf-id': cfId() },
      sent: `GET /  real CloudFront edge ${EDGE} + cf-id, no secret`,
    },
    {
      who: "someone else's CloudFront distribution",
      path: '/',
      headers: {
        'x-forwarded-for': `${BOT}, ${EDGE}`,
        'x-amz-cf-id': cfId(),
        'x-origin-verify': 'their-own-origin-secret-value',
      },
      sent: 'GET /  CloudFront edge + cf-id + a guessed secret',
    },
    {
      who: 'bot forging X-Forwarded-For',
      path: '/',
      headers: { 'x-forwarded-for': `${VIEWER}, ${EDGE}, ${BOT}`, 'x-amz-cf-id': cfId() },
      sent: `GET /  sends XFF "${VIEWER}, ${EDGE}"; the ALB appends ${BOT}`,
    },
    {
      who: 'client around the ALB (open task SG)',
      path: '/',
      from: '127.0.0.2',
      headers: { 'x-forwarded-for': `${VIEWER}, ${EDGE}`, 'x-amz-cf-id': cfId() },
      sent: 'GET /  from 127.0.0.2, not the ALB, with a CloudFront-looking XFF',
    },
    {
      who: 'ALB health checker',
      path: '/healthz',
      headers: { 'user-agent': 'ELB-HealthChecker/2.0' },
      sent: 'GET /healthz  no XFF, from the ALB',
    },
  ];

  const rows: Row[] = [];
  const play = async (port: number, shot: Shot, into: Row[]) => {
    const before = decisions.length;
    const status = await send(port, shot);
    into.push({ who: shot.who, sent: shot.sent, status, decision: decisions[before] });
  };

  await play(enforce.port, viaOurCloudFront(current), rows);
  for (const shot of attacks()) await play(enforce.port, shot, rows);

  // 3. Rotation, the way AWS's CloudFront secret-rotation sample does it. The other
  // distribution's requests above (no secret, then a guessed one) used this window's forced
  // refresh and scheduled the trailing one at its end, so let both windows pass first.
  await new Promise((r) => setTimeout(r, 2_100));
  const old = current;
  const next = newSecret();
  aws.secrets.stagePending(SECRET_ID, next);
  await play(
    enforce.port,
    { ...viaOurCloudFront(next), who: 'rotation: CloudFront switched to AWSPENDING' },
    rows,
  );
  await play(
    enforce.port,
    { ...viaOurCloudFront(old), who: 'rotation: an edge still on the old value' },
    rows,
  );
  aws.secrets.promote(SECRET_ID);
  current = next;
  await new Promise((r) => setTimeout(r, 2_600)); // one refresh interval (2 s + jitter)
  await play(
    enforce.port,
    { ...viaOurCloudFront(current), who: 'rotation promoted: new value' },
    rows,
  );
  await play(enforce.port, { ...viaOurCloudFront(old), who: 'rotation promoted: old value' }, rows);
  const third = newSecret();
  aws.secrets.rotate(SECRET_ID, third);
  await new Promise((r) => setTimeout(r, 2_600));
  await play(
    enforce.port,
    { ...viaOurCloudFront(third), who: 'next rotation: newest value' },
    rows,
  );
  await play(
    enforce.port,
    { ...viaOurCloudFront(old), who: 'next rotation: value from two rotations ago' },
    rows,
  );
  current = third;

  printTable('Enforce mode (CDN_ORIGIN_GUARD_MODE unset)', rows);
  const uniform = new Set(
    rows.filter((r) => r.decision && !r.decision.allowed).map((r) => r.status),
  );
  console.log(
    dim(
      `Every deny got the same response (HTTP ${[...uniform].join(', ')} "Forbidden"); the reason is only in the server's log:`,
    ),
  );
  for (const l of logLines.slice(0, 3)) console.log(dim(`  ${l}`));
  const stats = guard.verifier.stats();
  await new Promise<void>((resolve) => enforce.server.close(() => resolve()));
  await guard.close();

  // 4. The same attacks in report mode: nothing is blocked, everything is reported.
  const report = await start({ CDN_ORIGIN_GUARD_MODE: 'report' });
  const reportCheck = report.guard.verifier.check.bind(report.guard.verifier);
  (report.guard.verifier as { check: typeof reportCheck }).check = (input) => {
    const r = reportCheck(input);
    if (r instanceof Promise)
      return r.then((d) => {
        decisions.push(d);
        return d;
      });
    decisions.push(r);
    return r;
  };
  const reportRows: Row[] = [];
  await play(report.port, viaOurCloudFront(current), reportRows);
  for (const shot of attacks()) await play(report.port, shot, reportRows);
  printTable('Report mode (CDN_ORIGIN_GUARD_MODE=report): the safe way to roll out', reportRows);
  await new Promise<void>((resolve) => report.server.close(() => resolve()));
  await report.guard.close();

  // 5. One full rotation through the rotation handler, under traffic (scripts/demo/rotation.ts).
  const rotationOk = await rotationDemo({
    aws,
    newValue: newSecret,
    edge: EDGE,
    print: console.log,
    bold,
    dim,
  });

  console.log(`\n${bold('Enforce-mode stats()')} ${dim('(no secret value anywhere)')}`);
  const nonZero = Object.entries(stats.byReason).filter(([, n]) => n > 0);
  console.log(`  by reason: ${nonZero.map(([k, n]) => `${k}=${n}`).join(', ')}`);
  console.log(
    `  verified by secret stage: ${Object.entries(stats.bySecretStage)
      .map(([k, n]) => `${k}=${n}`)
      .join(', ')}`,
  );
  console.log(
    `  AWS calls seen by the local endpoint: DescribeSecret=${aws.callCount('secretsmanager.DescribeSecret')}, GetSecretValue=${aws.callCount('secretsmanager.GetSecretValue')}, DescribeManagedPrefixLists=${aws.callCount('ec2.DescribeManagedPrefixLists')}, GetManagedPrefixListEntries=${aws.callCount('ec2.GetManagedPrefixListEntries')}`,
  );
  await aws.close();

  // The story must have played out as designed; a regression makes the demo fail loudly.
  const expected = [
    'verified',
    'edge-not-cloudfront',
    'edge-not-cloudfront',
    'missing-secret',
    'invalid-secret',
    'edge-not-cloudfront',
    'untrusted-peer',
    'health-check',
    'verified',
    'verified',
    'verified',
    'verified',
    'verified',
    'invalid-secret',
  ];
  const got = rows.map((r) => r.decision?.reason);
  const ok =
    JSON.stringify(got) === JSON.stringify(expected) &&
    reportRows.every((r) => r.decision?.allowed === true && r.status !== 403) &&
    rows.every((r) => (r.decision?.allowed ? r.status === 200 : r.status === 403)) &&
    rotationOk;
  console.log(
    ok
      ? green(
          `\nDemo finished in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: every decision as designed.`,
        )
      : red(`\nDemo finished, but decisions differ from the design: ${JSON.stringify(got)}`),
  );
  process.exitCode = ok ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(red(`demo failed: ${(error as Error).stack ?? String(error)}`));
  process.exit(1);
});
