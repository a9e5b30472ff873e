/**
 * Read the account into a snapshot, each part on its own so one denied call skips only the
 * checks that need it.
 * @module
 */
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { ResolvedAuditOptions } from '../options.js';
import type {
  AccountSnapshot,
  Gathered,
  ListenerInfo,
  ProbeResult,
  SecretDescription,
  SecretInfo,
} from '../types.js';
import { readDistributions } from './cloudfront.js';
import { readPrefixLists, readSecurityGroups } from './ec2.js';
import { findLoadBalancer, readAttributes, readListenerHeads, readListenerRules } from './elbv2.js';
import { gather } from './errors.js';
import { probeUrl, probeUrls } from './probe.js';
import { readRulesQuota } from './quota.js';
import { readSecret } from './secret.js';
import { readTargets } from './targets.js';

type ClientConfig = { region?: string; maxAttempts?: number };

/** Gather everything the checks read. Throws an AuditError when nothing can run. */
export async function gatherSnapshot(options: ResolvedAuditOptions): Promise<AccountSnapshot> {
  const config: ClientConfig = {};
  if (options.region !== undefined) config.region = options.region;
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  const c = options.clients;
  const elbv2 = c.elbv2 ?? new ElasticLoadBalancingV2Client(config);
  const ec2 = c.ec2 ?? new EC2Client(config);
  // CloudFront is global; its API lives in us-east-1.
  const cloudFront = c.cloudFront ?? new CloudFrontClient({ ...config, region: 'us-east-1' });
  const secretsManager = c.secretsManager ?? new SecretsManagerClient(config);
  const serviceQuotas = c.serviceQuotas ?? new ServiceQuotasClient(config);
  const created = [
    c.elbv2 ? undefined : elbv2,
    c.ec2 ? undefined : ec2,
    c.cloudFront ? undefined : cloudFront,
    c.secretsManager ? undefined : secretsManager,
    c.serviceQuotas ? undefined : serviceQuotas,
  ];
  try {
    const region = await elbv2.config.region();
    const loadBalancer = await findLoadBalancer(elbv2, options.loadBalancer);
    const securityGroupsPromise = gather((step) =>
      readSecurityGroups(ec2, loadBalancer.securityGroupIds, step),
    );
    // The ports come from DescribeListeners alone, so a DescribeRules failure leaves the
    // security-group check its real listener ports.
    const headsPromise = gather((step) => readListenerHeads(elbv2, loadBalancer.arn, step));
    const listenersPromise = headsPromise.then(
      (heads): Promise<Gathered<readonly ListenerInfo[]>> =>
        heads.ok
          ? gather((step) => readListenerRules(elbv2, heads.value, step))
          : Promise.resolve(heads),
    );
    const [listeners, attributes, securityGroups, quota, distributions, secretParts, targets] =
      await Promise.all([
        listenersPromise,
        gather((step) => readAttributes(elbv2, loadBalancer.arn, step)),
        securityGroupsPromise,
        readRulesQuota(serviceQuotas),
        gather((step) =>
          readDistributions(
            cloudFront,
            {
              ids: options.distributionIds,
              dnsName: loadBalancer.dnsName,
              headerName: options.headerName,
            },
            step,
          ),
        ),
        options.secretId === undefined
          ? {
              description: notRequested<SecretDescription>('--secret-id was not given'),
              secret: notRequested<SecretInfo>('--secret-id was not given'),
            }
          : readSecret(secretsManager, options.secretId, options.jsonKey),
        gather((step) => readTargets(elbv2, ec2, loadBalancer.arn, step)),
      ]);
    const prefixLists = await gather((step) =>
      readPrefixLists(ec2, securityGroups.ok ? securityGroups.value : [], step),
    );
    const heads = await headsPromise;
    let probes: Gathered<readonly ProbeResult[]> = notRequested('--probe was not given');
    if (options.probe) {
      // The listeners' ports and protocols come from DescribeListeners alone: with DescribeRules
      // denied the probe still goes to the real listeners, not to 443 and 80 (outside review,
      // 4 December: a served listener on another port was reported refused on 443 and 80).
      const urls = probeUrls(loadBalancer.dnsName, heads.ok ? heads.value : undefined);
      probes =
        urls.length === 0
          ? {
              ok: false,
              skip: {
                reason: 'not-applicable',
                message:
                  'The load balancer has no HTTP or HTTPS listener (DescribeListeners): nothing to probe',
              },
            }
          : {
              ok: true,
              value: await Promise.all(
                urls.map((u) => probeUrl(u, options.probeTimeoutMs, options.probeAddress)),
              ),
            };
    }
    return {
      region,
      headerName: options.headerName,
      loadBalancer,
      listenerPorts: heads.ok ? { ok: true, value: heads.value.map((h) => h.port) } : heads,
      listeners,
      attributes,
      securityGroups,
      prefixLists,
      quota,
      distributions,
      secretDescription: secretParts.description,
      secret: secretParts.secret,
      targets,
      probes,
    };
  } finally {
    for (const client of created) client?.destroy();
  }
}

function notRequested<T>(message: string): Gathered<T> {
  return { ok: false, skip: { reason: 'not-requested', message } };
}
