/**
 * Local CloudFront (REST-XML, API version 2020-05-31): distributions whose configuration is
 * kept as the XML the SDK sends, with ETags, `If-Match` and `PreconditionFailed`, a `Status`
 * that turns `Deployed` a configurable delay after each update, and a view of what the
 * simulated edges send to an origin (the *deployed* configuration, or during a deployment a
 * mix of the old and the new one, as real edges pick it up one by one).
 * Handles `GetDistribution`, `GetDistributionConfig`, `UpdateDistribution`, `ListDistributions`
 * and `GetVpcOrigin`.
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto';
import { escapeXml, type Reply } from './reply.js';
import {
  at,
  child,
  cloneXml,
  el,
  leaf,
  parseXml,
  textAt,
  writeXml,
  type XmlNode,
  XmlSyntaxError,
} from './xml.js';

const NAMESPACE = 'http://cloudfront.amazonaws.com/doc/2020-05-31/';
const API_PREFIX = '/2020-05-31/distribution';
const VPC_ORIGIN_PREFIX = '/2020-05-31/vpc-origin/';
const MAX_ITEMS_LIMIT = 100;

/** `OriginProtocolPolicy` of a custom origin. */
export type OriginProtocolPolicy = 'http-only' | 'https-only' | 'match-viewer';

/** One origin of {@link LocalDistributionSpec}. */
export interface LocalOriginSpec {
  /** Origin id. */
  readonly id: string;
  /** Origin domain, e.g. an ALB's DNS name. */
  readonly domainName: string;
  /** Custom origin's protocol policy. Defaults to `https-only`. */
  readonly protocolPolicy?: OriginProtocolPolicy;
  /** Custom origin's `HTTPPort`. Defaults to `80`. */
  readonly httpPort?: number;
  /** Custom origin's `HTTPSPort`. Defaults to `443`. */
  readonly httpsPort?: number;
  /** Origin custom headers (name -> value). Defaults to none. */
  readonly headers?: Readonly<Record<string, string>>;
  /** An S3 origin (`S3OriginConfig`) instead of a custom origin. Defaults to `false`. */
  readonly s3?: boolean;
  /**
   * A VPC origin (`VpcOriginConfig` with this id, see {@link LocalCloudFront.addVpcOrigin})
   * instead of a custom origin; `protocolPolicy` is then the VPC origin's. Defaults to none.
   */
  readonly vpcOriginId?: string;
}

/** A VPC origin to create with {@link LocalCloudFront.addVpcOrigin}. */
export interface LocalVpcOriginSpec {
  /** VPC origin id. Defaults to a random `vo_…` id. */
  readonly id?: string;
  /** The endpoint's name. Defaults to `vpc-origin`. */
  readonly name?: string;
  /** The endpoint: an internal ALB's ARN. */
  readonly endpointArn: string;
  /** `VpcOriginEndpointConfig.OriginProtocolPolicy`. Defaults to `https-only`. */
  readonly protocolPolicy?: OriginProtocolPolicy;
  /** `VpcOriginEndpointConfig.HTTPPort`. Defaults to `80`. */
  readonly httpPort?: number;
  /** `VpcOriginEndpointConfig.HTTPSPort`. Defaults to `443`. */
  readonly httpsPort?: number;
}

/** A distribution to create with {@link LocalCloudFront.addDistribution}. */
export interface LocalDistributionSpec {
  /** Distribution id. Defaults to a random `E…` id. */
  readonly id?: string;
  readonly origins: readonly LocalOriginSpec[];
  /** Alternate domain names. Defaults to none. */
  readonly aliases?: readonly string[];
  /** Defaults to `''`. */
  readonly comment?: string;
  /** Defaults to `true`. */
  readonly enabled?: boolean;
  /** The status right after creation. Defaults to `Deployed`. */
  readonly status?: 'Deployed' | 'InProgress';
}

