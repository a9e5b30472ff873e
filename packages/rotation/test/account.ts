/**
 * A whole account on the local AWS endpoint for the rotation tests and the demo: a secret with rotation
 * enabled, an ALB whose listener forwards only requests carrying the header (else a fixed
 * 403), a CloudFront distribution whose origins point at the ALB, and SDK clients aimed at it.
 * Plus Secrets Manager's side of a rotation (the four invocations) and a Lambda context.
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  createRotationHandler,
  ROTATION_STEPS,
  type RotationClients,
  type RotationContext,
  type RotationHandler,
  type RotationOptions,
  type RotationStep,
} from '@cdn-origin-guard/rotation';
import {
  fixedResponse,
  forward,
  httpHeaderCondition,
  type LocalAws,
} from '../../../test/aws-local/index.js';

export const HEADER = 'x-origin-verify';
export const TARGET_GROUP =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/0123456789abcdef';

/** SDK clients aimed at the local endpoint (no retries: a fault is seen at once). */
export function localClients(aws: LocalAws): Required<RotationClients> {
  const config = {
    endpoint: aws.url,
    region: aws.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  return {
    secretsManager: new SecretsManagerClient(config),
    cloudFront: new CloudFrontClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
  };
}

/** A Lambda context with `ms` left from now. */
export function lambdaContext(ms = 60_000): RotationContext {
  const deadline = Date.now() + ms;
  return { getRemainingTimeInMillis: () => deadline - Date.now() };
}

/** What {@link createAccount} laid out. */
export interface Account {
  readonly secretId: string;
  readonly secretArn: string;
  readonly loadBalancerDnsName: string;
  readonly listenerArn: string;
  readonly ruleArn: string;
  readonly distributionId: string;
}

let accounts = 0;

/**
 * Lay out an account: secret (value `initial`, or `initial` under `jsonKey` in a JSON object
 * with other keys) with rotation enabled, the ALB and its header rule accepting `initial`, a
 * distribution with the ALB origin (header + another header), the ALB again through its
 * `dualstack.` name, and an S3 origin that must never be touched.
 */
export function createAccount(
  aws: LocalAws,
  initial: string,
  options: { readonly jsonKey?: string; readonly previous?: string } = {},
): Account {
  accounts++;
  const secretId = `prod/cloudfront/origin-verify-${accounts}`;
  const store = (value: string) =>
    options.jsonKey === undefined
      ? aws.secrets.put(secretId, value)
      : aws.secrets.put(secretId, { [options.jsonKey]: value, username: 'kept', port: 443 });
  if (options.previous !== undefined) store(options.previous);
  const { arn } = store(initial);
  aws.secrets.setRotation(secretId, {
    enabled: true,
    lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:cdn-origin-guard-rotation',
    automaticallyAfterDays: 90,
  });
  const lb = aws.elbv2.addLoadBalancer({ name: `web-${accounts}` });
  const listener = aws.elbv2.addListener(lb.arn, { port: 443, defaultActions: [fixedResponse()] });
  const rule = aws.elbv2.addRule(listener.arn, {
    priority: 1,
    conditions: [
      httpHeaderCondition('X-Origin-Verify', [initial]),
      // DescribeRules reports path patterns both ways; ModifyRule must get only one.
      { Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] }, Values: ['/*'] },
    ],
    actions: [forward(TARGET_GROUP)],
  });
  const distribution = aws.cloudfront.addDistribution({
    origins: [
      {
        id: 'alb',
        domainName: lb.dnsName,
        headers: { 'X-Origin-Verify': initial, 'X-Team': 'web' },
      },
      {
        id: 'alb-dualstack',
        domainName: `dualstack.${lb.dnsName}`,
        headers: { 'X-Origin-Verify': initial },
      },
      { id: 'assets', domainName: 'assets.s3.us-east-1.amazonaws.com', s3: true },
      { id: 'other-api', domainName: 'api.example.net', headers: { 'X-Api-Key': 'untouched' } },
    ],
  });
  return {
    secretId,
    secretArn: arn,
    loadBalancerDnsName: lb.dnsName,
    listenerArn: listener.arn,
    ruleArn: rule.arn,
    distributionId: distribution.id,
  };
}

/**
 * A rotation handler for `account`'s distribution and listener, with clients aimed at the
 * local endpoint and quick polling; `options` go over these.
 */
export function rotationHandlerFor(
  aws: LocalAws,
  account: Account,
  options: Partial<RotationOptions> = {},
): RotationHandler {
  return createRotationHandler({
    distributionIds: [account.distributionId],
    listenerArns: [account.listenerArn],
    pollIntervalMs: 50,
    deployWaitMs: 5_000,
    clients: localClients(aws),
    ...options,
  });
}

/** Invoke one step as Secrets Manager does. */
export function invoke(
  handler: RotationHandler,
  account: Account,
  step: RotationStep,
  token: string,
  context: RotationContext = lambdaContext(),
): Promise<void> {
  return handler({ Step: step, SecretId: account.secretArn, ClientRequestToken: token }, context);
}

/**
 * A whole rotation as Secrets Manager runs it: a token labelled AWSPENDING, the four steps in
 * order, then AWSPENDING removed. Returns the token (the new version id).
 */
export async function rotate(
  handler: RotationHandler,
  aws: LocalAws,
  account: Account,
  context?: RotationContext,
): Promise<string> {
  const token = aws.secrets.beginRotation(account.secretId);
  for (const step of ROTATION_STEPS) await invoke(handler, account, step, token, context);
  aws.secrets.endRotation(account.secretId);
  return token;
}

/**
 * A rotation stopped before finishSecret: a token labelled AWSPENDING, then createSecret,
 * setSecret and testSecret. Returns the token and the pending header value.
 */
export async function rotateUntilFinish(
  handler: RotationHandler,
  aws: LocalAws,
  account: Account,
): Promise<{ token: string; pending: string }> {
  const token = aws.secrets.beginRotation(account.secretId);
  for (const step of ROTATION_STEPS.slice(0, 3)) await invoke(handler, account, step, token);
  return { token, pending: stageValue(aws, account, 'AWSPENDING') };
}

/** The header value a version holds (test side only). */
export function stageValue(
  aws: LocalAws,
  account: Account,
  stage: string,
  jsonKey?: string,
): string {
  const info = aws.secrets.get(account.secretId);
  const version = info?.versions.find((v) => v.stages.includes(stage));
  if (version === undefined) throw new Error(`no ${stage} version`);
  return jsonKey === undefined
    ? version.secretString
    : String((JSON.parse(version.secretString) as Record<string, unknown>)[jsonKey]);
}

/** Every value ever stored in the secret (and their header values under `jsonKey`). */
export function allValues(aws: LocalAws, account: Account, jsonKey?: string): string[] {
  const out: string[] = [];
  for (const v of aws.secrets.get(account.secretId)?.versions ?? []) {
    if (v.secretString === '') continue;
    out.push(v.secretString);
    if (jsonKey !== undefined)
      out.push(String((JSON.parse(v.secretString) as Record<string, unknown>)[jsonKey]));
  }
  return out;
}

/** The ALB stand-in: does the listener forward a request carrying `value`? */
export function albForwards(aws: LocalAws, account: Account, value: string | undefined): boolean {
  return (
    aws.elbv2.evaluate(account.listenerArn, { headers: { [HEADER]: value } }).action.Type ===
    'forward'
  );
}
