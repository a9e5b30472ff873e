/**
 * Structured log lines: one JSON object per event, with the step, the secret ARN, the version
 * id and what was touched. Callers pass ids and durations only, never a value.
 * @module
 */

/** What a step reports about one event. */
export interface EventFields {
  readonly event: string;
  readonly distributionIds?: readonly string[];
  readonly ruleArns?: readonly string[];
  readonly durationMs?: number;
  readonly level?: 'info' | 'warn' | 'error';
  readonly [extra: string]: unknown;
}

/** Fields of one log line: the event, and which step, secret and version it belongs to. */
export interface LogFields extends EventFields {
  readonly step: string;
  readonly secretArn?: string | undefined;
  readonly versionId?: string | undefined;
}

/** Write one line through `sink`; a throwing sink never breaks a step. */
export function writeLog(sink: (line: string) => void, fields: LogFields): void {
  try {
    sink(JSON.stringify({ level: 'info', source: 'cdn-origin-guard-rotation', ...fields }));
  } catch {
    // Logging must not fail a rotation step.
  }
}
