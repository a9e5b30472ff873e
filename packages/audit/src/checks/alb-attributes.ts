/**
 * ALB attributes the guard depends on: X-Forwarded-For in `append` mode, invalid headers dropped.
 * @module
 */
import type { AccountSnapshot, Finding } from '../types.js';
import { type Check, fail, firstSkip, pass, result, skipped, warn } from './result.js';

const check = { id: 'alb-attributes', title: 'ALB attributes' } as const;

const XFF_MODE = 'routing.http.xff_header_processing.mode';
const DROP_INVALID = 'routing.http.drop_invalid_header_fields.enabled';
const XFF_PORT = 'routing.http.xff_client_port.enabled';

function run(snapshot: AccountSnapshot) {
  const { attributes, loadBalancer } = snapshot;
  const skip = firstSkip(attributes);
  if (skip !== undefined || !attributes.ok)
    return skipped(check, skip ?? { reason: 'error', message: 'not gathered' });
  const attrs = attributes.value;
  const findings: Finding[] = [];
  const set = (key: string, value: string) =>
    `aws elbv2 modify-load-balancer-attributes --load-balancer-arn ${loadBalancer.arn} --attributes Key=${key},Value=${value}`;
  const mode = attrs[XFF_MODE] ?? 'append';
  if (mode === 'append') {
    findings.push(
      pass(
        `${XFF_MODE} is append: the ALB appends the CloudFront edge address, which the guard's default proxyHops 1 reads`,
        { [XFF_MODE]: mode, proxyHops: 1 },
      ),
    );
  } else {
    findings.push(
      fail(
        mode === 'preserve'
          ? `${XFF_MODE} is preserve: the ALB adds no hop, so the guard (proxyHops 1) reads the viewer as the edge and denies everything`
          : `${XFF_MODE} is ${mode}: the ALB strips X-Forwarded-For, so there is no edge hop to check`,
        set(XFF_MODE, 'append'),
        { [XFF_MODE]: mode, proxyHops: 1 },
      ),
    );
  }
  const drop = attrs[DROP_INVALID] ?? 'false';
  if (drop === 'true') {
    findings.push(pass(`${DROP_INVALID} is true`, { [DROP_INVALID]: drop }));
  } else {
    findings.push(
      warn(
        `${DROP_INVALID} is ${drop}: header names the ALB considers invalid reach the app`,
        set(DROP_INVALID, 'true'),
        { [DROP_INVALID]: drop },
      ),
    );
  }
  if (attrs[XFF_PORT] === 'true') {
    findings.push(
      pass(`${XFF_PORT} is true: hops carry a port, which the guard accepts`, {
        [XFF_PORT]: 'true',
      }),
    );
  }
  return result(check, findings);
}

/** ALB attributes. */
export const albAttributesCheck: Check = { ...check, run };
