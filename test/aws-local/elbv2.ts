/**
 * Local Elastic Load Balancing v2 (query protocol, API version 2015-12-01): Application Load
 * Balancers with attributes, listeners and listener rules, `DescribeLoadBalancers`,
 * `DescribeLoadBalancerAttributes`, `DescribeListeners`, `DescribeRules` and `ModifyRule`
 * (with AWS's limits on condition values), target groups and their registered targets
 * (`DescribeTargetGroups`, `DescribeTargetHealth`), fixture builders to lay out a whole account, and
 * {@link LocalElbv2.evaluate}, which applies a listener's rules to a request the way an ALB
 * does (the "ALB stand-in" of the end-to-end tests).
 * @module
 */
import { randomBytes } from 'node:crypto';
import type {
  Action,
  LoadBalancerSchemeEnum,
  RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { escapeXml, type Reply, xmlReply } from './reply.js';

const NAMESPACE = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
/** The query-protocol `Version` that routes a call here rather than to EC2. */
export const ELBV2_API_VERSION = '2015-12-01';
const PAGE_SIZE_LIMIT = 400;
/** AWS: at most 3 values per condition and 5 condition values per rule. */
const MAX_VALUES_PER_CONDITION = 3;
const MAX_VALUES_PER_RULE = 5;

/** Attributes an ALB starts with (`DescribeLoadBalancerAttributes`). */
export const DEFAULT_ALB_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({
  'deletion_protection.enabled': 'false',
  'idle_timeout.timeout_seconds': '60',
  'routing.http.desync_mitigation_mode': 'defensive',
  'routing.http.drop_invalid_header_fields.enabled': 'false',
  'routing.http.preserve_host_header.enabled': 'false',
  'routing.http.x_amzn_tls_version_and_cipher_suite.enabled': 'false',
  'routing.http.xff_client_port.enabled': 'false',
  'routing.http.xff_header_processing.mode': 'append',
  'routing.http2.enabled': 'true',
  'waf.fail_open.enabled': 'false',
});

/** Fixture builder: a `fixed-response` action (the deny an origin-verify setup ends with). */
export function fixedResponse(statusCode = '403', messageBody = 'Forbidden'): Action {
  return {
    Type: 'fixed-response',
    FixedResponseConfig: {
      StatusCode: statusCode,
      ContentType: 'text/plain',
      MessageBody: messageBody,
    },
  };
}

/** Fixture builder: a `forward` action to one target group. */
export function forward(targetGroupArn: string): Action {
  return { Type: 'forward', TargetGroupArn: targetGroupArn };
}

/** Fixture builder: an `http-header` condition. */
export function httpHeaderCondition(name: string, values: readonly string[]): RuleCondition {
  return { Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: name, Values: [...values] } };
}

