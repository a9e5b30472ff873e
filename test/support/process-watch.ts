/**
 * What the process reports while a test runs: warnings (`process.emitWarning`) and unhandled
 * rejections, collected until `stop()`.
 */
export function watchProcess(): {
  readonly warnings: (Error & { code?: string })[];
  readonly unhandled: unknown[];
  stop(): void;
} {
  const warnings: (Error & { code?: string })[] = [];
  const unhandled: unknown[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('warning', onWarning);
  process.on('unhandledRejection', onUnhandled);
  return {
    warnings,
    unhandled,
    stop() {
      process.off('warning', onWarning);
      process.off('unhandledRejection', onUnhandled);
    },
  };
}
