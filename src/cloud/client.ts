/**
 * Where the cloud repository is and how to reach it, and the ContainerClient factory for it.
 * (src/azure/blob.ts, another engineer's, did not exist when this was written; once it does, this
 * factory should delegate to it. Until then this is the one place the cloud side builds clients.)
 *
 * Credentials are Secrets and never leave this file except inside the SDK's request signing.
 * `describe()` gives the endpoint and container only, for messages.
 */
import type { ContainerClient, StoragePipelineOptions } from '@azure/storage-blob';
import { sdk } from '../azure/sdk';
import { usageError } from '../base/errors';
import type { Secret } from '../base/secret';

export type CloudCredentials =
  /** storage account key (Azurite, the emulator, or a real account's access key) */
  | { kind: 'sharedKey'; accountKey: Secret }
  /** a SAS token with read, write, list, delete permissions on the container (with or without the leading '?') */
  | { kind: 'sas'; sasToken: Secret }
  /** a full connection string (AccountName/AccountKey/BlobEndpoint or SharedAccessSignature) */
  | { kind: 'connectionString'; connectionString: Secret }
  /** @azure/identity's DefaultAzureCredential: az login, managed identity, environment variables */
  | { kind: 'defaultAzureCredential' };

export interface CloudLocation {
  /** storage account name (3–24 lowercase letters and digits) */
  account: string;
  container: string;
  /**
   * the Blob service endpoint including the account for path-style endpoints
   * (`http://127.0.0.1:10000/devstoreaccount1`); default `https://<account>.blob.core.windows.net`
   */
  blobEndpoint?: string;
  credentials: CloudCredentials;
}

/** Pipeline options for every client: our retry policy (retry.ts) replaces the SDK's, so the SDK makes one try. */
export const pipelineOptions: StoragePipelineOptions = { retryOptions: { maxTries: 1 }, keepAliveOptions: { enable: true } };

export function endpointOf(loc: CloudLocation): string {
  return (loc.blobEndpoint ?? `https://${loc.account}.blob.core.windows.net`).replace(/\/+$/, '');
}

/** `<endpoint>/<container>` for messages; never includes a SAS token or key. */
export function describeLocation(loc: CloudLocation): string {
  return `${endpointOf(loc)}/${loc.container}`;
}

/** Builds the ContainerClient for a location. Throws CLOUD_CONFIG (usage) for an unusable location. */
export function containerClientFor(loc: CloudLocation): ContainerClient {
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(loc.container)) {
    throw usageError(
      'CLOUD_CONFIG',
      `The container name ${JSON.stringify(loc.container)} is not valid in Azure (3–63 lowercase letters, digits and single hyphens). Fix it in the staging settings.`,
      { field: 'container' },
    );
  }
  const c = loc.credentials;
  if (c.kind === 'connectionString') {
    return new sdk.blob.ContainerClient(c.connectionString.reveal(), loc.container, pipelineOptions);
  }
  const url = `${endpointOf(loc)}/${loc.container}`;
  switch (c.kind) {
    case 'sharedKey':
      return new sdk.blob.ContainerClient(
        url,
        sdk.blob.newPipeline(new sdk.blob.StorageSharedKeyCredential(loc.account, c.accountKey.reveal()), pipelineOptions),
      );
    case 'sas': {
      const sas = c.sasToken.reveal().replace(/^\?/, '');
      return new sdk.blob.ContainerClient(`${url}?${sas}`, sdk.blob.newPipeline(new sdk.blob.AnonymousCredential(), pipelineOptions));
    }
    case 'defaultAzureCredential': {
      // Loaded only here: @azure/identity costs ~180 ms of start-up that key, SAS and emulator runs do not need.
      return new sdk.blob.ContainerClient(url, sdk.blob.newPipeline(new sdk.identity.DefaultAzureCredential(), pipelineOptions));
    }
  }
}
