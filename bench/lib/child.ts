/**
 * Starting benchmark servers in child processes (so the load generator never shares their event
 * loop), and loading them with autocannon for a bounded time.
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { Framework, GuardMode, ServerMessage } from '../server.js';
import { TS_FLAGS } from './node.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));
/** A server running in a child process. */
export interface ChildServer {
  readonly label: string;
  readonly url: string;
  readonly pid: number | undefined;
  /** The verifier's stats (null for a server without the guard). */
  stats(): Promise<Extract<ServerMessage, { type: 'stats' }>['stats']>;
  /** The child's CPU time so far, user and system, in microseconds. */
  cpu(): Promise<{ user: number; system: number }>;
  /** SIGTERM, then SIGKILL after 5 s if it is still there. */
  close(): Promise<void>;
}

/** Starts `node [flags] bench/server.ts framework mode 0` (under register.mjs) and waits until it listens. */
export function startChildServer(
  framework: Framework,
  mode: GuardMode,
  env: NodeJS.ProcessEnv = process.env,
  flags: readonly string[] = [],
  timeoutMs = 120_000,
): Promise<ChildServer> {
  const label = `${framework} ${mode}`;
  const child: ChildProcess = spawn(
    process.execPath,
    [...flags, ...TS_FLAGS, SERVER, framework, mode, '0'],
    {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<ChildServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${label}: did not listen within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${label}: exited with code ${code} before listening`));
    };
    child.once('exit', onExit);
    const onMessage = (m: ServerMessage) => {
      if (m.type === 'error') {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.kill('SIGKILL');
        reject(new Error(`${label}: ${m.message.split('\n')[0]}`));
        return;
      }
      if (m.type !== 'listening') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      const ask = <T extends ServerMessage['type']>(type: T) =>
        new Promise<Extract<ServerMessage, { type: T }>>((res, rej) => {
          const t = setTimeout(() => rej(new Error(`${label}: no ${type} reply`)), 10_000);
          const onReply = (reply: ServerMessage) => {
            if (reply.type !== type) return;
            clearTimeout(t);
            child.off('message', onReply);
            res(reply as Extract<ServerMessage, { type: T }>);
          };
          child.on('message', onReply);
          child.send({ type });
        });
      resolve({
        label,
        url: `http://127.0.0.1:${m.port}`,
        pid: child.pid,
        stats: async () => (await ask('stats')).stats,
        cpu: async () => {
          const { user, system } = await ask('cpu');
          return { user, system };
        },
        close: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        },
      });
    };
    child.on('message', onMessage);
  });
}

/** One bounded load run. */
export interface LoadResult {
  /** Completed requests per second over the run. */
  readonly rps: number;
  readonly total: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly durationS: number;
}

/** Options of {@link loadServer}. */
export interface LoadOptions {
  readonly durationS: number;
  readonly connections: number;
  readonly headers: Record<string, string>;
  /** Requests cycled in order on each connection instead of a plain `GET /`. */
  readonly requests?: { path: string; headers: Record<string, string> }[];
}

/** Loads `url` with autocannon (`pipelining` 1) for `durationS` seconds; stops by itself. */
export async function loadServer(url: string, options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationS,
    headers: options.headers,
    ...(options.requests
      ? { requests: options.requests.map((r) => ({ method: 'GET', ...r })) }
      : {}),
  });
  const durationS = result.duration;
  return {
    rps: result.requests.total / durationS,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    durationS,
  };
}
