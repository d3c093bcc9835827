/**
 * Where the cloud repository of a staging location is: its settings (settings.json) name the account
 * and container, the environment or the emulator they name gives the credentials. Commands that work
 * on the container (backup, restore --from-cloud, check --cloud, snapshots --cloud) take it from here
 * and build the Backend with openBackend (src/cloud/backends.ts).
 */
import { usageError } from '../base/errors';
import type { BackendSpec } from '../cloud/backends';
import type { CloudLocation } from '../cloud/client';
import { requireSeedComplete, resolveCloudLocation } from '../cloud/settings';
import { type JobSettings, readSettings } from './settings';

export interface CloudLocationRequest {
  /** tests, and `--container` overrides: this location instead of the saved settings' */
  location?: CloudLocation;
  /** the end of the SETTINGS_MISSING message: what the command needs the --staging location for */
  missing: string;
  /** refuse (SEED_NOT_COMPLETE) unless the seed is complete, naming this command */
  seedCommand?: string;
}

/**
 * The saved settings (when there are any), the container's location, and the openBackend spec for it
 * (the one step a new kind of storage named by the settings adds to); SETTINGS_MISSING without either.
 */
export async function stagingCloudLocation(
  staging: string,
  env: Record<string, string | undefined>,
  r: CloudLocationRequest,
): Promise<{ location: CloudLocation; spec: BackendSpec & { location: CloudLocation }; settings?: JobSettings }> {
  const settings = readSettings(staging);
  if (!settings && !r.location) throw usageError('SETTINGS_MISSING', `${staging} holds no driveseed settings; ${r.missing}`, { field: 'staging' });
  if (r.seedCommand && !r.location) requireSeedComplete(settings!, staging, r.seedCommand);
  const location = r.location ?? (await resolveCloudLocation(settings!, staging, env));
  return { location, spec: { location }, ...(settings ? { settings } : {}) };
}
