/**
 * @cdn-origin-guard/core: verify that a request came through your own CloudFront distribution.
 * @packageDocumentation
 */

export { errorText, handleRejection, loggerCaller } from './callbacks.js';
export { isWellFormedCfId } from './checks/cf-id.js';
export type {
  AllowedDecision,
  AllowReason,
  BypassDecision,
  CheckName,
  Decision,
  DeniedDecision,
  DenyReason,
  Reason,
  ReportedDecision,
  SecretStage,
  VerifiedDecision,
} from './decision.js';
export { ALLOW_REASONS, CHECK_OF_REASON, DENY_REASONS } from './decision.js';
export { ENV_VARIABLES, optionsFromEnv } from './env.js';
export {
  CdnOriginGuardError,
  type ErrorCode,
  InvalidOptionError,
  isOriginGuardError,
  NotReadyError,
  SourceError,
} from './errors.js';
export {
  decisionLogLine,
  guardFailureLogLine,
  type RequestWhere,
  sourceEventLevel,
  sourceEventLogLine,
} from './log-lines.js';
export { type Family, formatIp, normalizeIp, parseForwardedEntry, parseIp } from './net/address.js';
export { type Cidr, parseCidr, RangeMatcher, TRUSTED_PROXY_NAMES } from './net/matcher.js';
export {
  CLOUDFRONT_PREFIX_LIST,
  CLOUDFRONT_PREFIX_LIST_IPV6,
  DEFAULT_IP_RANGES_URL,
  DEFAULT_SECRET_STAGES,
} from './options/defaults.js';
export { checkOptionKeys, DEFAULT_DENY_RESPONSE, OPTION_KEYS } from './options/resolve.js';
export type {
  BaseGuardOptions,
  DenyResponse,
  DenyResponseOptions,
  LogLevel,
  Mode,
  OriginGuardOptions,
  RangesOption,
  SecretsManagerOptions,
  StaticSecretOptions,
  TrustedProxyName,
  VerifyInput,
} from './options/types.js';
export { type DenyTarget, writeDenyResponse } from './request/deny.js';
export { isReservedHeaderName } from './request/headers.js';
export { matchablePath, pathUnderMount } from './request/path.js';
export { recordDecision } from './request/record.js';
export {
  type AppListener,
  EXPRESS_APP,
  ServerWatch,
  type ServerWatchEvent,
  type ServerWatchOptions,
  type ServerWatchStart,
} from './server-watch.js';
export { isAwsResponseParseFailure } from './sources/aws-errors.js';
export type { SourceStats } from './sources/cache.js';
export { type IpRangesSourceOptions, ipRangesSource } from './sources/ip-ranges.js';
export { type PrefixListSourceOptions, prefixListSource } from './sources/prefix-list.js';
export {
  readSecretString,
  type SecretStringRead,
  type SecretsManagerSourceOptions,
  secretsManagerSource,
} from './sources/secrets-manager.js';
export { type StaticSecret, staticRangeSource, staticSecretSource } from './sources/static.js';
export type {
  AwsSdkClient,
  RangeSnapshot,
  RangeSource,
  SecretSnapshot,
  SecretSource,
  SecretValue,
  SourceLoadContext,
} from './sources/types.js';
export type { VerifierStats } from './stats.js';
export {
  checkContinuePathRules,
  checkRequestPaths,
  guardUpgrades,
  isGuardingUpgrades,
  listenersBeforeFramework,
  type UpgradeGuardOptions,
  type UpgradeRequest,
  type UpgradeServer,
} from './upgrade.js';
export {
  createOriginVerifier,
  isOriginVerifier,
  type OriginVerifier,
  type SourceEvent,
} from './verifier.js';