/** A load balancer to create with {@link LocalElbv2.addLoadBalancer}. */
export interface LocalLoadBalancerSpec {
  readonly name: string;
  /** Defaults to `internet-facing`. */
  readonly scheme?: LoadBalancerSchemeEnum | 'internet-facing' | 'internal';
  /** Defaults to `ipv4`. */
  readonly ipAddressType?: 'ipv4' | 'dualstack' | 'dualstack-without-public-ipv4';
  /** Security group ids. Defaults to one random `sg-…`. */
  readonly securityGroups?: readonly string[];
  /** Defaults to a random `vpc-…`. */
  readonly vpcId?: string;
  /** Attribute overrides on top of {@link DEFAULT_ALB_ATTRIBUTES}. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** A listener to create with {@link LocalElbv2.addListener}. */
export interface LocalListenerSpec {
  readonly port: number;
  /** Defaults to `HTTPS`. */
  readonly protocol?: 'HTTP' | 'HTTPS';
  /** The default rule's actions. */
  readonly defaultActions: readonly Action[];
}

/** A rule to create with {@link LocalElbv2.addRule}. */
export interface LocalRuleSpec {
  readonly priority: number;
  readonly conditions: readonly RuleCondition[];
  readonly actions: readonly Action[];
}

/** A target group to create with {@link LocalElbv2.addTargetGroup}. */
export interface LocalTargetGroupSpec {
  readonly name: string;
  /** Defaults to `8080`. */
  readonly port?: number;
  /** Defaults to `HTTP`. */
  readonly protocol?: 'HTTP' | 'HTTPS';
  /** Defaults to `instance`. */
  readonly targetType?: 'instance' | 'ip' | 'lambda' | 'alb';
  /** `traffic-port` (the default) or a port number, as text. */
  readonly healthCheckPort?: string;
  /** A fixed ARN (a fixture's forward action may name it first). Defaults to a new one. */
  readonly arn?: string;
  /** Defaults to `vpc-0local`, the VPC local network interfaces default to. */
  readonly vpcId?: string;
  /**
   * The address family of its IP targets (`IpAddressType`): an `ipv6` group takes IPv6
   * addresses only, an `ipv4` one IPv4 only. Defaults to `ipv4`.
   */
  readonly ipAddressType?: 'ipv4' | 'ipv6';
}

/** A target to register with {@link LocalElbv2.registerTargets}. */
export interface LocalTargetSpec {
  /** An instance id, an IP address, a Lambda function ARN or an ALB ARN. */
  readonly id: string;
  /** Defaults to the target group's port (none for Lambda targets). */
  readonly port?: number;
  /** `all` for an IP address outside the VPC. */
  readonly availabilityZone?: string;
}

/** A stored rule, as a test reads it back. */
export interface LocalRuleView {
  readonly arn: string;
  readonly listenerArn: string;
  readonly priority: number | 'default';
  readonly conditions: readonly RuleCondition[];
  readonly actions: readonly Action[];
}

/** A request for {@link LocalElbv2.evaluate}. */
export interface LocalAlbRequest {
  /** Header names in any case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Defaults to `/`. */
  readonly path?: string;
  /** Defaults to `GET`. */
  readonly method?: string;
}

/** Test helpers to arrange load balancers, listeners and rules on the local endpoint. */
export interface LocalElbv2 {
  addLoadBalancer(spec: LocalLoadBalancerSpec): { arn: string; name: string; dnsName: string };
  /** Replace attributes (merged over the current ones). */
  setAttributes(loadBalancerArn: string, attributes: Readonly<Record<string, string>>): void;
  /** Add a listener and its default rule. */
  addListener(
    loadBalancerArn: string,
    spec: LocalListenerSpec,
  ): { arn: string; defaultRuleArn: string };
  /**
   * Add a rule. Its conditions are stored and returned by `DescribeRules` as given, keys the SDK
   * does not model included (as elements of the same name): a newer ALB setting, for tests of
   * what an older SDK would drop.
   */
  addRule(listenerArn: string, spec: LocalRuleSpec): { arn: string };
  /** A rule's current state. */
  rule(ruleArn: string): LocalRuleView;
  /** A listener's rules in evaluation order (the default rule last). */
  rules(listenerArn: string): LocalRuleView[];
  /** The first rule (in priority order) whose conditions all match, and its first action. */
  evaluate(listenerArn: string, request: LocalAlbRequest): { rule: LocalRuleView; action: Action };
  /**
   * Add a target group. `DescribeTargetGroups` with a `LoadBalancerArn` lists it for every load
   * balancer with a rule (default rules included) that forwards to it, as AWS does.
   */
  addTargetGroup(spec: LocalTargetGroupSpec): { arn: string };
  /**
   * Register targets with a target group (`DescribeTargetHealth` lists them, `healthy`, with the
   * id as given). An IP address of the other family than the group's `ipAddressType` throws, as
   * `RegisterTargets` refuses it.
   */
  registerTargets(targetGroupArn: string, targets: readonly LocalTargetSpec[]): void;
  /** Answer `AccessDenied` to every ELBv2 call (`false` undoes it). */
  deny(denied?: boolean): void;
}

interface StoredTargetGroup {
  readonly arn: string;
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly targetType: string;
  readonly healthCheckPort: string;
  readonly vpcId: string;
  readonly ipAddressType: 'ipv4' | 'ipv6';
  readonly targets: LocalTargetSpec[];
}

interface StoredLoadBalancer {
  readonly arn: string;
  readonly name: string;
  readonly dnsName: string;
  readonly scheme: string;
  readonly ipAddressType: string;
  readonly securityGroups: readonly string[];
  readonly vpcId: string;
  readonly createdTime: number;
  readonly attributes: Map<string, string>;
}

interface StoredListener {
  readonly arn: string;
  readonly loadBalancerArn: string;
  readonly port: number;
  readonly protocol: string;
}

interface StoredRule {
  readonly arn: string;
  readonly listenerArn: string;
  readonly priority: number | 'default';
  conditions: RuleCondition[];
  actions: Action[];
}

class Elbv2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** The store plus its wire handler. */
export class Elbv2Service implements LocalElbv2 {
  readonly #loadBalancers = new Map<string, StoredLoadBalancer>();
  readonly #listeners = new Map<string, StoredListener>();
  readonly #rules = new Map<string, StoredRule>();
  readonly #targetGroups = new Map<string, StoredTargetGroup>();
  readonly #region: string;
  readonly #accountId: string;
  #denied = false;

