/**
 * `npm run bench:req-property`: what putting the decision on the request costs
 * (`req.cdnOriginGuard = decision`, as the Express adapter and the Nest guard do) inside a real
 * request, on Express 5 and on a plain Node server, issue 12 §2.
 *
 * Express gives each request its app's prototype (`Object.setPrototypeOf(req, app.request)`).
 * Whether V8 then reuses the hidden-class transition for a property added to the request, or
 * builds a new hidden class per request, depends on the V8 version; this measures it. Variants,
 * one at a time in a middleware (Express) or the request listener (plain Node), timing only the
 * variant's own statement with `process.hrtime.bigint()`:
 * - nothing (the baseline);
 * - own property: `req.cdnOriginGuard = decision`;
 * - `res.locals` key: `res.locals[key] = decision` (Express only: a dictionary object Express
 *   makes per request; the alternative measured and not adopted, see bench/RESULTS.md).
 * Requests go over one keep-alive connection to 127.0.0.1 (servers this process starts and
 * closes), the variants taking turns 4 requests at a time in random order; per round (100 turns
 * each) the median single-statement time per variant; figures are the median over rounds of the
 * per-round difference to "nothing", with the p25–p75 of those differences.
 *
 * Run: `npm run bench:req-property` (about 30 s); with another Node on PATH for its figures.
 * `BENCH_REQ_PROPERTY_ROUNDS` (default 30).
 * @module
 */
import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import express from 'express';
import { table } from './lib/report.js';
import { formatNs, summarize } from './lib/stats.js';

type Variant = 'nothing' | 'own property' | 'res.locals key';
const ROUNDS = Number(process.env.BENCH_REQ_PROPERTY_ROUNDS) || 30;
const TURNS = 100;
/** A decision-shaped object (what is stored does not matter, only where). */
const DECISION = Object.freeze({ allowed: true, reason: 'verified' });
const KEY = Symbol.for('@cdn-origin-guard/bench-decision');

let variant: Variant = 'nothing';
let times: Record<Variant, number[]> = { nothing: [], 'own property': [], 'res.locals key': [] };

type Req = IncomingMessage & { cdnOriginGuard?: unknown };

/** Runs the current variant's statement on `req`/`locals` and records its time. */
function timed(req: Req, locals: Record<symbol, unknown> | undefined): void {
  const v = variant;
  const t0 = process.hrtime.bigint();
  if (v === 'own property') req.cdnOriginGuard = DECISION;
  else if (v === 'res.locals key' && locals) locals[KEY] = DECISION;
  const ns = Number(process.hrtime.bigint() - t0);
  times[v].push(ns);
}

function expressApp(): Server {
  const app = express();
  app.use((req, res, next) => {
    timed(req as Req, res.locals as Record<symbol, unknown>);
    next();
  });
  app.get('/', (_req, res) => {
    res.send('hello world');
  });
  return createServer(app);
}

function plainServer(): Server {
  return createServer((req, res) => {
    timed(req as Req, undefined);
    res.end('hello world');
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('bench: no port');
  return address.port;
}

/** Measures `variants` on `server`; returns per-variant summaries of (variant − nothing). */
async function measure(server: Server, variants: readonly Variant[]) {
  const port = await listen(server);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`bench: ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  const all: Variant[] = ['nothing', ...variants];
  const turn = async () => {
    const order = [...all].sort(() => Math.random() - 0.5);
    for (const v of order) {
      variant = v;
      for (let i = 0; i < 4; i++) await one();
    }
  };
  for (let i = 0; i < 300; i++) await turn(); // warm-up
  const diffs = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    times = { nothing: [], 'own property': [], 'res.locals key': [] };
    for (let i = 0; i < TURNS; i++) await turn();
    const base = summarize(times.nothing).median;
    for (const v of variants) diffs.get(v)!.push(summarize(times[v]).median - base);
  }
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return variants.map((v) => ({ variant: v, diff: summarize(diffs.get(v)!) }));
}

async function main(): Promise<void> {
  const rows: string[][] = [];
  const servers: [string, () => Server, Variant[]][] = [
    ['Express 5', expressApp, ['own property', 'res.locals key']],
    ['plain Node', plainServer, ['own property']],
  ];
  for (const [name, make, variants] of servers)
    for (const { variant: v, diff } of await measure(make(), variants))
      rows.push([
        name,
        v,
        `${formatNs(diff.median)} (${formatNs(diff.p25)} to ${formatNs(diff.p75)})`,
      ]);
  console.log(`Node ${process.version} (V8 ${process.versions.v8}), ${ROUNDS} rounds`);
  console.log(table(['server', 'statement', 'time − nothing: median (p25 to p75)'], rows));
}

await main();
