/**
 * The Microsoft.DataBox ARM client through @azure/arm-databox (api-version {@link ARM_API_VERSION}),
 * pointed either at real Azure or at driveseed's emulator. Import jobs are Data Box jobs of SKU
 * DataBoxCustomerDisk (the classic Microsoft.ImportExport API is retired).
 *
 * - Real Azure (the default): https://management.azure.com with DefaultAzureCredential (az login,
 *   environment variables, managed identity, …).
 * - Emulator: its http://127.0.0.1:<port> endpoint with a static bearer token. The SDK's own
 *   bearer policy refuses non-https URLs, so for the emulator (and only there) it is replaced by
 *   a policy that sets the same `Authorization: Bearer` header over loopback http.
 *
 * The SDK builds request URLs from `endpoint` (not `$host`, which it keeps only for templates that
 * name it), so both are set. Mind the SDK's argument order: jobs.get/beginCreate/cancel/listCredentials
 * take the resource group FIRST, but jobs.markDevicesShipped and client.mitigate take the job name first.
 */
import type { DataBoxManagementClient } from '@azure/arm-databox';
import type { TokenCredential } from '@azure/core-auth';
import { sdk } from './sdk';
import { DriveseedError } from '../base/errors';

/** What @azure/arm-databox 5.0.0 sends; the emulator serves exactly this version. */
export const ARM_API_VERSION = '2022-12-01';
export const AZURE_ARM_ENDPOINT = 'https://management.azure.com';

export interface DataBoxClientOptions {
  subscriptionId: string;
  /** the emulator's ARM endpoint (`http://127.0.0.1:<port>`); absent means real Azure */
  emulator?: string;
  /** real Azure only: a credential other than DefaultAzureCredential */
  credential?: TokenCredential;
  /** the emulator only: the bearer token to send (any non-empty string; default "driveseed-emulator") */
  emulatorToken?: string;
}

const STATIC_TOKEN_POLICY = 'driveseedEmulatorBearerPolicy';
/** @azure/core-rest-pipeline's bearerTokenAuthenticationPolicyName (not imported: a transitive dependency). */
const SDK_BEARER_POLICY = 'bearerTokenAuthenticationPolicy';
type PipelinePolicy = Parameters<DataBoxManagementClient['pipeline']['addPolicy']>[0];

/** A credential that always returns the same token (the emulator accepts any non-empty bearer). */
export function staticTokenCredential(token: string): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 24 * 3600 * 1000 }) };
}

/** Creates the typed SDK client for real Azure or the emulator. */
export function createDataBoxClient(opts: DataBoxClientOptions): DataBoxManagementClient {
  if (!opts.subscriptionId)
    throw new DriveseedError('AZURE_SUBSCRIPTION_MISSING', 'No Azure subscription id: pass --subscription or a publish-settings file', { category: 'USAGE' });
  if (opts.emulator === undefined) {
    return new sdk.dataBox.DataBoxManagementClient(opts.credential ?? new sdk.identity.DefaultAzureCredential(), opts.subscriptionId, {
      endpoint: AZURE_ARM_ENDPOINT,
      $host: AZURE_ARM_ENDPOINT,
    });
  }
  const endpoint = opts.emulator.replace(/\/+$/, '');
  const token = opts.emulatorToken ?? 'driveseed-emulator';
  const client = new sdk.dataBox.DataBoxManagementClient(staticTokenCredential(token), opts.subscriptionId, {
    endpoint,
    $host: endpoint,
    allowInsecureConnection: true,
    // The emulator never answers 5xx on purpose; fail fast instead of backing off for a minute.
    retryOptions: { maxRetries: 0 },
  });
  client.pipeline.removePolicy({ name: SDK_BEARER_POLICY });
  const policy: PipelinePolicy = {
    name: STATIC_TOKEN_POLICY,
    sendRequest(request, next) {
      request.headers.set('Authorization', `Bearer ${token}`);
      return next(request);
    },
  };
  client.pipeline.addPolicy(policy, { phase: 'Sign' });
  return client;
}

/**
 * Turns what the SDK throws into a DriveseedError (category AZURE): code AZURE_UNREACHABLE when no
 * answer came, else AZURE_REQUEST_FAILED with details.armCode / statusCode / target from the ARM
 * error envelope. `action` names what was being done ("creating import job seed1").
 */
export function armError(err: unknown, action: string): DriveseedError {
  if (err instanceof DriveseedError) return err;
  // The SDK's ErrorResponse mapper flattens the envelope's `error` into RestError.details.
  type Envelope = { code?: string; message?: string; target?: string };
  const e = err as { statusCode?: number; code?: string; message?: string; details?: Envelope & { error?: Envelope } };
  if (e && e.statusCode === undefined && typeof e.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN)$/.test(e.code)) {
    return new DriveseedError(
      'AZURE_UNREACHABLE',
      `${action}: the Azure Resource Manager endpoint could not be reached (${e.code}); check the network or that the emulator is running`,
      { category: 'AZURE', cause: err, details: { errno: e.code } },
    );
  }
  const env: Envelope | undefined = e?.details?.error ?? e?.details;
  const armCode = env?.code ?? e?.code;
  const message = env?.message ?? e?.message ?? String(err);
  const details: Record<string, unknown> = {};
  if (armCode !== undefined) details.armCode = armCode;
  if (e?.statusCode !== undefined) details.statusCode = e.statusCode;
  if (env?.target !== undefined) details.target = env.target;
  return new DriveseedError('AZURE_REQUEST_FAILED', `${action}: ${armCode ? `${armCode}: ` : ''}${message}`, { category: 'AZURE', cause: err, details });
}
