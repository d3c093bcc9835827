/**
 * What an import job's create request is made of, before anything is sent: the job's coordinates
 * from the staging settings ({@link jobCoordinates}) and the request's inputs from the drives prep
 * recorded, held against the service's rules ({@link importJobInput}). src/core/job.ts sends it;
 * src/azure/import-job.ts turns the inputs into the Data Box request body.
 */
import { ARM_API_VERSION, AZURE_ARM_ENDPOINT } from '../azure/arm';
import { MAX_DISKS_PER_JOB, type ImportJobInput } from '../azure/import-job';
import { DEFAULT_MANIFEST_FILE } from '../azure/manifest';
import { usageError } from '../base/errors';
import { serviceRuleProblems, type ServiceRule } from '../prep/service-rules';
import type { CommandContext } from './command';
import type { DataBoxManagementClient } from '@azure/arm-databox';
import type { ReturnInfo } from './job-inputs';
import { readSettings, settingsPath, type JobSettings } from './settings';
import { readDriveKeys, readPreparedDrives, type PreparedDriveRecord } from './staging-records';

export interface JobCreateOptions {
  staging: string;
  /** contact, return address and return carrier; asked interactively (ctx.prompter) when absent */
  returnInfo?: ReturnInfo;
  /** ARM endpoint of the emulator; else settings.emulator; else real Azure */
  emulator?: string;
  /** subscription id from a .publishsettings file; else settings.subscription */
  subscription?: string;
  logLevel: 'Error' | 'Verbose';
  /** ask the service to keep a copy of each drive manifest in the storage account; default true */
  enableManifestBackup?: boolean;
  /** show the request instead of sending it (`job create --print`): nothing is created or saved */
  print?: boolean;
  /** tests: the ARM client to use instead of createDataBoxClient */
  client?: DataBoxManagementClient;
}

/** The Azure coordinates of the staging location's job, checked; throws naming what is missing. */
export interface JobCoordinates {
  settings: JobSettings;
  name: string;
  subscription: string;
  resourceGroup: string;
  account: string;
  location: string;
  emulator?: string;
}

/**
 * Reads the staging settings and checks that everything a job needs is there (subscription,
 * resource group, account, location). `subscription`/`emulator` override the saved values.
 * Throws SETTINGS_MISSING / JOB_SETTINGS_INCOMPLETE (USAGE) naming the stage options to give.
 */
export function jobCoordinates(staging: string, override: { subscription?: string; emulator?: string } = {}): JobCoordinates {
  const settings = readSettings(staging);
  if (!settings) {
    throw usageError('SETTINGS_MISSING', `${settingsPath(staging)} does not exist; run driveseed stage with --staging ${staging} --job <name> first`, {
      staging,
    });
  }
  const subscription = override.subscription ?? settings.subscription;
  const missing: string[] = [];
  if (!subscription) missing.push('--subscription (or prep/job create --publish-settings <file>)');
  if (!settings.resourceGroup) missing.push('--resource-group');
  if (!settings.account) missing.push('--account');
  if (!settings.location) missing.push('--location');
  if (missing.length > 0) {
    throw usageError(
      'JOB_SETTINGS_INCOMPLETE',
      `The job settings in ${settingsPath(staging)} lack ${missing.join(', ')}; add them with driveseed stage --staging ${staging} --job ${settings.job} ${missing.map((m) => m.split(' ')[0]).join(' … ')} …`,
      { staging, missing },
    );
  }
  const emulator = override.emulator ?? settings.emulator;
  return {
    settings,
    name: settings.job,
    subscription: subscription!,
    resourceGroup: settings.resourceGroup!,
    account: settings.account!,
    location: settings.location!,
    ...(emulator ? { emulator } : {}),
  };
}

/**
 * The create request's inputs from the prepared drives, refusing what the service would refuse
 * before anything is sent: more than {@link MAX_DISKS_PER_JOB} disks (JOB_TOO_MANY_DISKS), and for
 * real Azure a generated drive id instead of a hardware serial (DRIVE_SERIAL_GENERATED) or a drive
 * without a BitLocker key (BITLOCKER_KEY_MISSING) or with 4K-native sectors
 * (DRIVE_SECTOR_SIZE_UNSUPPORTED). The emulator accepts them (a generated id with a warning).
 */
