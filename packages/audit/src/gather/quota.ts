/**
 * The "Inbound or outbound rules per security group" quota, from Service Quotas when allowed.
 * @module
 */
import { GetServiceQuotaCommand, type ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { DEFAULTS, RULES_QUOTA } from '../constants.js';
import type { QuotaInfo } from '../types.js';
import { awsCode, credentialsError, skipFor } from './errors.js';

/** The applied quota, or AWS's default 60 with the reason it was assumed. */
export async function readRulesQuota(client: ServiceQuotasClient): Promise<QuotaInfo> {
  try {
    const out = await client.send(
      new GetServiceQuotaCommand({
        ServiceCode: RULES_QUOTA.serviceCode,
        QuotaCode: RULES_QUOTA.quotaCode,
      }),
    );
    const value = out.Quota?.Value;
    if (typeof value === 'number' && value > 0) return { value, source: 'service-quotas' };
    return {
      value: DEFAULTS.rulesQuota,
      source: 'default',
      note: 'Service Quotas returned no value',
    };
  } catch (error) {
    const fatal = credentialsError(error);
    if (fatal !== undefined) throw fatal;
    const note =
      awsCode(error) === 'NoSuchResourceException'
        ? 'no applied value in Service Quotas'
        : skipFor(error, 'servicequotas:GetServiceQuota').message;
    return { value: DEFAULTS.rulesQuota, source: 'default', note };
  }
}
