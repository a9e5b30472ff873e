/**
 * Rules quota: a prefix list weighs its max entries against "inbound rules per security group".
 * @module
 */
import { DEFAULTS, RULES_QUOTA } from '../constants.js';
import type { AccountSnapshot, Finding } from '../types.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'rules-quota', title: 'Security group rules quota' } as const;

function run(snapshot: AccountSnapshot) {
  const { securityGroups, prefixLists, quota } = snapshot;
  const skip = firstSkip(securityGroups, prefixLists);
  if (skip !== undefined || !securityGroups.ok || !prefixLists.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const findings: Finding[] = [];
  const quotaText =
    quota.source === 'service-quotas'
      ? `quota ${quota.value} (Service Quotas ${RULES_QUOTA.serviceCode}/${RULES_QUOTA.quotaCode})`
      : `quota ${quota.value} (assumed AWS default${quota.note === undefined ? '' : `: ${quota.note}`})`;
  for (const group of securityGroups.value) {
    // The quota is enforced separately for IPv4 and IPv6 rules.
    for (const family of ['IPv4', 'IPv6'] as const) {
      let listWeight = 0;
      let otherRules = 0;
      const unknownWeight: string[] = [];
      for (const rule of group.inbound) {
        if (rule.prefixListId !== undefined) {
          const list = prefixLists.value.get(rule.prefixListId);
          if (list === undefined || list.addressFamily !== family) continue;
          if (list.maxEntries === undefined) unknownWeight.push(list.id);
          else listWeight += list.maxEntries;
        } else if (
          (family === 'IPv4' ? rule.cidrIpv4 : rule.cidrIpv6) !== undefined ||
          rule.referencedGroupId !== undefined
        ) {
          otherRules++;
        }
      }
      if (listWeight === 0 && otherRules === 0 && unknownWeight.length === 0) continue;
      const total = listWeight + otherRules;
      const evidence = {
        group: group.id,
        family,
        prefixListWeight: listWeight,
        otherRules,
        total,
        quota: quota.value,
        quotaSource: quota.source,
        unknownWeight: unknownWeight.length > 0 ? unknownWeight : undefined,
      };
      const counted = `${group.id} ${family}: ${total} weighted inbound rules (${listWeight} from prefix lists by max entries + ${otherRules} others) against ${quotaText}`;
      const raise = `Request a higher quota: aws service-quotas request-service-quota-increase --service-code ${RULES_QUOTA.serviceCode} --quota-code ${RULES_QUOTA.quotaCode} --desired-value ${Math.max(quota.value * 2, total + 20)}, or move other rules to a second security group on the ALB`;
      if (unknownWeight.length > 0) {
        findings.push(
          warn(
            `${counted}; max entries unknown for ${unknownWeight.join(', ')}`,
            'Grant ec2:DescribeManagedPrefixLists so the weight can be read',
            evidence,
          ),
        );
      } else if (total >= quota.value) {
        findings.push(
          fail(
            `${counted}: at or over the ceiling, so adding a rule or a prefix list growing its max entries is refused`,
            raise,
            evidence,
          ),
        );
      } else if (total >= quota.value * (1 - DEFAULTS.quotaWarnFraction)) {
        findings.push(warn(`${counted}: within 10 % of the ceiling`, raise, evidence));
      } else {
        findings.push(pass(counted, evidence));
      }
    }
  }
  if (findings.length === 0) findings.push(pass('No inbound rules counted', {}));
  return result(check, findings);
}

/** Security group rules quota. */
export const rulesQuotaCheck: Check = { ...check, run };
