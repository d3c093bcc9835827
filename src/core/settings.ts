/**
 * Job settings saved in the staging location (`settings.json`, docs/format.md §Settings): what the
 * old offline-backup wizard asked for (staging location, import job name, storage account,
 * container, subscription, resource group, location), plus what later steps add (emulator
 * endpoint, seed state). Not secret, not part of the repository blobs. Later steps read them with
 * readSettings() and add their own fields with updateSettings(); unknown fields are preserved.
 *
 * The validators below implement Azure's naming rules and throw usage errors that name the option
 * and the rule.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../repo/atomic';
import { repoIoError } from '../repo/errors';
import { SETTINGS_FILE } from '../repo/layout';
import { DriveseedError, usageError } from '../base/errors';

export interface JobSettings {
  version: 1;
  /** absolute path of the staging location when the settings were saved */
  staging: string;
  /** Azure Import/Export job name */
  job: string;
  account?: string;
  container?: string;
  subscription?: string;
  resourceGroup?: string;
  location?: string;
  /** the emulator's ARM endpoint chosen with --emulator (prep, job): later steps talk to the same emulator */
  emulator?: string;
  /** the seed's progress, written by job/ship/complete; stage never changes it */
  seed?: Record<string, unknown>;
  /** fields added by later versions or other commands, kept as they are */
  [extra: string]: unknown;
}

/** The subset stage takes from the command line. */
export type JobSettingsInput = Pick<JobSettings, 'job' | 'account' | 'container' | 'subscription' | 'resourceGroup' | 'location'>;

function fail(flag: string, field: string, value: string, rule: string): never {
  throw usageError('INVALID_OPTION', `Invalid ${flag} ${JSON.stringify(value)}: ${rule}.`, { field, value });
}

/** Import/Export job name: 3–24 characters, lowercase letters, digits and hyphens, starting with a letter. */
export function validateJobName(v: string, flag = '--job'): string {
  if (!/^[a-z][a-z0-9-]{2,23}$/.test(v))
    fail(flag, 'job', v, 'a job name has 3 to 24 characters, lowercase letters, digits and hyphens, and starts with a letter');
  return v;
}

/** Storage account: 3–24 lowercase letters and digits. */
export function validateAccount(v: string, flag = '--account'): string {
  if (!/^[a-z0-9]{3,24}$/.test(v)) fail(flag, 'account', v, 'a storage account name has 3 to 24 characters, lowercase letters and digits only');
  return v;
}

/** Container: 3–63, lowercase letters, digits and single hyphens, starting and ending with a letter or digit. */
export function validateContainer(v: string, flag = '--container'): string {
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(v)) {
    fail(
      flag,
      'container',
      v,
      'a container name has 3 to 63 characters, lowercase letters, digits and single hyphens, and starts and ends with a letter or digit',
    );
  }
  return v;
}

/** Subscription id: a GUID (normalised to lowercase). */
export function validateSubscription(v: string, flag = '--subscription'): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) {
    fail(flag, 'subscription', v, 'a subscription id is a GUID such as 00000000-0000-0000-0000-000000000000');
  }
  return v.toLowerCase();
}

/** Resource group: 1–90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period. */
export function validateResourceGroup(v: string, flag = '--resource-group'): string {
  if (!/^[\p{L}\p{N}_().-]{1,90}$/u.test(v) || v.endsWith('.')) {
    fail(flag, 'resourceGroup', v, 'a resource group name has 1 to 90 characters (letters, digits, _, -, ., parentheses) and does not end with a period');
  }
  return v;
}

/** Azure region: its programmatic name (e.g. westeurope); "West Europe" is accepted and normalised. */
export function validateLocation(v: string, flag = '--location'): string {
  const n = v.toLowerCase().replace(/\s+/g, '');
  if (!/^[a-z][a-z0-9]{1,39}$/.test(n)) fail(flag, 'location', v, 'a location is an Azure region name such as westeurope or eastus2');
  return n;
}

export function settingsPath(staging: string): string {
  return path.join(staging, SETTINGS_FILE);
}

/** The saved settings, or undefined when the staging location has none. */
export function readSettings(staging: string): JobSettings | undefined {
  const file = settingsPath(staging);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw repoIoError(err, 'read', file);
  }
  try {
    const s = JSON.parse(text) as JobSettings;
    if (s?.version !== 1 || typeof s.job !== 'string') throw new Error('missing version or job');
    return s;
  } catch (err) {
    throw new DriveseedError(
      'SETTINGS_INVALID',
      `${file} is not valid driveseed settings (${(err as Error).message}); fix or delete it and run stage again with the job options.`,
      {
        category: 'USAGE',
        details: { path: file },
      },
    );
  }
}

/** Writes the settings atomically. */
export function writeSettings(staging: string, settings: JobSettings): void {
  writeFileAtomic(settingsPath(staging), JSON.stringify(settings, null, 2) + '\n');
}

/** Reads, applies `patch` (undefined values are ignored) and writes back; returns the new settings. */
export function updateSettings(staging: string, patch: Partial<JobSettings>): JobSettings {
  const current = readSettings(staging);
  if (!current && typeof patch.job !== 'string') {
    throw new DriveseedError(
      'SETTINGS_MISSING',
      `${settingsPath(staging)} does not exist; run \`driveseed stage … --staging ${staging} --job <name>\` first.`,
      {
        category: 'USAGE',
        details: { staging },
      },
    );
  }
  const next: JobSettings = { ...(current ?? { version: 1, staging: path.resolve(staging), job: patch.job! }) };
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
  writeSettings(staging, next);
  return next;
}

/**
 * Merges stage's options into the saved settings. The job name is fixed once saved: the staging
 * location belongs to that import job (JOB_MISMATCH otherwise).
 */
export function mergeStageSettings(staging: string, input: JobSettingsInput): JobSettings {
  const current = readSettings(staging);
  if (current && current.job !== input.job) {
    throw usageError(
      'JOB_MISMATCH',
      `--job ${input.job} differs from the job this staging location belongs to (${current.job}, in ${settingsPath(staging)}); use --job ${current.job}, or a new --staging location for a new job.`,
      { field: 'job', saved: current.job },
    );
  }
  return updateSettings(staging, { ...input, staging: path.resolve(staging) });
}
