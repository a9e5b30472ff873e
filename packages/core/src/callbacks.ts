/**
 * User callbacks (`onDecision`, `onSourceError`, `onSourceEvent` listeners) may be `async`: the
 * types accept a function returning a promise. A promise that rejects must be handled like a
 * throw, never left unhandled (Node ends the process on an unhandled rejection, and a callback
 * that runs on every decision would let any request do that).
 * @module
 */

/**
 * When `result` (what a user's callback or logger returned) is a thenable, route its rejection
 * to `onRejected`; anything else is ignored. Never throws. For adapters calling user code.
 *
 * @example
 * ```ts
 * import { handleRejection } from '@cdn-origin-guard/core';
 * const logger = { info: async (line: string) => { throw new Error(`log backend down: ${line}`); } };
 * handleRejection(logger.info('a line'), (error) => console.warn('the logger failed', error));
 * ```
 */
export function handleRejection(result: unknown, onRejected: (error: unknown) => void): void {
  if (result === undefined || result === null) return;
  if (typeof result !== 'object' && typeof result !== 'function') return;
  // `onRejected` itself must not throw out of here, nor reject the promise `then` returns.
  const report = (error: unknown) => {
    try {
      onRejected(error);
    } catch {
      // Reporting failed (an unprintable error): nothing more can be done safely.
    }
  };
  try {
    const then = (result as { then?: unknown }).then;
    if (typeof then === 'function') then.call(result, undefined, report);
  } catch (error) {
    // A thenable whose `then` getter or call throws: reported the same way.
    report(error);
  }
}

/**
 * The message of something thrown, for a log line or warning, never throwing itself (a
 * null-prototype object or a `toString` that throws cannot be turned into a string).
 */
export function errorText(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'a value that cannot be shown';
  }
}

/**
 * Report that a user callback threw (`kind` names it: `onDecision`, `onSourceEvent`, ...): as a
 * process warning (Node's channel for a library's problems, shown on stderr unless the app
 * handles `'warning'`), so a broken hook is seen, while the request or refresh it ran in goes
 * on unharmed. Callers report each kind once.
 */
export function warnCallbackThrew(kind: string, error: unknown): void {
  process.emitWarning(
    `@cdn-origin-guard: the ${kind} callback threw (${errorText(error)}); the guard ignored it and went on. Further throws of this callback are not reported.`,
    { code: 'CDN_ORIGIN_GUARD_CALLBACK_THREW' },
  );
}

/**
 * A caller of an app's logger for one adapter: `log(name, call)` runs `call` (one logger method
 * call). A logger that throws, or whose promise rejects, never breaks the request that brought
 * the line: the line is lost, and the first such failure is said once, as a process warning
 * (code `CDN_ORIGIN_GUARD_LOGGER_THREW`), since the logger itself cannot be trusted to say it.
 * Before the thirteenth session only the Express adapter did this: a Fastify logger that threw
 * on a deny line turned the uniform deny into a 500 carrying the error's message, or, on a deny
 * decided asynchronously, into an unhandled rejection that ends the process (outside review).
 *
 * @param packageName the adapter's package, for the warning (`@cdn-origin-guard/fastify`).
 * @example
 * ```ts
 * const log = loggerCaller('@cdn-origin-guard/fastify');
 * log('info', () => request.log.info({ reason }, 'cdn-origin-guard denied request'));
 * ```
 */
export function loggerCaller(packageName: string): (name: string, call: () => unknown) => void {
  let said = false;
  return (name, call) => {
    const threw = (error: unknown) => {
      if (said) return;
      said = true;
      process.emitWarning(
        `${packageName}: the logger's ${name}() threw (${errorText(error)}); its guard lines are lost. Further throws are not reported.`,
        { code: 'CDN_ORIGIN_GUARD_LOGGER_THREW' },
      );
    };
    try {
      handleRejection(call(), threw);
    } catch (error) {
      threw(error);
    }
  };
}
