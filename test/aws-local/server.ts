/**
 * One `node:http` server on 127.0.0.1 speaking just enough AWS for cdn-origin-guard:
 * Secrets Manager (JSON 1.1), EC2 managed prefix lists (query protocol, XML), CloudFront
 * (REST-XML), Elastic Load Balancing v2 (query protocol, told from EC2 by its `Version`) and
 * AWS's public ip-ranges.json, with fault knobs (latency, errors, throttling, hang, reset) and per-action
 * call counters. Used by the integration tests, the demo and the load/soak tests.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  CloudFrontService,
  cloudFrontCall,
  cloudFrontError,
  type LocalCloudFront,
} from './cloudfront.js';
import { EC2_FIRST_PAGE_AGAIN, Ec2Service, ec2Error, type LocalEc2 } from './ec2.js';
import { ELBV2_API_VERSION, Elbv2Service, elbv2Error, type LocalElbv2 } from './elbv2.js';
import { CLOUDFRONT_ORIGIN_FACING_V4, CLOUDFRONT_ORIGIN_FACING_V6 } from './fixtures.js';
import { IpRangesService, ipRangesError, type LocalIpRanges } from './ip-ranges.js';
import type { Reply } from './reply.js';
import {
  type LocalSecrets,
  SecretsManagerService,
  secretsManagerError,
} from './secrets-manager.js';
import {
  type LocalServiceQuotas,
  SERVICE_QUOTAS_TARGET,
  ServiceQuotasService,
  serviceQuotasError,
} from './service-quotas.js';

/** Names of the two AWS-managed CloudFront origin-facing prefix lists. */
export const CLOUDFRONT_PREFIX_LIST_V4 = 'com.amazonaws.global.cloudfront.origin-facing';
export const CLOUDFRONT_PREFIX_LIST_V6 = 'com.amazonaws.global.ipv6.cloudfront.origin-facing';

/** Action name counted for `GET /ip-ranges.json`. */
export const IP_RANGES_ACTION = 'ip-ranges';

const MAX_BODY_BYTES = 1024 * 1024;
const RECENT_CALLS = 1000;

/** Options of {@link startLocalAws}. */
export interface LocalAwsOptions {
  /** Seed both CloudFront prefix lists and the ip-ranges document. Defaults to `true`. */
  readonly seed?: boolean;
  /** Region reported in ARNs and by `env()`. Defaults to `us-east-1`. */
  readonly region?: string;
  /** Account id used in secret ARNs. Defaults to `123456789012`. */
  readonly accountId?: string;
  /**
   * When set, Secrets Manager and EC2 calls must be SigV4-signed with this access key id
   * (the signature itself is not checked); others get `UnrecognizedClientException` /
   * `AuthFailure`. Defaults to accepting any caller.
   */
  readonly requireAccessKeyId?: string;
  /** Port to listen on. Defaults to `0` (an ephemeral port). */
  readonly port?: number;
}

