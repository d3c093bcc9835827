/**
 * Blob containers of the job's storage account, on real Azure or on the emulator's Azurite.
 *
 * - Real Azure (the default): https://<account>.blob.core.windows.net with DefaultAzureCredential
 *   (the identity needs "Storage Blob Data Contributor" on the account).
 * - Emulator: Azurite's path-style URL http://127.0.0.1:<port>/<account> with the account's
 *   shared key. The emulator hosts a fixed set of accounts (docs/emulator.md); their keys come
 *   from {@link emulatorAccount}, which asks the running emulator.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { sdk } from './sdk';
import { DriveseedError } from '../base/errors';
import { Secret } from '../base/secret';

/** An emulator-hosted account: where its blobs are and its key. */
export interface EmulatorAccount {
  name: string;
  /** `http://127.0.0.1:<port>/<account>` */
  blobEndpoint: string;
  key: Secret;
}

export interface BlobAccountOptions {
  account: string;
  /** the emulator's account (from {@link emulatorAccount} or startEmulator().accounts); absent means real Azure */
  emulator?: EmulatorAccount;
  /** real Azure only: a credential other than DefaultAzureCredential */
  credential?: TokenCredential;
}

const STORAGE_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.(?:Storage|ClassicStorage)\/storageAccounts\/([a-z0-9]{3,24})$/i;

/** The parts of a storage account's ARM id, or undefined when it is not one. */
export function parseStorageAccountId(id: string): { subscriptionId: string; resourceGroup: string; account: string } | undefined {
  const m = STORAGE_ID.exec(id);
  if (!m || m[3] !== m[3]!.toLowerCase()) return undefined;
  return { subscriptionId: m[1]!, resourceGroup: m[2]!, account: m[3]! };
}

/** The account's BlobServiceClient (real Azure or emulator). */
export function blobServiceFor(opts: BlobAccountOptions): BlobServiceClient {
  if (opts.emulator) {
    if (opts.emulator.name !== opts.account)
      throw new DriveseedError('EMULATOR_ACCOUNT_MISMATCH', `The emulator account given is "${opts.emulator.name}", not "${opts.account}"`, {
        category: 'INTERNAL',
      });
    return new sdk.blob.BlobServiceClient(opts.emulator.blobEndpoint, new sdk.blob.StorageSharedKeyCredential(opts.account, opts.emulator.key.reveal()), {
      retryOptions: { maxTries: 2 },
    });
  }
  return new sdk.blob.BlobServiceClient(`https://${opts.account}.blob.core.windows.net`, opts.credential ?? new sdk.identity.DefaultAzureCredential());
}

/** A ContainerClient for `container` in the account. */
export function containerClientFor(opts: BlobAccountOptions & { container: string }): ContainerClient {
  return blobServiceFor(opts).getContainerClient(opts.container);
}

/**
 * Asks a running emulator (its ARM endpoint, e.g. from `driveseed emulator start`) for the blob
 * endpoint and key of `account`. Emulator-only route: GET <armEndpoint>/_emulator/info.
 * Throws EMULATOR_UNREACHABLE or EMULATOR_ACCOUNT_UNKNOWN (category AZURE).
 */
export async function emulatorAccount(armEndpoint: string, account: string): Promise<EmulatorAccount> {
  const url = `${armEndpoint.replace(/\/+$/, '')}/_emulator/info`;
  let info: { accounts?: Array<{ name: string; blobEndpoint: string; key: string }> };
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    info = (await res.json()) as typeof info;
  } catch (err) {
    throw new DriveseedError(
      'EMULATOR_UNREACHABLE',
      `The emulator at ${armEndpoint} did not answer ${url} (${(err as Error).message}); start it with "driveseed emulator start"`,
      { category: 'AZURE', cause: err },
    );
  }
  const a = info.accounts?.find((x) => x.name === account);
  if (!a) {
    const names = (info.accounts ?? []).map((x) => x.name).join(', ');
    throw new DriveseedError(
      'EMULATOR_ACCOUNT_UNKNOWN',
      `The emulator at ${armEndpoint} hosts no storage account "${account}" (it hosts: ${names}); use one of those in storageAccountId`,
      { category: 'AZURE', details: { account } },
    );
  }
  return { name: a.name, blobEndpoint: a.blobEndpoint, key: new Secret(a.key) };
}
