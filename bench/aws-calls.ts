/**
 * AWS calls under load: a guarded Express server reading its secret from Secrets Manager (the
 * local AWS-protocol endpoint of test/aws-local) is loaded at full speed; the endpoint counts
 * Secrets Manager calls (`DescribeSecret` and `GetSecretValue`), which must stay within what the
 * refresh interval (plus the
 * rate-limited mismatch refreshes that the few wrong-secret requests may force) implies,
 * whatever the request rate.
 *
 * Run alone: `tsx bench/aws-calls.ts [--quick]` (BENCH_AWS_DURATION seconds).
 * @module
 */
import { pathToFileURL } from 'node:url';
import { startLocalAws } from '../test/aws-local/index.js';
import { type ChildServer, loadServer, startChildServer } from './lib/child.js';
import {
  CLOUDFRONT_LIKE,
  legitRequest,
  prng,
  SECRET_CURRENT,
  SECRET_HEADER,
  SECRET_PREVIOUS,
  SEED,
} from './lib/fixtures.js';
import { progress, type Section, type Target, table, verdict } from './lib/report.js';
import { formatInt } from './lib/stats.js';

/** Load duration and refresh settings. */
export interface AwsCallsConfig {
  readonly durationS: number;
  readonly refreshMs: number;
  readonly mismatchRefreshMs: number;
  readonly connections: number;
}

const GET = 'secretsmanager.GetSecretValue';
const DESCRIBE = 'secretsmanager.DescribeSecret';
const SECRET_ID = 'bench/cloudfront/origin-verify';
/**
 * Most Secrets Manager calls of one load with the default stages: a first or forced load reads
 * AWSCURRENT, AWSPREVIOUS and AWSPENDING (3 calls); a scheduled refresh makes 1 when nothing moved.
 */
const STAGES = 3;
/** Default refresh jitter (±10 %). */
const JITTER = 0.1;
/** One request in this many carries a wrong secret (forces a rate-limited refresh). */
const WRONG_EVERY = 50;