/** Fault knobs; see {@link LocalFaults.set}. */
export interface FaultConfig {
  /** Delay every matching reply by this many milliseconds. */
  readonly latencyMs?: number;
  /** Probability (0..1) that a matching call answers a server error (500/503). */
  readonly errorRate?: number;
  /**
   * `error`: every matching call answers a server error; `hang`: never answer (until the
   * faults are cleared or the server closes); `reset`: destroy the connection.
   */
  readonly outage?: false | 'error' | 'hang' | 'reset';
  /** Matching calls answer the service's throttling error (ThrottlingException 400, RequestLimitExceeded 503, 503 SlowDown). */
  readonly throttle?: boolean;
  /** The next N matching calls answer a server error, then calls succeed again. */
  readonly failNext?: number;
  /** Matching calls answer the service's access-denied error (AccessDeniedException, UnauthorizedOperation, AccessDenied). */
  readonly accessDenied?: boolean;
  /**
   * Matching Secrets Manager calls answer their normal reply with the quotes around the
   * `SecretString` value removed (`{...,"SecretString":origin-verify-...}`): a malformed body,
   * as a broken proxy might send, whose JSON parse error quotes the start of the value.
   */
  readonly unquotedSecretString?: boolean;
  /**
   * Matching Secrets Manager and EC2 calls answer their normal reply plus a `NextToken`, matching
   * ELBv2 calls plus a `NextMarker`, and CloudFront `ListDistributions` `IsTruncated` true plus a
   * `NextMarker`, that never changes and asks for the first page again (a faulty answer that
   * would page for ever).
   */
  readonly repeatNextToken?: boolean;
  /**
   * Matching CloudFront `ListDistributions` calls answer `IsTruncated` true with no `NextMarker`
   * (a faulty page: the listing cannot go on, and must not be taken as complete).
   */
  readonly truncatedWithoutMarker?: boolean;
  /**
   * Matching ELBv2 calls answer a `ValidationError` whose message quotes every parameter value
   * of the request, as an AWS validation message may echo its input (what a caller must redact).
   */
  readonly echoRequest?: boolean;
  /**
   * Matching calls answer with a `Date` header this many ms after this machine's clock
   * (negative: before it), as AWS answers a machine whose clock is wrong.
   */
  readonly clockSkewMs?: number;
  /** The next N matching CloudFront `UpdateDistribution` calls answer `PreconditionFailed` (412), as if someone else had updated the distribution. */
  readonly preconditionFailedNext?: number;
  /**
   * Limit the faults to these actions (`secretsmanager.GetSecretValue`,
   * `ec2.GetManagedPrefixListEntries`, `cloudfront.UpdateDistribution`, `elbv2.ModifyRule`,
   * `ip-ranges`), or whole services (`secretsmanager`, `ec2`, `cloudfront`, `elbv2`).
   * Defaults to every action.
   */
  readonly actions?: readonly string[];
}

/**
 * A successful reply of `routed` as the paging faults answer it: with `repeatNextToken`, a
 * next-page token that asks for the first page again (Secrets Manager's `page-0`, the local
 * ELBv2's offset-0 marker, EC2's {@link EC2_FIRST_PAGE_AGAIN}, a CloudFront marker before every
 * id, with `IsTruncated` true); with `truncatedWithoutMarker`, a `ListDistributions` page
 * truncated with no `NextMarker`. Other replies are left as they are.
 */
function pagingFault(
  faults: FaultConfig,
  routed: { readonly service: string; readonly action: string },
  reply: Reply,
): Reply['body'] {
  const body = reply.body;
  if (reply.status !== 200 || typeof body !== 'string') return body;
  const repeat = faults.repeatNextToken === true;
  switch (routed.service) {
    case 'secretsmanager':
      return repeat ? JSON.stringify({ ...JSON.parse(body), NextToken: 'page-0' }) : body;
    case 'elbv2':
      return repeat
        ? body
            .replace(/<NextMarker>[^<]*<\/NextMarker>/, '')
            .replace(
              /<\/(\w+)Result>/,
              `<NextMarker>${Buffer.from('0').toString('base64url')}</NextMarker></$1Result>`,
            )
        : body;
    case 'ec2':
      return repeat
        ? body
            .replace(/<nextToken>[^<]*<\/nextToken>/, '')
            .replace(
              /<\/(\w+)Response>\s*$/,
              `<nextToken>${EC2_FIRST_PAGE_AGAIN}</nextToken></$1Response>`,
            )
        : body;
    case 'cloudfront':
      if (routed.action !== 'cloudfront.ListDistributions') return body;
      return body
        .replace(/<NextMarker>[^<]*<\/NextMarker>/, '')
        .replace(/<IsTruncated>[^<]*<\/IsTruncated>/, '<IsTruncated>true</IsTruncated>')
        .replace('<MaxItems>', repeat ? '<NextMarker>0</NextMarker><MaxItems>' : '<MaxItems>');
    default:
      return body;
  }
}

/** Fault injection. */
export interface LocalFaults {
  /** Replace the fault configuration (not merged). Hung calls are released when `outage` is no longer `hang`. */
  set(config: FaultConfig): void;
  /** Remove every fault; hung calls are then answered normally. */
  clear(): void;
  /** The current configuration. */
  readonly current: Readonly<FaultConfig>;
  /** Calls currently held open by `outage: 'hang'` whose client has not gone away. */
  readonly hanging: number;
}

