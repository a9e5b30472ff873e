/**
 * The SAM template: its resources, and IAM actions that are exactly the AWS calls the code
 * makes (read from the source); the README's policy says the same. `cfn-lint` validates it
 * when installed (it is a Python tool; npm has no equivalent).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROTATION_ENV_VARIABLES } from '@cdn-origin-guard/rotation';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const templatePath = join(root, 'template.json');
const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
  Parameters: Record<string, Record<string, unknown>>;
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, unknown>; DependsOn?: string }
  >;
};

const SERVICE_OF_MODULE: Readonly<Record<string, string>> = {
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-cloudfront': 'cloudfront',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elasticloadbalancing',
};

/** `service:Action` for every `new XCommand(` in the source, by the module X is imported from. */
function actionsTheCodeCalls(): string[] {
  const actions = new Set<string>();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  for (const file of walk(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const serviceOf = new Map<string, string>();
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
      const service = SERVICE_OF_MODULE[m[2] ?? ''];
      if (service === undefined) continue;
      for (const name of (m[1] ?? '').split(','))
        serviceOf.set(name.replace(/\btype\b/, '').trim(), service);
    }
    for (const m of text.matchAll(/new (\w+)Command\(/g)) {
      const service = serviceOf.get(`${m[1]}Command`);
      if (service === undefined)
        throw new Error(`${file}: ${m[1]}Command is not from a known SDK client`);
      actions.add(`${service}:${m[1]}`);
    }
  }
  return [...actions].sort();
}

function policyActions(statements: readonly { Action: string | string[] }[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();
}

function resourcesOfType(type: string) {
  return Object.values(template.Resources).filter((r) => r.Type === type);
}

describe('SAM template', () => {
  it('has the function on a current Node runtime, the invoke permission and a 90-day schedule', () => {
    const [fn] = resourcesOfType('AWS::Serverless::Function');
    const [permission] = resourcesOfType('AWS::Lambda::Permission');
    const [schedule] = resourcesOfType('AWS::SecretsManager::RotationSchedule');

    expect(Object.keys(template.Resources)).toHaveLength(3);
    expect(['nodejs22.x', 'nodejs24.x']).toContain(fn?.Properties.Runtime);
    expect(fn?.Properties.Timeout).toBe(900);
    expect(permission?.Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
    });
    expect(schedule?.Properties.RotationRules).toEqual({ ScheduleExpression: 'rate(90 days)' });
    expect(schedule?.Properties.RotationLambdaARN).toEqual({
      'Fn::GetAtt': ['RotationFunction', 'Arn'],
    });
    expect(schedule?.DependsOn).toBe('RotationInvokePermission');
  });

  // Outside review, 3 December: an empty DistributionId rotated the ALB rule alone (every request
  // denied at the second rotation), and any secret could be rotated into this site's rule.
  it('requires the distribution, and rotates only its own secret', () => {
    const [fn] = resourcesOfType('AWS::Serverless::Function');
    const [permission] = resourcesOfType('AWS::Lambda::Permission');
    expect(template.Parameters.DistributionId).toMatchObject({ MinLength: 1 });
    const pattern = new RegExp(String(template.Parameters.DistributionId?.AllowedPattern));
    expect(pattern.test('E2QWRUHEXAMPLE')).toBe(true);
    expect(pattern.test('')).toBe(false);
    // Review, 4 December: a partial ARN (no 6-character suffix) was accepted, and matched nothing.
    // A name that itself ends in "-" and 6 letters or digits (`origin-verify`) cannot be told
    // from a complete ARN by its shape; AWS advises against such names for this reason.
    const arn = new RegExp(String(template.Parameters.SecretArn?.AllowedPattern));
    const partial = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/cloudfront/origin';
    expect(arn.test(`${partial}-a1B2c3`)).toBe(true);
    expect(arn.test(partial)).toBe(false);
    expect(arn.test(`${partial}-a1B2c`)).toBe(false);
    expect(arn.test('arn:aws:secretsmanager:us-east-1:1234:secret:x-a1B2c3')).toBe(false);
    expect(template.Parameters.SecretArn?.ConstraintDescription).toMatch(/6-character suffix/);
    expect(permission?.Properties.SourceArn).toEqual({ Ref: 'SecretArn' });
    expect(fn?.Properties.Environment).toMatchObject({
      Variables: { CDN_ORIGIN_GUARD_ROTATION_SECRET_IDS: { Ref: 'SecretArn' } },
    });
  });

  it('grants exactly the actions the code calls', () => {
    const [fn] = resourcesOfType('AWS::Serverless::Function');
    const policies = fn?.Properties.Policies as { Statement: { Action: string[] }[] }[];

    const granted = policyActions(policies.flatMap((p) => p.Statement));

    expect(actionsTheCodeCalls()).toEqual([
      'cloudfront:GetDistribution',
      'cloudfront:GetDistributionConfig',
      'cloudfront:ListDistributions',
      'cloudfront:UpdateDistribution',
      'elasticloadbalancing:DescribeListeners',
      'elasticloadbalancing:DescribeLoadBalancers',
      'elasticloadbalancing:DescribeRules',
      'elasticloadbalancing:ModifyRule',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:ListSecretVersionIds',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
    ]);
    expect(granted).toEqual(actionsTheCodeCalls());
  });

  it('the README shows the same policy actions', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /### IAM policy[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1] ?? '{}';

    const policy = JSON.parse(block) as { Statement: { Action: string[] }[] };

    expect(policyActions(policy.Statement)).toEqual(actionsTheCodeCalls());
  });

  it('configures the function only through variables the handler knows', () => {
    const [fn] = resourcesOfType('AWS::Serverless::Function');
    const environment = fn?.Properties.Environment as { Variables: Record<string, unknown> };
    const variables = Object.keys(environment.Variables);

    expect(variables).toContain('CDN_ORIGIN_GUARD_ROTATION_DISTRIBUTION_IDS');
    for (const name of variables) expect(Object.values(ROTATION_ENV_VARIABLES)).toContain(name);
  });

  const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  it.skipIf(cfnLint.status !== 0)(
    'passes cfn-lint',
    () => {
      const run = spawnSync('cfn-lint', [templatePath], { encoding: 'utf8', timeout: 120_000 });

      expect(run.stdout + run.stderr).toBe('');
      expect(run.status).toBe(0);
    },
    130_000,
  );
});