/** Loads the guarded server and counts Secrets Manager calls. */
export async function benchAwsCalls(config: AwsCallsConfig): Promise<Section> {
  progress(`aws: ${config.durationS} s of load against a Secrets Manager-backed guard`);
  const aws = await startLocalAws();
  let server: ChildServer | undefined;
  try {
    aws.secrets.put(SECRET_ID, SECRET_PREVIOUS);
    aws.secrets.put(SECRET_ID, SECRET_CURRENT); // now AWSCURRENT; the first is AWSPREVIOUS
    server = await startChildServer('express', 'guard', {
      ...process.env,
      ...aws.env(),
      BENCH_SECRET_ID: SECRET_ID,
      BENCH_SECRET_REFRESH_MS: String(config.refreshMs),
      BENCH_MISMATCH_REFRESH_MS: String(config.mismatchRefreshMs),
      NODE_NO_WARNINGS: '1',
    });
    const smCalls = () => aws.callCount(GET) + aws.callCount(DESCRIBE);
    const atReady = smCalls();
    const rand = prng(SEED + 5);
    const requests = Array.from({ length: WRONG_EVERY }, (_, i) => {
      const { host: _host, ...headers } = legitRequest(rand, CLOUDFRONT_LIKE).headers;
      if (i === WRONG_EVERY - 1) headers[SECRET_HEADER] = 'a-wrong-secret-value-from-an-attacker';
      return { path: '/', headers };
    });
    const before = await server.stats();
    const load = await loadServer(server.url, {
      durationS: config.durationS,
      connections: config.connections,
      headers: {},
      requests,
    });
    const after = await server.stats();
    const calls = smCalls() - atReady;
    const secret = after?.sources.secret;
    const loads = (secret?.loads ?? 0) - (before?.sources.secret.loads ?? 0);
    const forced = (secret?.forcedRefreshes ?? 0) - (before?.sources.secret.forcedRefreshes ?? 0);
    const verified = (after?.byReason.verified ?? 0) - (before?.byReason.verified ?? 0);
    const invalid =
      (after?.byReason['invalid-secret'] ?? 0) - (before?.byReason['invalid-secret'] ?? 0);
    const durationMs = load.durationS * 1000;
    // Scheduled refreshes: one DescribeSecret each; forced ones read every stage.
    const expected = durationMs / config.refreshMs + Math.min(loads, forced) * (STAGES - 1);
    const periodicMax = Math.ceil(durationMs / (config.refreshMs * (1 - JITTER)));
    const forcedMax = Math.ceil(durationMs / config.mismatchRefreshMs);
    const bound = STAGES * (periodicMax + forcedMax);
    const target: Target = {
      goal: 'Secrets Manager calls under full load bounded by the refresh interval',
      figure: `${calls} Secrets Manager calls in ${load.durationS} s at ${formatInt(load.rps)} req/s (≈ ${expected.toFixed(1)} expected; bound ${bound} with forced refreshes)`,
      pass: calls <= bound && load.errors === 0,
    };
    const md = [
      `The local AWS-protocol endpoint (test/aws-local) serves the secret (AWSCURRENT and AWSPREVIOUS). A guarded Express server in a child process loads it with \`secretId\`, \`secretRefreshMs\` ${config.refreshMs} ms (jitter ±${JITTER * 100} %), \`mismatchRefreshMs\` ${config.mismatchRefreshMs} ms, default stages (a first or forced load reads the ${STAGES} stages with ${STAGES} \`GetSecretValue\`; a scheduled refresh asks \`DescribeSecret\` and reads only versions it has not read). autocannon loads it for ${config.durationS} s with ${config.connections} connections; 1 request in ${WRONG_EVERY} carries a wrong secret, which asks for a (rate-limited) refresh.`,
      '',
      table(
        ['figure', 'value'],
        [
          ['requests (req/s)', `${formatInt(load.total)} (${formatInt(load.rps)})`],
          ['verified / invalid-secret decisions', `${formatInt(verified)} / ${formatInt(invalid)}`],
          ['Secrets Manager calls at startup', String(atReady)],
          [
            'Secrets Manager calls during the load (DescribeSecret / GetSecretValue)',
            `${calls} (${aws.callCount(DESCRIBE)} / ${aws.callCount(GET) - atReady})`,
          ],
          ['secret loads during the load (of which forced by a mismatch)', `${loads} (${forced})`],
          [
            'expected: duration / refresh (1 DescribeSecret each) + forced loads × 2 (3 GetSecretValue instead of 1 call; a forced load resets the refresh timer)',
            `${(durationMs / 1000).toFixed(1)} s / ${config.refreshMs / 1000} s + ${forced} × ${STAGES - 1} ≈ ${expected.toFixed(1)}`,
          ],
          [
            'bound: stages × (⌈duration / (refresh × 0.9)⌉ + ⌈duration / mismatchRefresh⌉)',
            `${STAGES} × (${periodicMax} + ${forcedMax}) = ${bound}`,
          ],
        ],
      ),
      '',
      `**${verdict(target.pass)}**: ${target.goal}: ${target.figure}.`,
    ].join('\n');
    return { title: '7. AWS calls under load', markdown: md, targets: [target] };
  } finally {
    await server?.close();
    await aws.close();
  }
}

/** Durations from the environment, with quick and full defaults. */
export function awsCallsConfig(quick: boolean): AwsCallsConfig {
  return {
    durationS: Number(process.env.BENCH_AWS_DURATION) || (quick ? 4 : 30),
    refreshMs: quick ? 2_000 : 10_000,
    mismatchRefreshMs: quick ? 3_000 : 15_000,
    connections: 50,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const s = await benchAwsCalls(awsCallsConfig(quick));
  console.log(`## ${s.title}\n\n${s.markdown}`);
}