/** One received call. */
export interface CallRecord {
  /** e.g. `secretsmanager.GetSecretValue`, `ec2.DescribeManagedPrefixLists`, `ip-ranges`. */
  readonly action: string;
  /** From the SigV4 `Authorization` header, when signed. */
  readonly accessKeyId: string | undefined;
  /** From the SigV4 credential scope, when signed. */
  readonly region: string | undefined;
  /** `Date.now()` when received. */
  readonly at: number;
}

/** Environment that points the AWS SDK (and cdn-origin-guard's ip-ranges source) here. */
export interface LocalAwsEnv {
  AWS_ENDPOINT_URL_SECRETS_MANAGER: string;
  AWS_ENDPOINT_URL_EC2: string;
  AWS_ENDPOINT_URL_CLOUDFRONT: string;
  AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: string;
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
  CDN_ORIGIN_GUARD_IP_RANGES_URL: string;
  /** The local endpoint is plain HTTP: `true`. */
  CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL: string;
  [name: string]: string;
}

/** A running local AWS endpoint. */
export interface LocalAws {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** `url` + `/ip-ranges.json` */
  readonly ipRangesUrl: string;
  readonly region: string;
  readonly secrets: LocalSecrets;
  readonly ec2: LocalEc2;
  readonly cloudfront: LocalCloudFront;
  readonly elbv2: LocalElbv2;
  readonly ipRanges: LocalIpRanges;
  readonly faults: LocalFaults;
  /** Service Quotas `GetServiceQuota` (action `servicequotas.GetServiceQuota`). */
  readonly serviceQuotas: LocalServiceQuotas;
  /** Calls received per action since the last `resetCalls()` (faulted calls and retries included). */
  readonly calls: Readonly<Record<string, number>>;
  /** Calls received for `action`; with no argument, all calls. */
  callCount(action?: string): number;
  /** The last (up to 1000) calls, oldest first. */
  readonly recentCalls: readonly CallRecord[];
  resetCalls(): void;
  /** Variables for the AWS SDK's default chain and `CDN_ORIGIN_GUARD_IP_RANGES_URL`. */
  env(): LocalAwsEnv;
  /** Stop listening, drop hung calls and destroy every open connection. Idempotent. */
  close(): Promise<void>;
}

interface Routed {
  readonly action: string;
  readonly service:
    | 'secretsmanager'
    | 'ec2'
    | 'cloudfront'
    | 'elbv2'
    | 'ip-ranges'
    | 'servicequotas';
  readonly run: () => Reply;
}

const CREDENTIAL_RE = /Credential=([^/,\s]+)\/[^/]+\/([^/]+)\//;

