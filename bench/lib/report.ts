/**
 * What each benchmark returns to the orchestrator: markdown for RESULTS.md and targets judged
 * PASS / MISS with the figure that decided.
 * @module
 */
import type { Summary } from './stats.js';

/** A target the project sets itself, judged on one figure of this run. */
export interface Target {
  /** Short label, e.g. `verify <= 0.5 µs`. */
  readonly goal: string;
  /** The deciding figure with its spread, e.g. `0.41 µs (0.39–0.44 µs)`. */
  readonly figure: string;
  readonly pass: boolean;
  /**
   * The figure's confidence interval straddles the limit: neither met nor missed (`pass` is
   * then false).
   */
  readonly undecided?: boolean;
  /** Optional note (e.g. what was skipped). */
  readonly note?: string;
}

/** One part of the report. */
export interface Section {
  readonly title: string;
  /** Markdown body (tables and notes), without the title. */
  readonly markdown: string;
  readonly targets: readonly Target[];
  /** Raw figures for a caller that combines sections (e.g. verify across Node versions). */
  readonly figures?: Readonly<Record<string, Summary>>;
}

/** A markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `PASS` or `MISS`. */
export function verdict(pass: boolean): 'PASS' | 'MISS' {
  return pass ? 'PASS' : 'MISS';
}

/** `PASS`, `MISS` or `UNDECIDED` for a target. */
export function targetVerdict(t: Target): 'PASS' | 'MISS' | 'UNDECIDED' {
  return t.undecided ? 'UNDECIDED' : verdict(t.pass);
}

/** Plain-text aligned table for the console. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const fmt = (r: readonly string[]) =>
    r.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** Logs a progress line to stderr (stdout stays free for machine-readable output). */
export function progress(message: string): void {
  const t = (performance.timeOrigin + performance.now() - START) / 1000;
  process.stderr.write(`[bench +${t.toFixed(1)} s] ${message}\n`);
}

/** When the orchestrator started (inherited by child processes through the environment). */
const START = Number(process.env.BENCH_T0) || Date.now();
process.env.BENCH_T0 ??= String(START);
