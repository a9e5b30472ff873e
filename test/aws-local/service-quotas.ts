/**
 * Local Service Quotas (JSON 1.1, target prefix `ServiceQuotasV20190624`): `GetServiceQuota`
 * for quotas a test sets, `NoSuchResourceException` for others, and an AccessDenied knob.
 * @module
 */
import { jsonReply, type Reply } from './reply.js';
import { secretsManagerError } from './secrets-manager.js';

/** The X-Amz-Target prefix of Service Quotas. */
export const SERVICE_QUOTAS_TARGET = 'ServiceQuotasV20190624';

/** Test helpers to arrange quotas on the local endpoint. */
export interface LocalServiceQuotas {
  /** Set a quota's applied value (e.g. `('vpc', 'L-0EA8095F', 120)`). */
  set(serviceCode: string, quotaCode: string, value: number, name?: string): void;
  /** Forget a quota; `GetServiceQuota` then answers `NoSuchResourceException`. */
  remove(serviceCode: string, quotaCode: string): boolean;
  /** Answer `AccessDeniedException` to every call (`false` undoes it). */
  deny(denied?: boolean): void;
}

interface StoredQuota {
  readonly name: string;
  readonly value: number;
}

/** The store plus its wire handler. */
export class ServiceQuotasService implements LocalServiceQuotas {
  readonly #quotas = new Map<string, StoredQuota>();
  readonly #region: string;
  readonly #accountId: string;
  #denied = false;

  constructor(region: string, accountId: string) {
    this.#region = region;
    this.#accountId = accountId;
  }

  set(serviceCode: string, quotaCode: string, value: number, name = quotaCode): void {
    this.#quotas.set(`${serviceCode}/${quotaCode}`, { name, value });
  }

  remove(serviceCode: string, quotaCode: string): boolean {
    return this.#quotas.delete(`${serviceCode}/${quotaCode}`);
  }

  deny(denied = true): void {
    this.#denied = denied;
  }

  /** Handle one JSON 1.1 call (`operation` without the target prefix). */
  handle(operation: string, body: string, requestId: string): Reply {
    if (this.#denied) {
      return serviceQuotasError(
        'AccessDeniedException',
        'You do not have sufficient access to perform this action.',
        requestId,
      );
    }
    if (operation !== 'GetServiceQuota') {
      return serviceQuotasError(
        'UnknownOperationException',
        `Unknown operation ${operation}`,
        requestId,
      );
    }
    let input: { ServiceCode?: unknown; QuotaCode?: unknown };
    try {
      input = JSON.parse(body || '{}') as typeof input;
    } catch {
      return serviceQuotasError('SerializationException', 'Malformed JSON body', requestId);
    }
    const { ServiceCode: service, QuotaCode: code } = input;
    if (typeof service !== 'string' || typeof code !== 'string') {
      return serviceQuotasError(
        'ValidationException',
        'ServiceCode and QuotaCode are required.',
        requestId,
      );
    }
    const quota = this.#quotas.get(`${service}/${code}`);
    if (quota === undefined) {
      return serviceQuotasError(
        'NoSuchResourceException',
        `The request failed because the specified quota ${code} for service ${service} does not exist.`,
        requestId,
      );
    }
    return jsonReply(
      200,
      {
        Quota: {
          ServiceCode: service,
          ServiceName: service === 'vpc' ? 'Amazon Virtual Private Cloud (Amazon VPC)' : service,
          QuotaArn: `arn:aws:servicequotas:${this.#region}:${this.#accountId}:${service}/${code}`,
          QuotaCode: code,
          QuotaName: quota.name,
          Value: quota.value,
          Unit: 'None',
          Adjustable: true,
          GlobalQuota: false,
        },
      },
      requestId,
    );
  }
}

/** An AWS JSON 1.1 error reply: the same shape for every JSON 1.1 service. */
export const serviceQuotasError = secretsManagerError;