  constructor(region: string, accountId: string) {
    this.#region = region;
    this.#accountId = accountId;
  }

  // ---- helpers for tests -------------------------------------------------------------------

  addLoadBalancer(spec: LocalLoadBalancerSpec): { arn: string; name: string; dnsName: string } {
    for (const lb of this.#loadBalancers.values()) {
      if (lb.name === spec.name) throw new Error(`local elbv2: load balancer ${spec.name} exists`);
    }
    const id = hex(8);
    const arn = `arn:aws:elasticloadbalancing:${this.#region}:${this.#accountId}:loadbalancer/app/${spec.name}/${id}`;
    const internal = spec.scheme === 'internal';
    const dnsName = `${internal ? 'internal-' : ''}${spec.name}-${Number.parseInt(hex(4), 16)}.${this.#region}.elb.amazonaws.com`;
    this.#loadBalancers.set(arn, {
      arn,
      name: spec.name,
      dnsName,
      scheme: spec.scheme ?? 'internet-facing',
      ipAddressType: spec.ipAddressType ?? 'ipv4',
      securityGroups: [...(spec.securityGroups ?? [`sg-${hex(8)}`])],
      vpcId: spec.vpcId ?? `vpc-${hex(8)}`,
      createdTime: Date.now(),
      attributes: new Map(Object.entries({ ...DEFAULT_ALB_ATTRIBUTES, ...spec.attributes })),
    });
    return { arn, name: spec.name, dnsName };
  }

  setAttributes(loadBalancerArn: string, attributes: Readonly<Record<string, string>>): void {
    const lb = this.#loadBalancers.get(loadBalancerArn);
    if (lb === undefined) throw new Error(`local elbv2: no load balancer ${loadBalancerArn}`);
    for (const [key, value] of Object.entries(attributes)) lb.attributes.set(key, value);
  }

  addListener(
    loadBalancerArn: string,
    spec: LocalListenerSpec,
  ): { arn: string; defaultRuleArn: string } {
    const lb = this.#loadBalancers.get(loadBalancerArn);
    if (lb === undefined) throw new Error(`local elbv2: no load balancer ${loadBalancerArn}`);
    const lbPath = lb.arn.slice(lb.arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
    const base = `arn:aws:elasticloadbalancing:${this.#region}:${this.#accountId}`;
    const listenerPath = `${lbPath}/${hex(8)}`;
    const arn = `${base}:listener/${listenerPath}`;
    this.#listeners.set(arn, {
      arn,
      loadBalancerArn,
      port: spec.port,
      protocol: spec.protocol ?? 'HTTPS',
    });
    const defaultRuleArn = `${base}:listener-rule/${listenerPath}/${hex(8)}`;
    this.#rules.set(defaultRuleArn, {
      arn: defaultRuleArn,
      listenerArn: arn,
      priority: 'default',
      conditions: [],
      actions: structuredClone([...spec.defaultActions]),
    });
    return { arn, defaultRuleArn };
  }

  addRule(listenerArn: string, spec: LocalRuleSpec): { arn: string } {
    if (!this.#listeners.has(listenerArn))
      throw new Error(`local elbv2: no listener ${listenerArn}`);
    for (const r of this.#rules.values()) {
      if (r.listenerArn === listenerArn && r.priority === spec.priority)
        throw new Error(`local elbv2: priority ${spec.priority} is in use`);
    }
    validateConditions(spec.conditions);
    const arn = `${listenerArn.replace(':listener/', ':listener-rule/')}/${hex(8)}`;
    this.#rules.set(arn, {
      arn,
      listenerArn,
      priority: spec.priority,
      conditions: structuredClone([...spec.conditions]),
      actions: structuredClone([...spec.actions]),
    });
    return { arn };
  }

  rule(ruleArn: string): LocalRuleView {
    const r = this.#rules.get(ruleArn);
    if (r === undefined) throw new Error(`local elbv2: no rule ${ruleArn}`);
    return view(r);
  }

  rules(listenerArn: string): LocalRuleView[] {
    return this.#ordered(listenerArn).map(view);
  }

  evaluate(listenerArn: string, request: LocalAlbRequest): { rule: LocalRuleView; action: Action } {
    for (const r of this.#ordered(listenerArn)) {
      if (r.conditions.every((c) => conditionMatches(c, request))) {
        const action = [...r.actions].sort((a, b) => (a.Order ?? 0) - (b.Order ?? 0))[0];
        if (action === undefined) throw new Error(`local elbv2: rule ${r.arn} has no action`);
        return { rule: view(r), action };
      }
    }
    throw new Error(`local elbv2: listener ${listenerArn} has no default rule`);
  }

  addTargetGroup(spec: LocalTargetGroupSpec): { arn: string } {
    const arn =
      spec.arn ??
      `arn:aws:elasticloadbalancing:${this.#region}:${this.#accountId}:targetgroup/${spec.name}/${hex(8)}`;
    if (this.#targetGroups.has(arn)) throw new Error(`local elbv2: target group ${arn} exists`);
    this.#targetGroups.set(arn, {
      arn,
      name: spec.name,
      port: spec.port ?? 8080,
      protocol: spec.protocol ?? 'HTTP',
      targetType: spec.targetType ?? 'instance',
      healthCheckPort: spec.healthCheckPort ?? 'traffic-port',
      vpcId: spec.vpcId ?? 'vpc-0local',
      ipAddressType: spec.ipAddressType ?? 'ipv4',
      targets: [],
    });
    return { arn };
  }

  registerTargets(targetGroupArn: string, targets: readonly LocalTargetSpec[]): void {
    const group = this.#targetGroups.get(targetGroupArn);
    if (group === undefined) throw new Error(`local elbv2: no target group ${targetGroupArn}`);
    if (group.targetType === 'ip') {
      const other = targets.find((t) => t.id.includes(':') !== (group.ipAddressType === 'ipv6'));
      if (other !== undefined)
        throw new Error(
          `local elbv2: ${other.id} is not an ${group.ipAddressType} address, which target group ${group.name} takes`,
        );
    }
    group.targets.push(...targets.map((t) => ({ ...t })));
  }

  deny(denied = true): void {
    this.#denied = denied;
  }

  // ---- wire --------------------------------------------------------------------------------

  /** Handle one query-protocol call with its decoded parameters. */
  handle(action: string, params: URLSearchParams, requestId: string): Reply {
    try {
      if (this.#denied) {
        throw new Elbv2Error(
          'AccessDenied',
          `User: arn:aws:iam::${this.#accountId}:user/test is not authorized to perform: elasticloadbalancing:${action}`,
          403,
        );
      }
      const input = decodeQuery(params);
      switch (action) {
        case 'DescribeLoadBalancers':
          return this.#reply(action, this.#describeLoadBalancers(input), requestId);
        case 'DescribeLoadBalancerAttributes':
          return this.#reply(action, this.#describeAttributes(input), requestId);
        case 'DescribeListeners':
          return this.#reply(action, this.#describeListeners(input), requestId);
        case 'DescribeRules':
          return this.#reply(action, this.#describeRules(input), requestId);
        case 'ModifyRule':
          return this.#reply(action, this.#modifyRule(input), requestId);
        case 'DescribeTargetGroups':
          return this.#reply(action, this.#describeTargetGroups(input), requestId);
        case 'DescribeTargetHealth':
          return this.#reply(action, this.#describeTargetHealth(input), requestId);
        default:
          throw new Elbv2Error(
            'InvalidAction',
            `Could not find operation ${action} for version ${ELBV2_API_VERSION}`,
          );
      }
    } catch (error) {
      if (error instanceof Elbv2Error)
        return elbv2Error(error.code, error.message, requestId, error.status);
      return elbv2Error('InternalFailure', 'An internal error has occurred.', requestId, 500);
    }
  }

  #reply(action: string, result: Record<string, unknown>, requestId: string): Reply {
    const inner = Object.entries(result)
      .map(([k, v]) => toXml(k, v))
      .join('');
    return xmlReply(
      200,
      `<${action}Response xmlns="${NAMESPACE}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`,
      requestId,
    );
  }

  #describeLoadBalancers(input: Decoded): Record<string, unknown> {
    const arns = stringList(input.LoadBalancerArns);
    const names = stringList(input.Names);
    if (arns.length > 0 && names.length > 0)
      throw new Elbv2Error(
        'ValidationError',
        'Load balancer names and load balancer ARNs cannot be specified at the same time',
      );
    let lbs = [...this.#loadBalancers.values()];
    if (arns.length > 0 || names.length > 0) {
      lbs = [];
      for (const key of arns.length > 0 ? arns : names) {
        const found = [...this.#loadBalancers.values()].find((lb) =>
          arns.length > 0 ? lb.arn === key : lb.name === key,
        );
        if (found === undefined)
          throw new Elbv2Error('LoadBalancerNotFound', `One or more load balancers not found`);
        lbs.push(found);
      }
    }
    const { items, nextMarker } = paginate(lbs, input);
    const out: Record<string, unknown> = {
      LoadBalancers: items.map((lb) => ({
        LoadBalancerArn: lb.arn,
        DNSName: lb.dnsName,
        CanonicalHostedZoneId: 'Z35SXDOTRQ7X7K',
        CreatedTime: new Date(lb.createdTime).toISOString(),
        LoadBalancerName: lb.name,
        Scheme: lb.scheme,
        VpcId: lb.vpcId,
        State: { Code: 'active' },
        Type: 'application',
        AvailabilityZones: [
          { ZoneName: `${this.#region}a`, SubnetId: `subnet-${hex(8)}` },
          { ZoneName: `${this.#region}b`, SubnetId: `subnet-${hex(8)}` },
        ],
        SecurityGroups: [...lb.securityGroups],
        IpAddressType: lb.ipAddressType,
      })),
    };
    if (nextMarker !== undefined) out.NextMarker = nextMarker;
    return out;
  }

  #describeAttributes(input: Decoded): Record<string, unknown> {
    const arn = requiredString(input.LoadBalancerArn, 'LoadBalancerArn');
    const lb = this.#loadBalancers.get(arn);
    if (lb === undefined)
      throw new Elbv2Error('LoadBalancerNotFound', `Load balancer '${arn}' not found`);
    return {
      Attributes: [...lb.attributes].map(([Key, Value]) => ({ Key, Value })),
    };
  }

  #describeListeners(input: Decoded): Record<string, unknown> {
    const lbArn = optionalString(input.LoadBalancerArn);
    const arns = stringList(input.ListenerArns);
    if (lbArn === undefined && arns.length === 0)
      throw new Elbv2Error(
        'ValidationError',
        'You must specify either listener ARNs or a load balancer ARN',
      );
    let listeners: StoredListener[];
    if (arns.length > 0) {
      listeners = pick(arns, this.#listeners, 'ListenerNotFound', 'listeners');
    } else {
      if (lbArn === undefined || !this.#loadBalancers.has(lbArn))
        throw new Elbv2Error('LoadBalancerNotFound', `Load balancer '${lbArn}' not found`);
      listeners = [...this.#listeners.values()].filter((l) => l.loadBalancerArn === lbArn);
    }
    const { items, nextMarker } = paginate(listeners, input);
    const out: Record<string, unknown> = {
      Listeners: items.map((l) => ({
        ListenerArn: l.arn,
        LoadBalancerArn: l.loadBalancerArn,
        Port: l.port,
        Protocol: l.protocol,
        ...(l.protocol === 'HTTPS'
          ? {
              Certificates: [
                {
                  CertificateArn: `arn:aws:acm:${this.#region}:${this.#accountId}:certificate/${hex(16)}`,
                },
              ],
              SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
            }
          : {}),
        DefaultActions: this.#defaultRule(l.arn).actions,
      })),
    };
    if (nextMarker !== undefined) out.NextMarker = nextMarker;
    return out;
  }

  /** The target groups the rules of a load balancer's listeners forward to. */
  #forwardedBy(loadBalancerArn: string): Set<string> {
    const arns = new Set<string>();
    for (const r of this.#rules.values()) {
      if (this.#listeners.get(r.listenerArn)?.loadBalancerArn !== loadBalancerArn) continue;
      for (const a of r.actions) {
        if (a.TargetGroupArn !== undefined) arns.add(a.TargetGroupArn);
        for (const t of a.ForwardConfig?.TargetGroups ?? [])
          if (t.TargetGroupArn !== undefined) arns.add(t.TargetGroupArn);
      }
    }
    return arns;
  }

  #describeTargetGroups(input: Decoded): Record<string, unknown> {
    const lbArn = optionalString(input.LoadBalancerArn);
    const arns = stringList(input.TargetGroupArns);
    let groups: StoredTargetGroup[];
    if (arns.length > 0) {
      groups = pick(arns, this.#targetGroups, 'TargetGroupNotFound', 'target groups');
    } else if (lbArn !== undefined) {
      if (!this.#loadBalancers.has(lbArn))
        throw new Elbv2Error('LoadBalancerNotFound', `Load balancer '${lbArn}' not found`);
      const used = this.#forwardedBy(lbArn);
      groups = [...this.#targetGroups.values()].filter((g) => used.has(g.arn));
    } else {
      groups = [...this.#targetGroups.values()];
    }
    const { items, nextMarker } = paginate(groups, input);
    const out: Record<string, unknown> = {
      TargetGroups: items.map((g) => ({
        TargetGroupArn: g.arn,
        TargetGroupName: g.name,
        ...(g.targetType === 'lambda' ? {} : { Protocol: g.protocol, Port: g.port }),
        HealthCheckPort: g.healthCheckPort,
        ...(g.targetType === 'lambda' ? {} : { VpcId: g.vpcId }),
        TargetType: g.targetType,
        ...(g.targetType === 'lambda' ? {} : { IpAddressType: g.ipAddressType }),
        LoadBalancerArns: [...this.#loadBalancers.keys()].filter((lb) =>
          this.#forwardedBy(lb).has(g.arn),
        ),
      })),
    };
    if (nextMarker !== undefined) out.NextMarker = nextMarker;
    return out;
  }

  #describeTargetHealth(input: Decoded): Record<string, unknown> {
    const arn = requiredString(input.TargetGroupArn, 'TargetGroupArn');
    const group = this.#targetGroups.get(arn);
    if (group === undefined)
      throw new Elbv2Error('TargetGroupNotFound', `Target groups '${arn}' not found`);
    return {
      TargetHealthDescriptions: group.targets.map((t) => {
        const port = t.port ?? (group.targetType === 'lambda' ? undefined : group.port);
        return {
          Target: {
            Id: t.id,
            ...(port === undefined ? {} : { Port: port }),
            ...(t.availabilityZone === undefined ? {} : { AvailabilityZone: t.availabilityZone }),
          },
          HealthCheckPort:
            group.healthCheckPort === 'traffic-port' ? String(port ?? '') : group.healthCheckPort,
          TargetHealth: { State: 'healthy' },
        };
      }),
    };
  }

  #describeRules(input: Decoded): Record<string, unknown> {
    const listenerArn = optionalString(input.ListenerArn);
    const arns = stringList(input.RuleArns);
    if (listenerArn === undefined && arns.length === 0)
      throw new Elbv2Error(
        'ValidationError',
        'You must specify either listener rule ARNs or a listener ARN',
      );
    let rules: StoredRule[];
    if (arns.length > 0) {
      rules = pick(arns, this.#rules, 'RuleNotFound', 'rules');
    } else {
      if (listenerArn === undefined || !this.#listeners.has(listenerArn))
        throw new Elbv2Error('ListenerNotFound', `Listener '${listenerArn}' not found`);
      rules = this.#ordered(listenerArn);
    }
    const { items, nextMarker } = paginate(rules, input);
    const out: Record<string, unknown> = { Rules: items.map(wireRule) };
    if (nextMarker !== undefined) out.NextMarker = nextMarker;
    return out;
  }

  #modifyRule(input: Decoded): Record<string, unknown> {
    const arn = requiredString(input.RuleArn, 'RuleArn');
    const r = this.#rules.get(arn);
    if (r === undefined) throw new Elbv2Error('RuleNotFound', `Rule '${arn}' not found`);
    if (input.Conditions !== undefined) {
      if (r.priority === 'default')
        throw new Elbv2Error(
          'OperationNotPermitted',
          'Conditions cannot be specified for the default rule',
        );
      const conditions = decodedList(input.Conditions) as RuleCondition[];
      // DescribeRules reports path/host conditions both ways; ModifyRule takes only one.
      for (const c of conditions) {
        const hasConfig = Object.keys(c).some((k) => k.endsWith('Config'));
        if (hasConfig && c.Values !== undefined)
          throw new Elbv2Error(
            'ValidationError',
            `A condition cannot have both 'Values' and a '${c.Field}' config`,
          );
      }
      validateConditions(conditions);
      r.conditions = conditions;
    }
    if (input.Actions !== undefined) {
      const actions = (decodedList(input.Actions) as Action[]).map((a) =>
        a.Order === undefined ? a : { ...a, Order: Number(a.Order) },
      );
      if (actions.length === 0)
        throw new Elbv2Error('ValidationError', 'A rule must have at least one action');
      r.actions = actions;
    }
    return { Rules: [wireRule(r)] };
  }

  #defaultRule(listenerArn: string): StoredRule {
    const found = [...this.#rules.values()].find(
      (r) => r.listenerArn === listenerArn && r.priority === 'default',
    );
    if (found === undefined)
      throw new Error(`local elbv2: listener ${listenerArn} has no default rule`);
    return found;
  }

  #ordered(listenerArn: string): StoredRule[] {
    return [...this.#rules.values()]
      .filter((r) => r.listenerArn === listenerArn)
      .sort((a, b) => rank(a.priority) - rank(b.priority));
  }
}

/** The stored items for `arns`, or AWS's "One or more … not found". */
function pick<T>(
  arns: readonly string[],
  store: ReadonlyMap<string, T>,
  code: string,
  what: string,
): T[] {
  return arns.map((arn) => {
    const found = store.get(arn);
    if (found === undefined) throw new Elbv2Error(code, `One or more ${what} not found`);
    return found;
  });
}

const rank = (p: number | 'default'): number => (p === 'default' ? Number.MAX_SAFE_INTEGER : p);

function view(r: StoredRule): LocalRuleView {
  return {
    arn: r.arn,
    listenerArn: r.listenerArn,
    priority: r.priority,
    conditions: structuredClone(r.conditions),
    actions: structuredClone(r.actions),
  };
}

function wireRule(r: StoredRule): Record<string, unknown> {
  return {
    RuleArn: r.arn,
    Priority: String(r.priority),
    Conditions: r.conditions,
    Actions: r.actions,
    IsDefault: r.priority === 'default',
  };
}

/** Values a condition carries, wherever its type keeps them. */
function conditionValues(c: RuleCondition): string[] {
  return [
    ...(c.Values ?? []),
    ...(c.HttpHeaderConfig?.Values ?? []),
    ...(c.HttpHeaderConfig?.RegexValues ?? []),
    ...(c.HostHeaderConfig?.Values ?? []),
    ...(c.PathPatternConfig?.Values ?? []),
    ...(c.HttpRequestMethodConfig?.Values ?? []),
    ...(c.SourceIpConfig?.Values ?? []),
    ...(c.QueryStringConfig?.Values ?? []).map((kv) => `${kv.Key ?? ''}=${kv.Value ?? ''}`),
  ];
}

/** AWS's limits: at most 3 values per condition, 5 per rule, none empty. */
function validateConditions(conditions: readonly RuleCondition[]): void {
  let total = 0;
  for (const c of conditions) {
    const values = conditionValues(c);
    if (c.Field === 'http-header') {
      const name = c.HttpHeaderConfig?.HttpHeaderName;
      if (name === undefined || name.length === 0 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
        throw new Elbv2Error(
          'ValidationError',
          'An http-header condition needs a valid HttpHeaderName',
        );
    }
    if (values.length === 0)
      throw new Elbv2Error(
        'ValidationError',
        `A '${c.Field}' condition must have at least one value`,
      );
    if (values.some((v) => v.length === 0 || v.length > 128 || /[^\x20-\x7e]/.test(v)))
      throw new Elbv2Error(
        'ValidationError',
        'Condition values must be 1 to 128 visible ASCII characters',
      );
    if (values.length > MAX_VALUES_PER_CONDITION) {
      throw new Elbv2Error(
        'ValidationError',
        `A condition can have at most '${MAX_VALUES_PER_CONDITION}' values`,
      );
    }
    total += values.length;
  }
  if (total > MAX_VALUES_PER_RULE) {
    throw new Elbv2Error(
      'ValidationError',
      `A rule can have at most '${MAX_VALUES_PER_RULE}' condition values`,
    );
  }
}

/** ALB wildcard matching: `*` any run, `?` one character. */
function wildcard(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's').test(value);
}

function conditionMatches(c: RuleCondition, request: LocalAlbRequest): boolean {
  const header = (name: string): string | undefined => {
    const wanted = name.toLowerCase();
    for (const [k, v] of Object.entries(request.headers)) if (k.toLowerCase() === wanted) return v;
    return undefined;
  };
  switch (c.Field) {
    case 'http-header': {
      const value = header(c.HttpHeaderConfig?.HttpHeaderName ?? '');
      // Values match case-insensitively with `*` and `?`; RegexValues as regular expressions
      // (JavaScript's, close enough to ALB's for the patterns the tests use).
      return (
        value !== undefined &&
        ((c.HttpHeaderConfig?.Values ?? []).some((p) => wildcard(p, value, true)) ||
          (c.HttpHeaderConfig?.RegexValues ?? []).some((r) => new RegExp(r).test(value)))
      );
    }
    case 'host-header': {
      const host = header('host') ?? '';
      return [...(c.HostHeaderConfig?.Values ?? []), ...(c.Values ?? [])].some((p) =>
        wildcard(p, host, true),
      );
    }
    case 'path-pattern': {
      const path = request.path ?? '/';
      return [...(c.PathPatternConfig?.Values ?? []), ...(c.Values ?? [])].some((p) =>
        wildcard(p, path, false),
      );
    }
    case 'http-request-method':
      return (c.HttpRequestMethodConfig?.Values ?? []).includes(request.method ?? 'GET');
    default:
      throw new Error(`local elbv2.evaluate: condition ${c.Field} is not simulated`);
  }
}

// ---- query protocol: flat members in, XML out -------------------------------------------------

type Decoded = Record<string, unknown>;

/**
 * `A.member.1.B.member.2=x` -> `{ A: { member: [ { B: { member: [, 'x'] } } ] } }` with
 * `member` lists as arrays, so a list is `decodedList(input.A)`.
 */
function decodeQuery(params: URLSearchParams): Decoded {
  const root: Decoded = {};
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version') continue;
    const parts = key.split('.');
    let node: Record<string | number, unknown> | unknown[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const index = /^\d+$/.test(part) ? Number(part) - 1 : undefined;
      const slot: string | number = index ?? part;
      const last = i === parts.length - 1;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[slot] = value;
      } else {
        const nextIsIndex = /^\d+$/.test(parts[i + 1] ?? '');
        container[slot] ??= nextIsIndex ? [] : {};
        node = container[slot] as Record<string, unknown>;
      }
    }
  }
  return root;
}

