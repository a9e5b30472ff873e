/**
 * The clock the sources measure intervals with: milliseconds since the epoch as of process
 * start, advanced by a monotonic clock (`performance.now()`). A wall clock stepped backwards (NTP,
 * a VM resumed) would otherwise stretch every interval by the step: a forced refresh rate-limited
 * for an hour, values past `maxStaleMs` kept (outside review, 4 December).
 * @module
 */

/** Now, in ms since the epoch at process start plus monotonic time since. */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
