import { describe, expect, it } from 'vitest';
import { handWrittenSections, mergeResults } from '../../bench/lib/results-file.js';

const OLD = `# Benchmark results

Written by \`npm run bench\` on 2026-11-26.

## Method

- Micro-benchmarks: one process.
- Whole-server runs: autocannon.

## Targets

| | target | figure |
| --- | --- | --- |
| PASS | verify fast | 1 µs |
| MISS | old inject goal | 9 % |

## 5. Whole server

autocannon figures

## 8. Candidates

candidate figures
`;

describe('mergeResults', () => {
  it('replaces a section of the same number, keeps the others and their target rows', () => {
    const first = mergeResults(OLD, {
      sections: [
        {
          title: '9. Injection',
          markdown: 'injected figures',
          targets: [{ goal: 'old inject goal', figure: '1.5 % [1.2 %, 1.8 %]', pass: true }],
        },
      ],
      note: 'Sections 9 updated: today.',
      methodBullets: ['- In-process injection: paired.'],
    });
    const md = mergeResults(first, {
      sections: [
        {
          title: '9. In-process injection',
          markdown: 'newer figures',
          targets: [
            {
              goal: 'old inject goal',
              figure: '2.5 % [1.9 %, 3.1 %]',
              pass: false,
              undecided: true,
            },
          ],
        },
      ],
      note: 'Sections 9 updated: tomorrow.',
      methodBullets: ['- In-process injection: paired, rotated.'],
    });

    // The untouched sections stay, in number order, with the new one after them.
    expect(md.indexOf('## 5. Whole server')).toBeLessThan(md.indexOf('## 8. Candidates'));
    expect(md.indexOf('## 8. Candidates')).toBeLessThan(md.indexOf('## 9. In-process injection'));
    expect(md).toContain('autocannon figures');
    expect(md).toContain('newer figures');
    expect(md).not.toContain('injected figures');
    expect(md).not.toContain('## 9. Injection');
    // One row per goal: the old row replaced, the unrelated one kept.
    expect(md).toContain('| PASS | verify fast | 1 µs |');
    expect(md.match(/old inject goal/g)).toHaveLength(1);
    expect(md).toContain('| UNDECIDED | old inject goal | 2.5 % [1.9 %, 3.1 %] |');
    // The method bullet and the note are replaced, not repeated.
    expect(md.match(/- In-process injection/g)).toHaveLength(1);
    expect(md).toContain('- In-process injection: paired, rotated.');
    expect(md).toContain('- Whole-server runs: autocannon.');
    expect(md.match(/Sections 9 updated/g)).toHaveLength(1);
    expect(md).toContain('Sections 9 updated: tomorrow.');
    expect(md.startsWith('# Benchmark results\n\nWritten by')).toBe(true);
  });

  it('puts a lettered section (5a.) after its number and replaces it by its own number only', () => {
    const md = mergeResults(OLD, {
      sections: [{ title: '5a. By Node version', markdown: 'per-version figures', targets: [] }],
      note: 'Sections 5a updated.',
      methodBullets: [],
    });
    expect(md).toContain('autocannon figures');
    expect(md.indexOf('## 5. Whole server')).toBeLessThan(md.indexOf('## 5a. By Node version'));
    expect(md.indexOf('## 5a. By Node version')).toBeLessThan(md.indexOf('## 8. Candidates'));
    const again = mergeResults(md, {
      sections: [{ title: '5a. By Node version', markdown: 'newer per-version', targets: [] }],
      note: 'Sections 5a updated.',
      methodBullets: [],
    });
    expect(again).toContain('autocannon figures');
    expect(again).toContain('newer per-version');
    expect(again).not.toContain('per-version figures');
  });
});

describe('handWrittenSections', () => {
  it('returns the sections written by hand, whole and in order, and nothing else', () => {
    const old = [
      '# Benchmark results',
      '',
      '## 1. Measured',
      '',
      'figures',
      '',
      '## 12. What changed',
      '',
      'Written by hand from the commands below.',
      '',
      '| a | b |',
      '',
      '## 13. Later notes',
      '',
      'Written by hand too.',
      '',
    ].join('\n');
    expect(handWrittenSections(old)).toBe(
      '## 12. What changed\n\nWritten by hand from the commands below.\n\n| a | b |\n\n## 13. Later notes\n\nWritten by hand too.\n',
    );
    expect(handWrittenSections('# Benchmark results\n\n## 1. Measured\n\nfigures\n')).toBe('');
  });
});
