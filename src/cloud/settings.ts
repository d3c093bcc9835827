/**
 * What the cloud side reads from the staging settings (settings.json, src/core/settings.ts) and the
 * environment: where the cloud repository is, how to authenticate, and whether the seed is complete.
 * docs/cloud.md, "Settings and credentials", is the contract with prep/job/complete.
 *
 * Credentials never live in settings.json. In order of precedence:
 *   DRIVESEED_STORAGE_CONNECTION_STRING   a connection string
 *   DRIVESEED_STORAGE_SAS                 a SAS token for the container (rwdl)
 *   DRIVESEED_STORAGE_KEY                 the storage account key
 *   (none), settings.emulator set         the account's endpoint and key as the running emulator
 *                                         reports them (GET <emulator>/_emulator/info, src/azure/blob.ts)
 *   (none)                                Azurite's public development key when the endpoint is on
 *                                         loopback and the account is devstoreaccount1;
 *                                         otherwise DefaultAzureCredential (az login, managed identity…)
 */
import { emulatorAccount } from '../azure/blob';
import { DriveseedError } from '../base/errors';
import { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY } from '../azure/azurite-account';
import { Secret } from '../base/secret';
import type { CloudLocation } from './client';

/**
 * The fields of the staging settings (settings.json, written by src/core/settings.ts) that say where the
 * cloud repository is and whether the seed is complete; the saved settings (JobSettings) are one.
 */
export interface CloudSettings {
  /** Azure Import/Export job name (named in the next-step messages) */
  job: string;
  account?: string;
  container?: string;
  /** the Blob service endpoint (Azurite, the emulator); also kept under seed.blobEndpoint by complete */
  blobEndpoint?: unknown;
  /** the emulator's ARM endpoint chosen with --emulator */
  emulator?: unknown;
  /** the seed's progress */
  seed?: Record<string, unknown>;
}

// The seed's states and their transitions are owned by src/core/staging-records.ts (SEED_STATES).

/** True once `driveseed complete` has verified the container and recorded it. */
export function seedComplete(settings: CloudSettings): boolean {
  const seed = settings.seed as { state?: unknown; completed?: unknown } | undefined;
  return seed?.state === 'complete' || (typeof seed?.completed === 'string' && seed.completed.length > 0);
}

/** Throws SEED_NOT_COMPLETE with the next step to run, unless the seed is complete. */
export function requireSeedComplete(settings: CloudSettings, staging: string, command: string): void {
  if (seedComplete(settings)) return;
  const state = (settings.seed as { state?: unknown } | undefined)?.state;
  const s = JSON.stringify(staging);
  let next: string;
  switch (state) {
    case undefined:
    case 'prepared':
      next = `prepare the drives and create the import job (\`driveseed prep --staging ${s} --target …\`), send them (\`driveseed ship --staging ${s} --carrier … --tracking …\`), follow the import with \`driveseed status --staging ${s}\`, and when it is Completed run \`driveseed complete --staging ${s}\``;
      break;
    case 'job-created':
      next = `ship the drives (\`driveseed ship --staging ${s} --carrier … --tracking …\`), follow the import with \`driveseed status --staging ${s}\`, and when it is Completed run \`driveseed complete --staging ${s}\``;
      break;
    default:
      next = `follow the import with \`driveseed status --staging ${s}\`, and when the job is Completed run \`driveseed complete --staging ${s}\``;
  }
  throw new DriveseedError(
    'SEED_NOT_COMPLETE',
    `\`driveseed ${command}\` works on the repository in Azure, which is not in place yet (seed state: ${state === undefined ? 'not shipped' : String(state)}). First ${next}.`,
    { category: 'USAGE', details: { staging, seedState: state ?? null } },
  );
}

/** The cloud repository's location from the settings and the environment. Throws CLOUD_CONFIG when account or container is missing. */
export function cloudLocationFromSettings(settings: CloudSettings, staging: string, env: Record<string, string | undefined>): CloudLocation {
  const seed = (settings.seed ?? {}) as { blobEndpoint?: unknown };
  const account = settings.account;
  const container = settings.container;
  if (!account || !container) {
    throw new DriveseedError(
      'CLOUD_CONFIG',
      `The settings in ${staging} name no ${!account ? 'storage account' : 'container'}; run \`driveseed stage --staging ${JSON.stringify(staging)} --job ${settings.job} --account <name> --container <name>\` (it only updates the settings when nothing changed).`,
      { category: 'USAGE', details: { staging, field: !account ? 'account' : 'container' } },
    );
  }
  const blobEndpoint =
    typeof settings.blobEndpoint === 'string' ? settings.blobEndpoint : typeof seed.blobEndpoint === 'string' ? seed.blobEndpoint : undefined;
  const base = { account, container, ...(blobEndpoint ? { blobEndpoint } : {}) };
  if (env.DRIVESEED_STORAGE_CONNECTION_STRING)
    return { ...base, credentials: { kind: 'connectionString', connectionString: new Secret(env.DRIVESEED_STORAGE_CONNECTION_STRING) } };
  if (env.DRIVESEED_STORAGE_SAS) return { ...base, credentials: { kind: 'sas', sasToken: new Secret(env.DRIVESEED_STORAGE_SAS) } };
  if (env.DRIVESEED_STORAGE_KEY) return { ...base, credentials: { kind: 'sharedKey', accountKey: new Secret(env.DRIVESEED_STORAGE_KEY) } };
  if (account === AZURITE_ACCOUNT && blobEndpoint && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(blobEndpoint)) {
    return { ...base, credentials: { kind: 'sharedKey', accountKey: new Secret(AZURITE_ACCOUNT_KEY) } };
  }
  return { ...base, credentials: { kind: 'defaultAzureCredential' } };
}

/**
 * cloudLocationFromSettings, plus the emulator: when the settings name an Import/Export emulator
 * (`settings.emulator`, its ARM endpoint) and the environment gives no credentials, the account's
 * blob endpoint and key are asked from that emulator. Throws EMULATOR_UNREACHABLE when it is not running.
 */
export async function resolveCloudLocation(settings: CloudSettings, staging: string, env: Record<string, string | undefined>): Promise<CloudLocation> {
  const loc = cloudLocationFromSettings(settings, staging, env);
  const fromEnv = env.DRIVESEED_STORAGE_CONNECTION_STRING || env.DRIVESEED_STORAGE_SAS || env.DRIVESEED_STORAGE_KEY;
  if (fromEnv || typeof settings.emulator !== 'string' || !settings.emulator) return loc;
  const acc = await emulatorAccount(settings.emulator, loc.account);
  return { account: loc.account, container: loc.container, blobEndpoint: acc.blobEndpoint, credentials: { kind: 'sharedKey', accountKey: acc.key } };
}