/** A decoded `X.member.N` list, compacted. */
function decodedList(value: unknown): unknown[] {
  if (value === undefined || value === '') return [];
  const members = (value as { member?: unknown[] }).member;
  if (!Array.isArray(members))
    throw new Elbv2Error('ValidationError', 'Expected a list of members');
  return members.filter((m) => m !== undefined).map(unwrapLists);
}

/** Turn nested `{member: [...]}` objects into arrays. */
function unwrapLists(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((m) => m !== undefined).map(unwrapLists);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === 'member') return unwrapLists(obj.member);
    return Object.fromEntries(keys.map((k) => [k, unwrapLists(obj[k])]));
  }
  return value;
}

function stringList(value: unknown): string[] {
  return decodedList(value).map(String);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function requiredString(value: unknown, name: string): string {
  const s = optionalString(value);
  if (s === undefined) throw new Elbv2Error('ValidationError', `${name} is required`);
  return s;
}

function paginate<T>(
  all: readonly T[],
  input: Decoded,
): { items: T[]; nextMarker: string | undefined } {
  const rawSize = optionalString(input.PageSize);
  const size = rawSize === undefined ? PAGE_SIZE_LIMIT : Number(rawSize);
  if (!Number.isInteger(size) || size < 1 || size > PAGE_SIZE_LIMIT)
    throw new Elbv2Error('ValidationError', `PageSize must be between 1 and ${PAGE_SIZE_LIMIT}`);
  const marker = optionalString(input.Marker);
  const start =
    marker === undefined ? 0 : Number(Buffer.from(marker, 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0)
    throw new Elbv2Error('ValidationError', 'The marker is not valid');
  const end = Math.min(all.length, start + size);
  return {
    items: all.slice(start, end),
    nextMarker:
      end < all.length ? Buffer.from(String(end), 'utf8').toString('base64url') : undefined,
  };
}

/** Query-protocol XML: lists as `<member>`, structures as nested elements. */
function toXml(name: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value))
    return `<${name}>${value.map((v) => toXml('member', v)).join('')}</${name}>`;
  if (typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => toXml(k, v))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** An ELBv2 query-protocol error reply. */
export function elbv2Error(code: string, message: string, requestId: string, status = 400): Reply {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return xmlReply(
    status,
    `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>${type}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    requestId,
  );
}
