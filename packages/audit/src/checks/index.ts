/**
 * Every check, in report order.
 * @module
 */
import type { AccountSnapshot, CheckResult } from '../types.js';
import { albAttributesCheck } from './alb-attributes.js';
import { albRuleValuesCheck } from './alb-rule-values.js';
import { directReachabilityCheck } from './direct-reachability.js';
import { distributionCheck } from './distribution.js';
import { listenerRulesCheck } from './listener-rules.js';
import type { Check } from './result.js';
import { rulesQuotaCheck } from './rules-quota.js';
import { secretRotationCheck } from './secret-rotation.js';
import { secretValuesCheck } from './secret-values.js';
import { securityGroupsCheck } from './security-groups.js';
import { targetsCheck } from './targets.js';

/** The checks, in report order. */
export const CHECKS: readonly Check[] = [
  securityGroupsCheck,
  rulesQuotaCheck,
  listenerRulesCheck,
  albAttributesCheck,
  distributionCheck,
  albRuleValuesCheck,
  secretRotationCheck,
  secretValuesCheck,
  targetsCheck,
  directReachabilityCheck,
];

/** Run every check over a snapshot. */
export function runChecks(snapshot: AccountSnapshot): CheckResult[] {
  return CHECKS.map((c) => c.run(snapshot));
}
