/**
 * The audit over whole scenario accounts on the local AWS endpoint, with the real SDK clients:
 * it reports exactly the holes present (no false PASS, no false FAIL) with the right exit code.
 */
import { renderTable, runAudit, toJson } from '@cdn-origin-guard/audit';
import { afterEach, describe, expect, it } from 'vitest';
import { expectedStatuses, HOLES, type Hole } from './scenarios.js';
import { type Account, openAccount } from './support.js';

let account: Account | undefined;
afterEach(async () => {
  await account?.close();
  account = undefined;
});

async function audit(holes: readonly Hole[]) {
  account = await openAccount(holes);
  const report = await runAudit({
    loadBalancer: account.scenario.albName,
    secretId: account.scenario.secretId,
    probe: true,
    probeAddress: '127.0.0.1',
  });
  return { report, account };
}

const byId = (report: Awaited<ReturnType<typeof runAudit>>) =>
  Object.fromEntries(report.checks.map((c) => [c.id, c]));

const cases: [string, readonly Hole[]][] = [
  ['the correct setup', []],
  ["the story's starting point (all six holes)", HOLES],
  ...HOLES.map((h): [string, readonly Hole[]] => [`${h} alone`, [h]]),
];

describe('audit of scenario accounts', () => {
  it.each(cases)('%s: reports exactly the holes present', async (_name, holes) => {
    const { report, account } = await audit(holes);

    const statuses = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    expect(statuses).toEqual(expectedStatuses(holes));
    expect(report.exitCode).toBe(holes.length === 0 ? 0 : 1);
    expect(report.status).toBe(holes.length === 0 ? 'PASS' : 'FAIL');
    // Every WARN/FAIL carries its fix.
    for (const f of report.checks.flatMap((c) => c.findings))
      if (f.status !== 'PASS') expect(f.fix, f.message).toBeTruthy();
    // The probe sent one request per listener, without the header.
    expect(account.target.requests).toBe(1);
    expect(account.target.sawHeader).toBe(false);
    // No secret value anywhere in the output.
    const output = `${renderTable(report)}\n${JSON.stringify(toJson(report))}`;
    for (const value of account.secretValues()) expect(output).not.toContain(value);
  });

  it('names the rule ids, ports, priorities and counts behind each hole of the story', async () => {
    const { report, account } = await audit(HOLES);
    const checks = byId(report);
    const { scenario, target } = account;

    const open = checks['security-groups']?.findings.find((f) => f.status === 'FAIL');
    expect(open?.evidence).toMatchObject({
      group: scenario.securityGroupId,
      rule: scenario.ruleIds.open,
      ports: [target.port],
      source: '0.0.0.0/0',
    });
    expect(open?.fix).toContain(`--security-group-rule-ids ${scenario.ruleIds.open}`);

    const quota = checks['rules-quota']?.findings.find((f) => f.status === 'FAIL');
    expect(quota?.evidence).toMatchObject({
      prefixListWeight: 55,
      otherRules: 5,
      total: 60,
      quota: 60,
      quotaSource: 'service-quotas',
    });

    const order = checks['listener-rules']?.findings.find((f) => f.status === 'FAIL');
    expect(order?.evidence).toMatchObject({
      priority: '5',
      headerRulePriority: '10',
      action: 'forward',
    });
    expect(order?.message).toContain('evaluated before the header check (priority 10)');

    const drift = checks['cloudfront-distribution']?.findings.filter((f) => f.status === 'FAIL');
    expect(drift?.map((f) => f.message).join('\n')).toMatch(
      /AWSPREVIOUS only: the header has drifted/,
    );
    expect(drift?.map((f) => f.evidence.originProtocolPolicy)).toContain('http-only');

    const ruleValues = checks['alb-rule-values']?.findings[0];
    expect(ruleValues?.evidence).toMatchObject({ accepts: ['AWSPREVIOUS'], priority: '10' });

    const probe = checks['direct-reachability']?.findings[0];
    expect(probe?.evidence).toMatchObject({ outcome: 'served', statusCode: 200 });
  });

  it('finds the distribution by its origin when --distribution is not given, and reads it by id when it is', async () => {
    const found = await audit([]);
    const listed = byId(found.report)['cloudfront-distribution'];
    expect(
      listed?.findings.some(
        (f) => f.evidence.distribution === found.account.scenario.distributionId,
      ),
    ).toBe(true);
    expect(found.account.aws.callCount('cloudfront.ListDistributions')).toBeGreaterThan(0);

    found.account.aws.resetCalls();
    const byIdReport = await runAudit({
      loadBalancer: found.account.scenario.albArn,
      distributionIds: [found.account.scenario.distributionId],
      secretId: found.account.scenario.secretId,
    });
    expect(byId(byIdReport)['cloudfront-distribution']?.status).toBe('PASS');
    expect(found.account.aws.callCount('cloudfront.GetDistribution')).toBe(1);
    expect(found.account.aws.callCount('cloudfront.ListDistributions')).toBe(0);
  });

  it('compares the value under --json-key of a JSON secret', async () => {
    account = await openAccount(['header-drift'], { jsonKey: 'header' });
    const options = { loadBalancer: account.scenario.albName, secretId: account.scenario.secretId };

    const withKey = byId(await runAudit({ ...options, jsonKey: 'header' }));
    expect(withKey['cloudfront-distribution']?.findings[0]?.message).toMatch(
      /equal to AWSPREVIOUS only/,
    );
    expect(withKey['alb-rule-values']?.findings[0]?.evidence).toMatchObject({
      accepts: ['AWSPREVIOUS'],
    });

    // Without the key the whole JSON text is compared, which nothing sends.
    const withoutKey = byId(await runAudit(options));
    expect(withoutKey['cloudfront-distribution']?.findings[0]?.message).toMatch(/matches no stage/);
  });

  it('asks a dualstack ALB for the IPv6 origin-facing list too, and counts it against its own quota', async () => {
    account = await openAccount([], { dualstack: { ipv6List: false } });
    const options = { loadBalancer: account.scenario.albName, secretId: account.scenario.secretId };
    const missing = byId(await runAudit(options))['security-groups'];
    expect(missing?.status).toBe('WARN');
    expect(missing?.findings.find((f) => f.status === 'WARN')?.evidence).toMatchObject({
      family: 'IPv6',
      prefixList: 'com.amazonaws.global.ipv6.cloudfront.origin-facing',
    });
    await account.close();

    account = await openAccount([], { dualstack: { ipv6List: true } });
    const report = byId(
      await runAudit({
        loadBalancer: account.scenario.albName,
        secretId: account.scenario.secretId,
      }),
    );
    expect(report['security-groups']?.status).toBe('PASS');
    const ipv6 = report['rules-quota']?.findings.find((f) => f.evidence.family === 'IPv6');
    expect(ipv6?.evidence).toMatchObject({ prefixListWeight: 45, otherRules: 0, total: 45 });
  });
});
