/**
 * Updating bench/RESULTS.md in place with the sections of a partial run (`--only=... --update`),
 * leaving the other sections, their figures and their date as they were.
 * @module
 */
import { type Section, type Target, targetVerdict } from './report.js';

/** A RESULTS.md cut at its `## ` headings. */
interface Parsed {
  /** Everything before the first `## ` heading. */
  readonly head: string;
  readonly blocks: { title: string; body: string }[];
}

function parse(md: string): Parsed {
  const parts = md.split(/^## /m);
  const head = parts.shift() ?? '';
  const blocks = parts.map((part) => {
    const nl = part.indexOf('\n');
    return { title: part.slice(0, nl < 0 ? part.length : nl).trim(), body: part.slice(nl + 1) };
  });
  return { head, blocks };
}

/**
 * The section number of a title such as `9. In-process ...` (undefined for `Machine`, ...); a
 * lettered section such as `1a.` sorts after `1.` and before `2.`.
 */
function numberOf(title: string): number | undefined {
  const m = /^(\d+)([a-z])?\./.exec(title);
  if (!m) return undefined;
  return Number(m[1]) + (m[2] ? (m[2].charCodeAt(0) - 96) / 100 : 0);
}

/** What a partial run brings. */
export interface ResultsUpdate {
  readonly sections: readonly Section[];
  /** One line saying what was updated, when and how (goes under the file's first line). */
  readonly note: string;
  /** Method bullets (each starting `- `) that replace the bullet with the same first 30 characters, or are added. */
  readonly methodBullets: readonly string[];
}

/**
 * `old` with each section of `update` replacing the section of the same number (or title), or
 * inserted in number order; the target rows of the updated sections replacing the rows with the
 * same goal (the others kept); the method bullets and the note put in.
 */
export function mergeResults(old: string, update: ResultsUpdate): string {
  const { head, blocks } = parse(old);
  for (const s of update.sections) {
    const n = numberOf(s.title);
    const body = `\n${s.markdown.trim()}\n\n`;
    const at = blocks.findIndex(
      (b) => b.title === s.title || (n !== undefined && numberOf(b.title) === n),
    );
    if (at >= 0) blocks[at] = { title: s.title, body };
    else {
      const after = blocks.findIndex((b) => (numberOf(b.title) ?? -1) > (n ?? Infinity));
      blocks.splice(after < 0 ? blocks.length : after, 0, { title: s.title, body });
    }
  }

  const targets: Target[] = update.sections.flatMap((s) => s.targets);
  const goals = new Set(targets.map((t) => t.goal));
  const targetBlock = blocks.find((b) => b.title === 'Targets');
  if (targetBlock) {
    const lines = targetBlock.body.split('\n');
    const kept = lines.filter((line) => {
      const cells = line.split(' | ');
      return !(line.startsWith('| ') && cells.length >= 3 && goals.has(cells[1]!));
    });
    const lastRow = kept.reduce((last, line, i) => (line.startsWith('|') ? i : last), -1);
    const rows = targets.map((t) => `| ${targetVerdict(t)} | ${t.goal} | ${t.figure} |`);
    kept.splice(lastRow + 1, 0, ...rows);
    targetBlock.body = kept.join('\n');
  }

  const method = blocks.find((b) => b.title === 'Method');
  if (method) {
    const lines = method.body.split('\n');
    for (const bullet of update.methodBullets) {
      const at = lines.findIndex((l) => l.slice(0, 30) === bullet.slice(0, 30));
      if (at >= 0) lines[at] = bullet;
      else {
        const lastBullet = lines.reduce((last, l, i) => (l.startsWith('- ') ? i : last), -1);
        lines.splice(lastBullet + 1, 0, bullet);
      }
    }
    method.body = lines.join('\n');
  }

  const headLines = head.split('\n');
  const noteKey = update.note.slice(0, update.note.indexOf(':') + 1);
  const noteAt = headLines.findIndex((l) => noteKey !== '' && l.startsWith(noteKey));
  if (noteAt >= 0) headLines[noteAt] = update.note;
  else {
    const firstText = headLines.findIndex((l, i) => i > 0 && l.trim() !== '');
    headLines.splice(firstText + 1, 0, '', update.note);
  }

  return [headLines.join('\n'), ...blocks.map((b) => `## ${b.title}\n${b.body}`)].join('');
}

/** The first words of a section written by hand, which a full run keeps. */
const HAND_WRITTEN = 'Written by hand';

/**
 * The sections of `old` written by hand (their text starts with "Written by hand"), as
 * markdown, for a full run to carry over: it regenerates every measured section, and must not
 * drop the before/after notes no run produces.
 */
export function handWrittenSections(old: string): string {
  return parse(old)
    .blocks.filter((b) => b.body.trimStart().startsWith(HAND_WRITTEN))
    .map((b) => `## ${b.title}\n${b.body}`)
    .join('');
}