/**
 * Start the local AWS endpoint on 127.0.0.1 (ephemeral port by default).
 * @example
 * const aws = await startLocalAws();
 * aws.secrets.put('prod/origin-verify', 'a-long-random-header-value-1234');
 * Object.assign(process.env, aws.env());
 * // ... run code using the AWS SDK ...
 * await aws.close();
 */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const secrets = new SecretsManagerService(region, accountId);
  const ec2 = new Ec2Service(region);
  const cloudfront = new CloudFrontService(accountId);
  const elbv2 = new Elbv2Service(region, accountId);
  const seed = options.seed ?? true;
  const ipRanges = new IpRangesService(seed);
  const serviceQuotas = new ServiceQuotasService(region, options.accountId ?? '123456789012');
  if (seed) {
    ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V4, CLOUDFRONT_ORIGIN_FACING_V4);
    ec2.setPrefixList(CLOUDFRONT_PREFIX_LIST_V6, CLOUDFRONT_ORIGIN_FACING_V6);
  }

  let faults: FaultConfig = {};
  let failNextLeft = 0;
  let preconditionFailedLeft = 0;
  const hung = new Set<() => void>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let counts = new Map<string, number>();
  let total = 0;
  let recent: CallRecord[] = [];
  let closed = false;

  const matches = (action: string): boolean => {
    const list = faults.actions;
    if (list === undefined || list.length === 0) return true;
    return list.some((a) => a === action || action.startsWith(`${a}.`));
  };

  const releaseHung = (): void => {
    const waiting = [...hung];
    hung.clear();
    for (const resume of waiting) resume();
  };

  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  const record = (action: string, req: IncomingMessage): void => {
    counts.set(action, (counts.get(action) ?? 0) + 1);
    total++;
    const auth = req.headers.authorization;
    const m = typeof auth === 'string' ? CREDENTIAL_RE.exec(auth) : null;
    recent.push({ action, accessKeyId: m?.[1], region: m?.[2], at: Date.now() });
    if (recent.length > RECENT_CALLS * 2) recent = recent.slice(-RECENT_CALLS);
  };

  const faultReply = (
    routed: Routed,
    kind: 'error' | 'throttle' | 'denied',
    requestId: string,
  ): Reply => {
    if (kind === 'denied') return accessDenied(routed, requestId);
    switch (routed.service) {
      case 'secretsmanager':
        return kind === 'throttle'
          ? secretsManagerError('ThrottlingException', 'Rate exceeded', requestId, 400)
          : secretsManagerError(
              'InternalServiceError',
              'An error occurred on the server side.',
              requestId,
              500,
            );
      case 'servicequotas':
        return kind === 'throttle'
          ? serviceQuotasError('TooManyRequestsException', 'Rate exceeded', requestId, 400)
          : serviceQuotasError('ServiceException', 'Internal error', requestId, 500);
      case 'ec2':
        return kind === 'throttle'
          ? ec2Error('RequestLimitExceeded', 'Request limit exceeded.', requestId, 503)
          : ec2Error('InternalError', 'An internal error has occurred.', requestId, 500);
      case 'cloudfront':
        return kind === 'throttle'
          ? cloudFrontError('Throttling', 'Rate exceeded', requestId, 400)
          : cloudFrontError('ServiceUnavailable', 'Service Unavailable', requestId, 503);
      case 'elbv2':
        return kind === 'throttle'
          ? elbv2Error('Throttling', 'Rate exceeded', requestId, 400)
          : elbv2Error('InternalFailure', 'An internal error has occurred.', requestId, 500);
      default:
        return ipRangesError(kind === 'throttle' ? 503 : 500, requestId);
    }
  };

  const accessDenied = (routed: Routed, requestId: string): Reply => {
    const operation = routed.action.slice(routed.action.indexOf('.') + 1);
    const message = `User: arn:aws:iam::${accountId}:user/test is not authorized to perform: ${routed.service === 'elbv2' ? 'elasticloadbalancing' : routed.service}:${operation}`;
    switch (routed.service) {
      case 'secretsmanager':
        return secretsManagerError('AccessDeniedException', message, requestId, 400);
      case 'ec2':
        return ec2Error('UnauthorizedOperation', message, requestId, 403);
      case 'cloudfront':
        return cloudFrontError('AccessDenied', message, requestId, 403);
      case 'elbv2':
        return elbv2Error('AccessDenied', message, requestId, 403);
      case 'servicequotas':
        return serviceQuotasError('AccessDeniedException', message, requestId, 400);
      default:
        return ipRangesError(403, requestId);
    }
  };

  const authFailure = (routed: Routed, requestId: string): Reply => {
    const message = 'The security token included in the request is invalid.';
    switch (routed.service) {
      case 'secretsmanager':
        return secretsManagerError('UnrecognizedClientException', message, requestId, 400);
      case 'cloudfront':
        return cloudFrontError('InvalidClientTokenId', message, requestId, 403);
      case 'elbv2':
        return elbv2Error('InvalidClientTokenId', message, requestId, 403);
      case 'servicequotas':
        return serviceQuotasError('UnrecognizedClientException', message, requestId, 400);
      default:
        return ec2Error(
          'AuthFailure',
          'AWS was not able to validate the provided access credentials',
          requestId,
          401,
        );
    }
  };

  const send = (res: ServerResponse, reply: Reply): void => {
    if (res.destroyed || res.writableEnded) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, {
      date: new Date().toUTCString(),
      ...reply.headers,
      'content-length': String(body.length),
    });
    res.end(body);
  };

  const route = (
    req: IncomingMessage,
    path: string,
    body: string,
    requestId: string,
  ): Routed | Reply => {
    const method = req.method ?? 'GET';
    if (path === '/ip-ranges.json') {
      if (method !== 'GET' && method !== 'HEAD') return ipRangesError(405, requestId);
      const inm = req.headers['if-none-match'];
      return {
        action: IP_RANGES_ACTION,
        service: 'ip-ranges',
        run: () => ipRanges.handle(method, inm, requestId),
      };
    }
    const cf = cloudFrontCall(method, path);
    if (cf !== undefined) {
      const ifMatch = req.headers['if-match'];
      const query = new URLSearchParams((req.url ?? '/').split('?')[1] ?? '');
      return {
        action: `cloudfront.${cf.operation}`,
        service: 'cloudfront',
        run: () =>
          cloudfront.handle(
            cf,
            { ifMatch: typeof ifMatch === 'string' ? ifMatch : undefined, query, body },
            requestId,
          ),
      };
    }
    if (path.startsWith('/2020-05-31/'))
      return cloudFrontError('InvalidArgument', `Unsupported ${method} ${path}`, requestId, 400);
    if (path !== '/')
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') {
      const dot = target.indexOf('.');
      const prefix = dot < 0 ? '' : target.slice(0, dot);
      const operation = dot < 0 ? target : target.slice(dot + 1);
      if (prefix === SERVICE_QUOTAS_TARGET) {
        return {
          action: `servicequotas.${operation}`,
          service: 'servicequotas',
          run: () => serviceQuotas.handle(operation, body, requestId),
        };
      }
      if (prefix !== 'secretsmanager') {
        return secretsManagerError(
          'UnknownOperationException',
          `Unknown target ${target}`,
          requestId,
        );
      }
      return {
        action: `secretsmanager.${operation}`,
        service: 'secretsmanager',
        run: () => secrets.handle(operation, body, requestId),
      };
    }
    const query = (req.url ?? '/').split('?')[1] ?? '';
    const params = new URLSearchParams(method === 'POST' ? body : query);
    const action = params.get('Action') ?? '';
    if (params.get('Version') === ELBV2_API_VERSION) {
      return {
        action: `elbv2.${action}`,
        service: 'elbv2',
        run: () => elbv2.handle(action, params, requestId),
      };
    }
    return {
      action: `ec2.${action}`,
      service: 'ec2',
      run: () => ec2.handle(action, params, requestId),
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);
    if (body === undefined) {
      send(res, {
        status: 413,
        headers: { 'content-type': 'text/plain' },
        body: 'Payload Too Large',
      });
      return;
    }
    const routed = route(req, path, body, requestId);
    if (!('run' in routed)) {
      send(res, routed);
      return;
    }
    record(routed.action, req);
    if (options.requireAccessKeyId !== undefined && routed.service !== 'ip-ranges') {
      const last = recent[recent.length - 1];
      if (last?.accessKeyId !== options.requireAccessKeyId) {
        send(res, authFailure(routed, requestId));
        return;
      }
    }
    if (matches(routed.action)) {
      if (faults.latencyMs !== undefined && faults.latencyMs > 0) {
        await delay(faults.latencyMs);
        if (closed) return;
      }
      // Re-read the faults after the delay: they may have changed meanwhile.
      while (faults.outage === 'hang' && matches(routed.action) && !closed) {
        await new Promise<void>((resume) => {
          hung.add(resume);
          res.once('close', () => {
            if (hung.delete(resume)) resume();
          });
        });
        if (res.destroyed) return;
      }
      if (closed || res.destroyed) return;
      if (matches(routed.action)) {
        if (faults.outage === 'reset') {
          req.socket.destroy();
          return;
        }
        if (faults.outage === 'error') {
          send(res, faultReply(routed, 'error', requestId));
          return;
        }
        if (faults.accessDenied === true) {
          send(res, faultReply(routed, 'denied', requestId));
          return;
        }
        if (preconditionFailedLeft > 0 && routed.action === 'cloudfront.UpdateDistribution') {
          preconditionFailedLeft--;
          send(
            res,
            cloudFrontError(
              'PreconditionFailed',
              'The precondition given in one or more of the request-header fields evaluated to false.',
              requestId,
              412,
            ),
          );
          return;
        }
        if (faults.throttle === true) {
          send(res, faultReply(routed, 'throttle', requestId));
          return;
        }
        if (faults.echoRequest === true && routed.service === 'elbv2') {
          const values = [...new URLSearchParams(body).values()];
          send(
            res,
            elbv2Error('ValidationError', `Invalid request: ${values.join(', ')}`, requestId),
          );
          return;
        }
        if (failNextLeft > 0) {
          failNextLeft--;
          send(res, faultReply(routed, 'error', requestId));
          return;
        }
        if (
          faults.errorRate !== undefined &&
          faults.errorRate > 0 &&
          Math.random() < faults.errorRate
        ) {
          send(res, faultReply(routed, 'error', requestId));
          return;
        }
      }
    }
    const reply = routed.run();
    if (
      faults.unquotedSecretString === true &&
      routed.service === 'secretsmanager' &&
      matches(routed.action) &&
      typeof reply.body === 'string'
    )
      reply.body = reply.body.replace(/"SecretString":"((?:[^"\\]|\\.)*)"/, '"SecretString":$1');
    if (
      (faults.repeatNextToken === true || faults.truncatedWithoutMarker === true) &&
      matches(routed.action)
    )
      reply.body = pagingFault(faults, routed, reply);
    if (faults.clockSkewMs !== undefined && matches(routed.action))
      reply.headers = {
        ...reply.headers,
        date: new Date(Date.now() + faults.clockSkewMs).toUTCString(),
      };
    send(res, reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) {
        send(res, {
          status: 500,
          headers: { 'content-type': 'text/plain' },
          body: 'Internal Server Error',
        });
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  const faultsApi: LocalFaults = {
    set(config) {
      faults = {
        ...config,
        actions: config.actions === undefined ? undefined : [...config.actions],
      };
      failNextLeft = config.failNext ?? 0;
      preconditionFailedLeft = config.preconditionFailedNext ?? 0;
      if (config.outage !== 'hang') releaseHung();
    },
    clear() {
      faults = {};
      failNextLeft = 0;
      preconditionFailedLeft = 0;
      releaseHung();
    },
    get current() {
      return {
        ...faults,
        ...(failNextLeft > 0 ? { failNext: failNextLeft } : {}),
        ...(preconditionFailedLeft > 0 ? { preconditionFailedNext: preconditionFailedLeft } : {}),
      };
    },
    get hanging() {
      return hung.size;
    },
  };

  return {
    url,
    port,
    ipRangesUrl: `${url}/ip-ranges.json`,
    region,
    secrets,
    ec2,
    cloudfront,
    elbv2,
    ipRanges,
    faults: faultsApi,
    serviceQuotas,
    get calls() {
      return Object.fromEntries(counts);
    },
    callCount(action) {
      return action === undefined ? total : (counts.get(action) ?? 0);
    },
    get recentCalls() {
      return recent.slice(-RECENT_CALLS);
    },
    resetCalls() {
      counts = new Map();
      total = 0;
      recent = [];
      ipRanges.resetCounters();
    },
    env() {
      return {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
        AWS_ENDPOINT_URL_EC2: url,
        AWS_ENDPOINT_URL_CLOUDFRONT: url,
        AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: url,
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        CDN_ORIGIN_GUARD_IP_RANGES_URL: `${url}/ip-ranges.json`,
        CDN_ORIGIN_GUARD_ALLOW_INSECURE_IP_RANGES_URL: 'true',
      };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        hung.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** The request body as UTF-8, or `undefined` when it exceeds the limit. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    req.resume();
    return Promise.resolve('');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
