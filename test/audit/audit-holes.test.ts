/**
 * Regression tests for the false "all clear" results found in review 2 (A1-A8), against the
 * local AWS endpoint with the real SDK clients: each hole is now reported.
 */
import { runAudit } from '@cdn-origin-guard/audit';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hole } from './scenarios.js';
import { type Account, openAccount } from './support.js';

let account: Account | undefined;
afterEach(async () => {
  await account?.close();
  account = undefined;
});

async function open(holes: readonly Hole[]): Promise<Account> {
  account = await openAccount(holes);
  return account;
}

type Report = Awaited<ReturnType<typeof runAudit>>;

const check = (report: Report, id: string) => report.checks.find((c) => c.id === id);

const auditOf = (a: Account, extra: Partial<Parameters<typeof runAudit>[0]> = {}) =>
  runAudit({ loadBalancer: a.scenario.albName, secretId: a.scenario.secretId, ...extra });

describe('audit with an AWSPENDING version that has no value yet (A6)', () => {
  it('still reports header drift while RotateSecret has labelled an AWSPENDING without a value', async () => {
    const a = await open(['header-drift']);
    a.aws.secrets.beginRotation(a.scenario.secretId);

    const report = await auditOf(a);

    expect(check(report, 'alb-rule-values')?.status).toBe('FAIL');
    expect(check(report, 'secret-rotation')?.status).toBe('PASS');
    const cf = check(report, 'cloudfront-distribution');
    expect(cf?.findings.some((f) => f.status === 'FAIL' && /drifted/.test(f.message))).toBe(true);
    expect(report.exitCode).toBe(1);
  });

  it('keeps exit 1 for a hand-put AWSCURRENT when an empty AWSPENDING appears', async () => {
    const a = await open([]);
    a.aws.secrets.put(a.scenario.secretId, 'hand-put-new-value-0123456789abcdef');
    a.aws.secrets.beginRotation(a.scenario.secretId);

    const report = await auditOf(a);

    expect(check(report, 'alb-rule-values')?.status).toBe('FAIL');
    expect(report.exitCode).toBe(1);
  });

  it('leaves out an AWSPREVIOUS that answers ResourceNotFoundException and compares the rest', async () => {
    const a = await open([]);
    a.aws.secrets.failStage(a.scenario.secretId, 'AWSPREVIOUS', 'ResourceNotFoundException');

    const report = await auditOf(a);

    expect(check(report, 'alb-rule-values')?.status).toBe('PASS');
    expect(check(report, 'cloudfront-distribution')?.status).toBe('PASS');
    expect(check(report, 'secret-rotation')?.status).toBe('PASS');
  });

  it('still skips the value checks when AWSCURRENT itself answers ResourceNotFoundException', async () => {
    const a = await open([]);
    a.aws.secrets.failStage(a.scenario.secretId, 'AWSCURRENT', 'ResourceNotFoundException');

    const report = await auditOf(a);

    expect(check(report, 'alb-rule-values')?.skipped).toMatchObject({ reason: 'error' });
    expect(check(report, 'alb-rule-values')?.skipped?.message).toMatch(/ResourceNotFoundException/);
  });
});
