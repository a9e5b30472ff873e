/**
 * CloudFront distribution: the origins at the ALB carry the header with a current value, over HTTPS.
 * @module
 */
import { STAGES } from '../constants.js';
import { bareDomain } from '../net.js';
import { matchingStages } from '../secret-text.js';
import type { AccountSnapshot, DistributionInfo, Finding, OriginInfo } from '../types.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'cloudfront-distribution', title: 'CloudFront distribution' } as const;

/**
 * Origins of `distribution` that point at the ALB (its DNS name or `dualstack.` + it, any case,
 * with or without a trailing dot) or carry the header.
 */
export function originsAtAlb(
  distribution: DistributionInfo,
  dnsName: string,
  headerName: string,
): OriginInfo[] {
  const dns = bareDomain(dnsName);
  return distribution.origins.filter(
    (o) => bareDomain(o.domainName) === dns || o.headers.has(headerName),
  );
}

function originFindings(
  snapshot: AccountSnapshot,
  distribution: DistributionInfo,
  origin: OriginInfo,
): Finding[] {
  const { headerName, secret } = snapshot;
  const where = `${distribution.id} origin ${origin.id}`;
  const evidence = { distribution: distribution.id, origin: origin.id, domain: origin.domainName };
  const update = `aws cloudfront get-distribution-config --id ${distribution.id}, edit Origins[${origin.id}]`;
  const findings: Finding[] = [];
  const value = origin.headers.get(headerName);
  if (value === undefined) {
    findings.push(
      fail(
        `${where} sends no ${headerName} header`,
        `${update}.CustomHeaders to add ${headerName} = the secret's AWSCURRENT value, then update-distribution --if-match <ETag>`,
        evidence,
      ),
    );
  } else if (!secret.ok) {
    findings.push(
      warn(
        `${where} sends ${headerName}, but its value was not compared: ${secret.skip.message}`,
        secret.skip.reason === 'not-requested'
          ? 'Pass --secret-id so the value is compared with Secrets Manager'
          : `Grant ${secret.skip.missingAction ?? 'secretsmanager:GetSecretValue'} to the audit`,
        evidence,
      ),
    );
  } else {
    const stages = matchingStages(value, secret.value.values);
    if (stages.includes(STAGES.current) || stages.includes(STAGES.pending)) {
      findings.push(
        pass(`${where} sends ${headerName} equal to ${stages.join(' = ')}`, {
          ...evidence,
          matches: stages,
        }),
      );
    } else {
      findings.push(
        fail(
          stages.length > 0
            ? `${where} sends ${headerName} equal to ${stages.join(', ')} only: the header has drifted from AWSCURRENT`
            : `${where} sends a ${headerName} value that matches no stage of ${secret.value.name}: the header has drifted`,
          `${update}.CustomHeaders so ${headerName} = AWSCURRENT of ${secret.value.name} (or let the rotation function do it)`,
          { ...evidence, matches: stages },
        ),
      );
    }
  }
  const policy = origin.protocolPolicy ?? 'none';
  const policyEvidence = { ...evidence, originProtocolPolicy: policy };
  if (policy === 'https-only') {
    findings.push(pass(`${where} uses https-only to the origin`, policyEvidence));
  } else if (policy === 'match-viewer') {
    findings.push(
      warn(
        `${where} uses match-viewer: viewers on HTTP make CloudFront send ${headerName} in clear text`,
        `${update}.CustomOriginConfig.OriginProtocolPolicy = https-only`,
        policyEvidence,
      ),
    );
  } else {
    findings.push(
      fail(
        `${where} uses ${policy} to the origin: ${headerName} crosses the internet in clear text`,
        `${update}.CustomOriginConfig.OriginProtocolPolicy = https-only (and give the ALB an HTTPS listener)`,
        policyEvidence,
      ),
    );
  }
  return findings;
}

function run(snapshot: AccountSnapshot) {
  const { distributions, loadBalancer, headerName } = snapshot;
  const skip = firstSkip(distributions);
  if (skip !== undefined || !distributions.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const findings: Finding[] = [];
  if (distributions.value.length === 0) {
    findings.push(
      warn(
        `No CloudFront distribution has an origin at ${loadBalancer.dnsName}`,
        'Pass --distribution <id> when the origin uses a custom domain name',
        { dnsName: loadBalancer.dnsName },
      ),
    );
  }
  for (const distribution of distributions.value) {
    const origins = originsAtAlb(distribution, loadBalancer.dnsName, headerName);
    if (origins.length === 0) {
      findings.push(
        fail(
          `${distribution.id} has no origin at ${loadBalancer.dnsName} and none sends ${headerName}`,
          `Point an origin of ${distribution.id} at the ALB with the ${headerName} custom header`,
          { distribution: distribution.id, origins: distribution.origins.map((o) => o.id) },
        ),
      );
    }
    for (const origin of origins) findings.push(...originFindings(snapshot, distribution, origin));
    if (distribution.status === 'Deployed') {
      findings.push(pass(`${distribution.id} is Deployed`, { distribution: distribution.id }));
    } else {
      findings.push(
        warn(
          `${distribution.id} is ${distribution.status}: edges may still send the previous configuration`,
          `aws cloudfront wait distribution-deployed --id ${distribution.id}, then audit again`,
          { distribution: distribution.id, status: distribution.status },
        ),
      );
    }
  }
  return result(check, findings);
}

/** CloudFront distribution. */
export const distributionCheck: Check = { ...check, run };
