/**
 * `@cdn-origin-guard/audit`: a read-only audit of the AWS side of a CloudFront -> ALB origin.
 * @packageDocumentation
 */
export { buildReport, runAudit } from './audit.js';
export { CHECKS, runChecks } from './checks/index.js';
export type { Check } from './checks/result.js';
export { incompleteChecks } from './checks/result.js';
export { type CommandIo, runCommand, USAGE } from './command.js';
export {
  CLOUDFRONT_PREFIX_LISTS,
  DEFAULTS,
  IAM_ACTIONS,
  type IamAction,
  RULES_QUOTA,
} from './constants.js';
export { AuditError, type AuditErrorCode } from './errors.js';
export { gatherSnapshot } from './gather/index.js';
export {
  type AuditClients,
  type AuditOptions,
  type ResolvedAuditOptions,
  resolveOptions,
} from './options.js';
export { type AuditJson, toJson } from './report/json.js';
export { renderTable, summarize, type TableOptions } from './report/table.js';
export { SecretText } from './secret-text.js';
export type * from './types.js';