/** An origin as read back from a stored configuration. */
export interface LocalOriginView {
  readonly id: string;
  readonly domainName: string;
  /** `undefined` for an S3 origin or a VPC origin. */
  readonly protocolPolicy: string | undefined;
  /** The VPC origin's id, for a VPC origin. */
  readonly vpcOriginId?: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Test helpers to arrange CloudFront distributions on the local endpoint. */
export interface LocalCloudFront {
  /** Create a distribution. Returns its id, ARN, domain name and ETag. */
  addDistribution(spec: LocalDistributionSpec): {
    id: string;
    arn: string;
    domainName: string;
    etag: string;
  };
  /**
   * How long a distribution stays `InProgress` after `UpdateDistribution` (for one
   * distribution, or for all when `id` is omitted). Defaults to `0`.
   */
  setDeployDelay(ms: number, id?: string): void;
  /** Keep a distribution `InProgress` (never deploying) until called with `false`. */
  holdDeployment(id: string, hold?: boolean): void;
  /** `Deployed` or `InProgress`, as `GetDistribution` reports it now. */
  status(id: string): 'Deployed' | 'InProgress';
  /** The current ETag. */
  etag(id: string): string;
  /** Origins of the latest configuration, or of the last deployed one. */
  origins(id: string, which?: 'latest' | 'deployed'): LocalOriginView[];
  /**
   * The value of header `name` (case-insensitive) that the deployed configuration sends to
   * origin `originId` (defaults to the first origin); `undefined` when it sends none.
   */
  deployedHeader(id: string, name: string, originId?: string): string | undefined;
  /**
   * What one edge sends now: while a deployment is in progress, the old or the new value at
   * random (edges pick the new configuration up one by one); otherwise the deployed value.
   */
  edgeHeader(id: string, name: string, originId?: string): string | undefined;
  /** Someone else updated the distribution: a new ETag (and an `InProgress` deployment). */
  touch(id: string): string;
  /** Answer `AccessDenied` to every CloudFront call (`false` undoes it). */
  deny(denied?: boolean): void;
  /** Delete a distribution; its id then answers `NoSuchDistribution`. */
  removeDistribution(id: string): boolean;
  /** Delete every distribution (a test's account starts with none). */
  removeAllDistributions(): void;
  /** Create a VPC origin (`GetVpcOrigin` reads it; a missing id answers `EntityNotFound`). */
  addVpcOrigin(spec: LocalVpcOriginSpec): { id: string; arn: string };
}

interface StoredDistribution {
  readonly id: string;
  readonly arn: string;
  readonly domainName: string;
  config: XmlNode;
  deployed: XmlNode;
  etag: string;
  lastModified: number;
  inProgressUntil: number;
  held: boolean;
  deployDelayMs: number | undefined;
}

class CloudFrontError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A CloudFront REST call, as routed from method and path. */
export interface CloudFrontCall {
  readonly operation:
    | 'GetDistribution'
    | 'GetDistributionConfig'
    | 'UpdateDistribution'
    | 'ListDistributions'
    | 'GetVpcOrigin';
  readonly id: string;
}

/** The operation a request names, or `undefined` for a path this endpoint does not serve. */
export function cloudFrontCall(method: string, path: string): CloudFrontCall | undefined {
  if (path.startsWith(VPC_ORIGIN_PREFIX)) {
    const id = path.slice(VPC_ORIGIN_PREFIX.length);
    return method === 'GET' && id !== '' && !id.includes('/')
      ? { operation: 'GetVpcOrigin', id: decodeURIComponent(id) }
      : undefined;
  }
  if (!path.startsWith(API_PREFIX)) return undefined;
  const rest = path.slice(API_PREFIX.length);
  if (rest === '' || rest === '/')
    return method === 'GET' ? { operation: 'ListDistributions', id: '' } : undefined;
  const m = /^\/([^/]+)(\/config)?$/.exec(rest);
  if (m === null) return undefined;
  const id = decodeURIComponent(m[1] ?? '');
  if (m[2] === undefined)
    return method === 'GET' ? { operation: 'GetDistribution', id } : undefined;
  if (method === 'GET') return { operation: 'GetDistributionConfig', id };
  if (method === 'PUT') return { operation: 'UpdateDistribution', id };
  return undefined;
}

const randomId = (prefix: string, length: number, alphabet: string): string => {
  let out = prefix;
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
};
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const newEtag = (): string => randomId('E', 13, UPPER);

/** The store plus its wire handler. */
export class CloudFrontService implements LocalCloudFront {
  readonly #byId = new Map<string, StoredDistribution>();
  readonly #vpcOrigins = new Map<string, LocalVpcOriginSpec & { id: string; arn: string }>();
  readonly #accountId: string;
  #deployDelayMs = 0;
  #denied = false;

  constructor(accountId: string) {
    this.#accountId = accountId;
  }

  // ---- helpers for tests -------------------------------------------------------------------

