/**
 * Where the cloud repository of a staging location is: its settings (settings.json) name the account
 * and container, the environment or the emulator they name gives the credentials. Commands that work
 * on the container (backup, restore --from-cloud, check --cloud, snapshots --cloud) take it from here
 * and build the Backend with openBackend (src/cloud/backends.ts).
 */
import { usageError } from '../base/errors';
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

/** The saved settings (when there are any) and the container's location; SETTINGS_MISSING without either. */
export async function stagingCloudLocation(
  staging: string,
  env: Record<string, string | undefined>,
  r: CloudLocationRequest,
): Promise<{ location: CloudLocation; settings?: JobSettings }> {
  const settings = readSettings(staging);
  if (!settings && !r.location) throw usageError('SETTINGS_MISSING', `${staging} holds no driveseed settings; ${r.missing}`, { field: 'staging' });
  if (r.location) return { location: r.location, ...(settings ? { settings } : {}) };
  if (r.seedCommand) requireSeedComplete(settings!, staging, r.seedCommand);
  return { location: await resolveCloudLocation(settings!, staging, env), settings: settings! };
}