export function importJobInput(o: JobCreateOptions, c: JobCoordinates, returnInfo: ReturnInfo, ctx: Pick<CommandContext, 'reporter'>): ImportJobInput {
  const prepared = readPreparedDrives(o.staging, { required: true });
  const keys = readDriveKeys(o.staging);
  const drives = prepared.drives;
  // prep's drive rules, over what prep recorded (the disks may be far away by now).
  const problems = serviceRuleProblems(
    drives.map((d) => ({
      input: d.driveId,
      serial: d.driveIdSource === 'hardware' ? d.driveId : null,
      ...(d.logicalSectorSize ? { logicalSectorSize: d.logicalSectorSize } : {}),
    })),
  );
  const of = (rule: ServiceRule) => problems.filter((p) => p.rule === rule).map((p) => p.input!);
  if (problems.some((p) => p.rule === 'tooManyDisks')) {
    throw usageError(
      'JOB_TOO_MANY_DISKS',
      `${drives.length} drives were prepared from ${o.staging}, but one import job takes at most ${MAX_DISKS_PER_JOB}; prepare the data in parts (stage each part into its own staging location) and create one job per part`,
      {
        staging: o.staging,
        drives: drives.length,
      },
    );
  }
  const generated = of('serial');
  const unkeyed = drives.filter((d) => !keys.has(d.driveId)).map((d) => d.driveId);
  if (!c.emulator) {
    const sectors = of('sectorSize');
    if (sectors.length > 0) {
      const size = (id: string) => drives.find((d) => d.driveId === id)?.logicalSectorSize;
      throw usageError(
        'DRIVE_SECTOR_SIZE_UNSUPPORTED',
        `Drive(s) ${sectors.map((id) => `${id} (${size(id)}-byte sectors)`).join(', ')} are 4K native, which the datacenter reports as UnsupportedDrive; prepare disks with 512-byte logical sectors (512n or 512e)`,
        {
          drives: sectors,
        },
      );
    }
    if (generated.length > 0) {
      throw usageError(
        'DRIVE_SERIAL_GENERATED',
        `Drive(s) ${generated.join(', ')} have a generated id, not the disk's hardware serial number, which the service matches disks by; prepare physical SATA disks (whose serial driveseed reads) for the real service, or create the job on the emulator with --emulator`,
        {
          drives: generated,
        },
      );
    }
    if (unkeyed.length > 0) {
      throw usageError(
        'BITLOCKER_KEY_MISSING',
        `Drive(s) ${unkeyed.join(', ')} have no BitLocker key in ${o.staging}/.prep/keys.json; the service requires BitLocker: prepare the drives on Windows with --encryption bitlocker (docs/windows.md)`,
        {
          drives: unkeyed,
        },
      );
    }
  } else if (generated.length > 0) {
    ctx.reporter.warning('DRIVE_ID_GENERATED', `Drive(s) ${generated.join(', ')} use a generated id; the emulator accepts that, the real service would not`, {
      drives: generated,
    });
  }
  const ra = returnInfo.returnAddress;
  return {
    location: c.location,
    storageAccountId: `/subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${c.account}`,
    logLevel: o.logLevel,
    contact: { contactName: ra.recipientName, phone: ra.phone, emailList: [ra.email] },
    shippingAddress: {
      streetAddress1: ra.streetAddress1,
      ...(ra.streetAddress2 ? { streetAddress2: ra.streetAddress2 } : {}),
      city: ra.city,
      ...(ra.stateOrProvince ? { stateOrProvince: ra.stateOrProvince } : {}),
      postalCode: ra.postalCode,
      country: ra.countryOrRegion,
    },
    returnPackage: { ...returnInfo.returnShipping },
    enableManifestBackup: o.enableManifestBackup ?? true,
    disks: drives.map((d: PreparedDriveRecord) => {
      const key = keys.get(d.driveId);
      return {
        serialNumber: d.driveId,
        manifestFile: d.manifestFile || DEFAULT_MANIFEST_FILE,
        manifestHash: d.manifestHash,
        ...(key ? { bitLockerKey: key } : {}),
      };
    }),
  };
}

export function jobUrl(c: Pick<JobCoordinates, 'subscription' | 'resourceGroup' | 'name' | 'emulator'>): string {
  return `${c.emulator ?? AZURE_ARM_ENDPOINT}/subscriptions/${c.subscription}/resourceGroups/${c.resourceGroup}/providers/Microsoft.DataBox/jobs/${c.name}?api-version=${ARM_API_VERSION}`;
}