  addDistribution(spec: LocalDistributionSpec): {
    id: string;
    arn: string;
    domainName: string;
    etag: string;
  } {
    const id = spec.id ?? randomId('E', 13, UPPER);
    if (this.#byId.has(id)) throw new Error(`local cloudfront: distribution ${id} exists`);
    if (spec.origins.length === 0)
      throw new Error('local cloudfront.addDistribution: at least one origin');
    const config = buildConfig(spec);
    const now = Date.now();
    const stored: StoredDistribution = {
      id,
      arn: `arn:aws:cloudfront::${this.#accountId}:distribution/${id}`,
      domainName: `${randomId('d', 13, 'abcdefghijklmnopqrstuvwxyz0123456789')}.cloudfront.net`,
      config,
      deployed: config,
      etag: newEtag(),
      lastModified: now,
      inProgressUntil: now,
      held: spec.status === 'InProgress',
      deployDelayMs: undefined,
    };
    this.#byId.set(id, stored);
    return { id, arn: stored.arn, domainName: stored.domainName, etag: stored.etag };
  }

  setDeployDelay(ms: number, id?: string): void {
    if (id === undefined) this.#deployDelayMs = ms;
    else this.#require(id).deployDelayMs = ms;
  }

  holdDeployment(id: string, hold = true): void {
    const d = this.#require(id);
    d.held = hold;
  }

  status(id: string): 'Deployed' | 'InProgress' {
    return this.#status(this.#require(id));
  }

  etag(id: string): string {
    return this.#require(id).etag;
  }

  origins(id: string, which: 'latest' | 'deployed' = 'latest'): LocalOriginView[] {
    const d = this.#require(id);
    this.#status(d);
    return originViews(which === 'latest' ? d.config : d.deployed);
  }

  deployedHeader(id: string, name: string, originId?: string): string | undefined {
    const d = this.#require(id);
    this.#status(d);
    return headerOf(d.deployed, name, originId);
  }

  edgeHeader(id: string, name: string, originId?: string): string | undefined {
    const d = this.#require(id);
    if (this.#status(d) === 'InProgress' && randomInt(2) === 1)
      return headerOf(d.config, name, originId);
    return headerOf(d.deployed, name, originId);
  }

  touch(id: string): string {
    const d = this.#require(id);
    this.#status(d);
    this.#commit(d, cloneXml(d.config));
    return d.etag;
  }

  deny(denied = true): void {
    this.#denied = denied;
  }

  removeDistribution(id: string): boolean {
    return this.#byId.delete(id);
  }

  removeAllDistributions(): void {
    this.#byId.clear();
  }

  addVpcOrigin(spec: LocalVpcOriginSpec): { id: string; arn: string } {
    const id = spec.id ?? randomId('vo_', 22, 'abcdefghijklmnopqrstuvwxyz0123456789');
    if (this.#vpcOrigins.has(id)) throw new Error(`local cloudfront: VPC origin ${id} exists`);
    const arn = `arn:aws:cloudfront::${this.#accountId}:vpcorigin/${id}`;
    this.#vpcOrigins.set(id, { ...spec, id, arn });
    return { id, arn };
  }

  // ---- wire --------------------------------------------------------------------------------

  /** Handle one routed REST call. */
  handle(
    call: CloudFrontCall,
    request: {
      readonly ifMatch: string | undefined;
      readonly query: URLSearchParams;
      readonly body: string;
    },
    requestId: string,
  ): Reply {
    try {
      if (this.#denied) {
        throw new CloudFrontError(
          'AccessDenied',
          `User: arn:aws:iam::${this.#accountId}:user/test is not authorized to perform: cloudfront:${call.operation}`,
          403,
        );
      }
      switch (call.operation) {
        case 'ListDistributions':
          return this.#reply(this.#list(request.query), requestId);
        case 'GetDistribution': {
          const d = this.#find(call.id);
          return this.#reply(this.#distribution(d), requestId, d.etag);
        }
        case 'GetDistributionConfig': {
          const d = this.#find(call.id);
          return this.#reply(cloneXml(d.config), requestId, d.etag);
        }
        case 'UpdateDistribution': {
          const d = this.#find(call.id);
          this.#update(d, request.ifMatch, request.body);
          return this.#reply(this.#distribution(d), requestId, d.etag);
        }
        case 'GetVpcOrigin':
          return this.#reply(this.#vpcOrigin(call.id), requestId, 'E1VPCORIGINETAG');
      }
    } catch (error) {
      if (error instanceof CloudFrontError)
        return cloudFrontError(error.code, error.message, requestId, error.status);
      return cloudFrontError('InternalError', 'We encountered an internal error.', requestId, 500);
    }
  }

  #reply(root: XmlNode, requestId: string, etag?: string): Reply {
    const headers: Record<string, string> = {
      'content-type': 'text/xml',
      'x-amz-request-id': requestId,
    };
    if (etag !== undefined) headers.etag = etag;
    return {
      status: 200,
      headers,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n${writeXml(root, NAMESPACE)}`,
    };
  }

  #find(id: string): StoredDistribution {
    const d = this.#byId.get(id);
    if (d === undefined)
      throw new CloudFrontError(
        'NoSuchDistribution',
        'The specified distribution does not exist.',
        404,
      );
    return d;
  }

  #require(id: string): StoredDistribution {
    const d = this.#byId.get(id);
    if (d === undefined) throw new Error(`local cloudfront: no distribution ${id}`);
    return d;
  }

  /** The status now; a finished deployment makes the latest configuration the deployed one. */
  #status(d: StoredDistribution): 'Deployed' | 'InProgress' {
    if (d.held || Date.now() < d.inProgressUntil) return 'InProgress';
    d.deployed = d.config;
    return 'Deployed';
  }

  #commit(d: StoredDistribution, config: XmlNode): void {
    d.config = config;
    d.etag = newEtag();
    d.lastModified = Date.now();
    d.inProgressUntil = d.lastModified + (d.deployDelayMs ?? this.#deployDelayMs);
  }

  #update(d: StoredDistribution, ifMatch: string | undefined, body: string): void {
    if (ifMatch === undefined || ifMatch.length === 0) {
      throw new CloudFrontError(
        'InvalidIfMatchVersion',
        'The If-Match version is missing or not valid for the resource.',
      );
    }
    if (ifMatch !== d.etag) {
      throw new CloudFrontError(
        'PreconditionFailed',
        'The precondition given in one or more of the request-header fields evaluated to false.',
        412,
      );
    }
    let config: XmlNode;
    try {
      config = parseXml(body);
    } catch (error) {
      if (error instanceof XmlSyntaxError)
        throw new CloudFrontError('MalformedInput', 'The XML document is malformed.');
      throw error;
    }
    if (config.name !== 'DistributionConfig')
      throw new CloudFrontError('MalformedInput', 'The root element must be DistributionConfig.');
    if (textAt(config, 'CallerReference') !== textAt(d.config, 'CallerReference')) {
      throw new CloudFrontError(
        'IllegalUpdate',
        'The CallerReference of a distribution cannot be changed.',
      );
    }
    validateConfig(config);
    this.#status(d);
    this.#commit(d, config);
  }

  #vpcOrigin(id: string): XmlNode {
    const o = this.#vpcOrigins.get(id);
    if (o === undefined)
      throw new CloudFrontError('EntityNotFound', 'The entity was not found.', 404);
    const created = new Date(0).toISOString();
    return el('VpcOrigin', [
      leaf('Id', o.id),
      leaf('Arn', o.arn),
      leaf('AccountId', this.#accountId),
      leaf('Status', 'Deployed'),
      leaf('CreatedTime', created),
      leaf('LastModifiedTime', created),
      el('VpcOriginEndpointConfig', [
        leaf('Name', o.name ?? 'vpc-origin'),
        leaf('Arn', o.endpointArn),
        leaf('HTTPPort', o.httpPort ?? 80),
        leaf('HTTPSPort', o.httpsPort ?? 443),
        leaf('OriginProtocolPolicy', o.protocolPolicy ?? 'https-only'),
        el('OriginSslProtocols', [
          leaf('Quantity', 1),
          el('Items', [leaf('SslProtocol', 'TLSv1.2')]),
        ]),
      ]),
    ]);
  }

  #distribution(d: StoredDistribution): XmlNode {
    const signers = (name: string): XmlNode =>
      el(name, [leaf('Enabled', false), leaf('Quantity', 0)]);
    return el('Distribution', [
      leaf('Id', d.id),
      leaf('ARN', d.arn),
      leaf('Status', this.#status(d)),
      leaf('LastModifiedTime', new Date(d.lastModified).toISOString()),
      leaf('InProgressInvalidationBatches', 0),
      leaf('DomainName', d.domainName),
      signers('ActiveTrustedSigners'),
      signers('ActiveTrustedKeyGroups'),
      cloneXml(d.config),
    ]);
  }

  #list(query: URLSearchParams): XmlNode {
    const rawMax = query.get('MaxItems');
    const maxItems = rawMax === null ? MAX_ITEMS_LIMIT : Number(rawMax);
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > MAX_ITEMS_LIMIT)
      throw new CloudFrontError('InvalidArgument', `Invalid MaxItems: ${rawMax}`);
    const marker = query.get('Marker') ?? '';
    const all = [...this.#byId.values()].sort((a, b) => a.id.localeCompare(b.id));
    const start = marker === '' ? 0 : all.findIndex((d) => d.id > marker);
    const page = start < 0 ? [] : all.slice(start, start + maxItems);
    const truncated = start >= 0 && start + maxItems < all.length;
    const summaries = page.map((d) => {
      const config = d.config;
      const copy = (name: string): XmlNode[] => {
        const found = child(config, name);
        return found === undefined ? [] : [cloneXml(found)];
      };
      return el('DistributionSummary', [
        leaf('Id', d.id),
        leaf('ARN', d.arn),
        leaf('ETag', d.etag),
        leaf('Status', this.#status(d)),
        leaf('LastModifiedTime', new Date(d.lastModified).toISOString()),
        leaf('DomainName', d.domainName),
        ...copy('Aliases'),
        ...copy('Origins'),
        ...copy('OriginGroups'),
        ...copy('DefaultCacheBehavior'),
        ...copy('CacheBehaviors'),
        ...copy('CustomErrorResponses'),
        ...copy('Comment'),
        ...copy('PriceClass'),
        ...copy('Enabled'),
        ...copy('ViewerCertificate'),
        ...copy('Restrictions'),
        ...copy('WebACLId'),
        ...copy('HttpVersion'),
        ...copy('IsIPV6Enabled'),
        leaf('Staging', false),
      ]);
    });
    const children: XmlNode[] = [leaf('Marker', marker)];
    const last = page[page.length - 1];
    if (truncated && last !== undefined) children.push(leaf('NextMarker', last.id));
    children.push(
      leaf('MaxItems', maxItems),
      leaf('IsTruncated', truncated),
      leaf('Quantity', summaries.length),
    );
    if (summaries.length > 0) children.push(el('Items', summaries));
    return el('DistributionList', children);
  }
}

/** `{Quantity, Items}` of the given children. */
function quantityList(name: string, items: XmlNode[]): XmlNode {
  const children = [leaf('Quantity', items.length)];
  if (items.length > 0) children.push(el('Items', items));
  return el(name, children);
}

function buildConfig(spec: LocalDistributionSpec): XmlNode {
  const origins = spec.origins.map((o) => {
    const headers = Object.entries(o.headers ?? {}).map(([name, value]) =>
      el('OriginCustomHeader', [leaf('HeaderName', name), leaf('HeaderValue', value)]),
    );
    const typed = o.s3
      ? el('S3OriginConfig', [leaf('OriginAccessIdentity', '')])
      : o.vpcOriginId !== undefined
        ? el('VpcOriginConfig', [
            leaf('VpcOriginId', o.vpcOriginId),
            leaf('OriginReadTimeout', 30),
            leaf('OriginKeepaliveTimeout', 5),
          ])
        : el('CustomOriginConfig', [
            leaf('HTTPPort', o.httpPort ?? 80),
            leaf('HTTPSPort', o.httpsPort ?? 443),
            leaf('OriginProtocolPolicy', o.protocolPolicy ?? 'https-only'),
            el('OriginSslProtocols', [
              leaf('Quantity', 1),
              el('Items', [leaf('SslProtocol', 'TLSv1.2')]),
            ]),
            leaf('OriginReadTimeout', 30),
            leaf('OriginKeepaliveTimeout', 5),
          ]);
    return el('Origin', [
      leaf('Id', o.id),
      leaf('DomainName', o.domainName),
      leaf('OriginPath', ''),
      quantityList('CustomHeaders', headers),
      typed,
      leaf('ConnectionAttempts', 3),
      leaf('ConnectionTimeout', 10),
    ]);
  });
  const first = spec.origins[0];
  return el('DistributionConfig', [
    leaf('CallerReference', randomBytes(8).toString('hex')),
    quantityList(
      'Aliases',
      (spec.aliases ?? []).map((a) => leaf('CNAME', a)),
    ),
    leaf('DefaultRootObject', ''),
    quantityList('Origins', origins),
    el('DefaultCacheBehavior', [
      leaf('TargetOriginId', first?.id ?? ''),
      el('TrustedSigners', [leaf('Enabled', false), leaf('Quantity', 0)]),
      el('TrustedKeyGroups', [leaf('Enabled', false), leaf('Quantity', 0)]),
      leaf('ViewerProtocolPolicy', 'redirect-to-https'),
      leaf('Compress', true),
      leaf('CachePolicyId', '4135ea2d-6df8-44a3-9df3-4b5a84be39ad'),
    ]),
    quantityList('CacheBehaviors', []),
    leaf('Comment', spec.comment ?? ''),
    leaf('PriceClass', 'PriceClass_All'),
    leaf('Enabled', spec.enabled ?? true),
    leaf('HttpVersion', 'http2'),
    leaf('IsIPV6Enabled', true),
  ]);
}

/** What CloudFront rejects that the SDK would let through: inconsistent quantities, bad headers. */
function validateConfig(config: XmlNode): void {
  const origins = child(config, 'Origins');
  checkQuantity(origins, 'Origins');
  const items = child(origins, 'Items')?.children ?? [];
  if (items.length === 0)
    throw new CloudFrontError('InvalidArgument', 'The distribution must have at least one origin.');
  for (const origin of items) {
    const headers = child(origin, 'CustomHeaders');
    if (headers === undefined) continue;
    checkQuantity(headers, 'CustomHeaders');
    const list = child(headers, 'Items')?.children ?? [];
    if (list.length > 10) {
      throw new CloudFrontError(
        'TooManyOriginCustomHeaders',
        'Your request contains too many origin custom headers.',
      );
    }
    const seen = new Set<string>();
    for (const h of list) {
      const name = (textAt(h, 'HeaderName') ?? '').toLowerCase();
      if (name.length === 0 || seen.has(name)) {
        throw new CloudFrontError(
          'InvalidArgument',
          'Origin custom header names must be present and unique.',
        );
      }
      seen.add(name);
      const value = child(h, 'HeaderValue')?.text ?? '';
      if (value.length > 1783 || /[^\x20-\x7e]/.test(value)) {
        throw new CloudFrontError(
          'InvalidArgument',
          'Origin custom header values must be printable ASCII, at most 1783 characters.',
        );
      }
    }
  }
}

function checkQuantity(node: XmlNode | undefined, name: string): void {
  if (node === undefined) return;
  const quantity = Number(textAt(node, 'Quantity'));
  const count = child(node, 'Items')?.children.length ?? 0;
  if (quantity !== count) {
    throw new CloudFrontError(
      'InconsistentQuantities',
      `The value of Quantity and the size of Items don't match (${name}).`,
    );
  }
}

function originViews(config: XmlNode): LocalOriginView[] {
  return (at(config, 'Origins', 'Items')?.children ?? []).map((o) => {
    const headers: Record<string, string> = {};
    for (const h of at(o, 'CustomHeaders', 'Items')?.children ?? []) {
      headers[textAt(h, 'HeaderName') ?? ''] = child(h, 'HeaderValue')?.text ?? '';
    }
    return {
      id: textAt(o, 'Id') ?? '',
      domainName: textAt(o, 'DomainName') ?? '',
      protocolPolicy: textAt(o, 'CustomOriginConfig', 'OriginProtocolPolicy'),
      ...(child(o, 'VpcOriginConfig') === undefined
        ? {}
        : { vpcOriginId: textAt(o, 'VpcOriginConfig', 'VpcOriginId') ?? '' }),
      headers,
    };
  });
}

function headerOf(config: XmlNode, name: string, originId?: string): string | undefined {
  const views = originViews(config);
  const origin = originId === undefined ? views[0] : views.find((o) => o.id === originId);
  if (origin === undefined) return undefined;
  const wanted = name.toLowerCase();
  for (const [header, value] of Object.entries(origin.headers)) {
    if (header.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** A CloudFront REST-XML error reply. */
export function cloudFrontError(
  code: string,
  message: string,
  requestId: string,
  status = 400,
): Reply {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  return {
    status,
    headers: { 'content-type': 'text/xml', 'x-amz-request-id': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
