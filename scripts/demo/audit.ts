/**
 * The audit part of `npm run demo`: `cdn-origin-guard audit` (the library, with the real SDK
 * clients) over the story's starting account, where the six holes are found, then over the
 * fixed account, where every check passes. Each account is a fresh local AWS endpoint on
 * 127.0.0.1, and the probe goes to a local HTTPS stand-in for the ALB, never anywhere else.
 */
import { type CheckResult, runAudit } from '@cdn-origin-guard/audit';
import { FAILS_OF_HOLE, HOLES, type Hole } from '../../test/audit/scenarios.js';
import { openAccount } from '../../test/audit/support.js';

const tty = process.stdout.isTTY;
const paint = (code: string, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const COLOUR: Record<CheckResult['status'], string> = {
  PASS: '32',
  WARN: '33',
  FAIL: '31',
  SKIPPED: '2',
};

async function auditAccount(title: string, holes: readonly Hole[]): Promise<CheckResult[]> {
  const account = await openAccount(holes);
  try {
    const report = await runAudit({
      loadBalancer: account.scenario.albName,
      secretId: account.scenario.secretId,
      probe: true,
      probeAddress: '127.0.0.1',
    });
    console.log(`\n${paint('1', title)} ${paint('2', `(exit code ${report.exitCode})`)}`);
    const width = Math.max(...report.checks.map((c) => c.title.length));
    for (const check of report.checks) {
      const failing = check.findings.find((f) => f.status === check.status && f.status !== 'PASS');
      const what = failing?.message ?? check.findings[0]?.message ?? check.skipped?.message ?? '';
      const short = what.length > 110 ? `${what.slice(0, 107)}...` : what;
      console.log(
        `  ${paint(COLOUR[check.status], check.status.padEnd(7))} ${check.title.padEnd(width)}  ${paint('2', short)}`,
      );
    }
    return [...report.checks];
  } finally {
    await account.close();
  }
}

/** Print the audit of the story's starting account and of the fixed one. */
export async function auditDemo(): Promise<void> {
  console.log(
    paint(
      '2',
      '\ncdn-origin-guard audit: read-only checks of the AWS side (local endpoint, real SDK clients, --probe to a local stand-in)',
    ),
  );
  const story = await auditAccount("Audit of the story's starting account", HOLES);
  const failing = new Set(story.filter((c) => c.status === 'FAIL').map((c) => c.id));
  const found = HOLES.filter((h) => FAILS_OF_HOLE[h].every((id) => failing.has(id)));
  console.log(`  ${found.length} of ${HOLES.length} holes found: ${found.join(', ')}`);

  const fixed = await auditAccount('Audit of the fixed account', []);
  const passed = fixed.filter((c) => c.status === 'PASS').length;
  console.log(`  ${passed === fixed.length ? 'all' : `${passed} of`} ${fixed.length} checks PASS`);
}
