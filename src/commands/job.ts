/**
 * `driveseed job create --staging <dir> …` / RPC `job.create`, `driveseed job get --staging <dir>`
 * / RPC `job.get`, and `driveseed job cancel --staging <dir>` / RPC `job.cancel` (src/core/job.ts,
 * docs/prep.md "The import job").
 */
import * as path from 'node:path';
import { defineCommand } from '../core/command';
import { usageError } from '../base/errors';
import {
  type JobCancelOptions,
  type JobCreateOptions,
  type JobCreateResult,
  type JobGetResult,
  type JobPrintResult,
  cancelJob,
  createJob,
  getJob,
} from '../core/job';
import { parsePublishSettings, readReturnInfo } from '../core/job-inputs';
import { renderJob, renderJobView } from './render-job';
import { cookEmulatorUrl, cookLogLevel, cookStaging, stagingOption } from './options';

export interface JobCreateRaw {
  staging?: string;
  returnAddress?: string;
  emulator?: string;
  logLevel?: string;
  publishSettings?: string;
  print?: boolean;
  manifestBackup?: boolean;
}

export const jobCreateCommand = defineCommand<JobCreateRaw, JobCreateOptions & { publishSettings?: string }, JobCreateResult | JobPrintResult>({
  name: 'job create',
  rpcMethod: 'job.create',
  summary: 'Create the Azure import job (Data Box customer-disk) for the prepared drives (after prep --no-job, or when prep could not reach Azure)',
  options: [
    stagingOption('the staging location the drives were prepared from'),
    {
      flags: '--return-address <file>',
      name: 'returnAddress',
      description: 'JSON file with returnAddress and returnShipping (asked interactively when absent)',
      type: 'string',
    },
    {
      flags: '--emulator <url>',
      name: 'emulator',
      description: 'driveseed emulator ARM endpoint instead of Azure (default: the one saved in the staging settings)',
      type: 'string',
    },
    { flags: '--log-level <level>', name: 'logLevel', description: "the service's copy log level: Error (default) or Verbose", type: 'string' },
    {
      flags: '--publish-settings <file>',
      name: 'publishSettings',
      description: '.publishsettings file to read the subscription id from (its certificate is not used)',
      type: 'string',
    },
    {
      flags: '--print',
      name: 'print',
      description: 'print the exact create request (BitLocker keys masked) instead of sending it; nothing is created',
      type: 'boolean',
    },
    {
      flags: '--no-manifest-backup',
      name: 'manifestBackup',
      description: 'do not ask the service to keep a copy of each drive manifest in the storage account',
      type: 'boolean',
    },
  ],
  cook(raw) {
    const o: JobCreateOptions & { publishSettings?: string } = { staging: cookStaging(raw.staging), logLevel: cookLogLevel(raw.logLevel) };
    const emulator = cookEmulatorUrl(raw.emulator);
    if (emulator) o.emulator = emulator;
    if (raw.returnAddress !== undefined) o.returnInfo = readReturnInfo(raw.returnAddress);
    if (raw.print) o.print = true;
    if (raw.manifestBackup === false) o.enableManifestBackup = false;
    if (raw.publishSettings !== undefined) {
      o.publishSettings = path.resolve(raw.publishSettings);
      o.subscription = parsePublishSettings(o.publishSettings).subscriptionId;
    }
    return o;
  },
  async run(o, ctx) {
    if (o.publishSettings) {
      ctx.reporter.info(
        `Subscription ${o.subscription} read from ${o.publishSettings}; its management certificate works only with the retired Service Management API, not ARM, so Azure credentials come from DefaultAzureCredential`,
      );
    }
    return createJob(o, ctx);
  },
  claims: (o) => [o.staging],
  renderText: (r) => ('body' in r ? `${r.method} ${r.url}\n${JSON.stringify(r.body, null, 2)}` : renderJob(r).join('\n')),
});

export interface JobGetRaw {
  staging?: string;
  emulator?: string;
}

export const jobGetCommand = defineCommand<JobGetRaw, { staging: string; emulator?: string }, JobGetResult>({
  name: 'job get',
  rpcMethod: 'job.get',
  summary: "Show the import job of a staging location: its status, stages and each disk's copy status",
  options: [
    stagingOption('the staging location whose job to show'),
    { flags: '--emulator <url>', name: 'emulator', description: 'emulator ARM endpoint (default: the one saved with the job)', type: 'string' },
  ],
  cook(raw) {
    const emulator = cookEmulatorUrl(raw.emulator);
    return { staging: cookStaging(raw.staging), ...(emulator ? { emulator } : {}) };
  },
  run: (o, ctx) => getJob(o, ctx),
  renderText: (r) => renderJobView(r.view, r.job.resourceGroup).join('\n'),
});

export interface JobCancelRaw {
  staging?: string;
  reason?: string;
  yes?: boolean;
  emulator?: string;
}

export const jobCancelCommand = defineCommand<JobCancelRaw, JobCancelOptions, { job: JobGetResult['job']; status: string }>({
  name: 'job cancel',
  rpcMethod: 'job.cancel',
  summary: 'Cancel the import job of a staging location (only while the service allows it; asks for confirmation)',
  options: [
    stagingOption('the staging location whose job to cancel'),
    { flags: '--reason <text>', name: 'reason', description: 'why, as the service records it (default "Cancelled with driveseed")', type: 'string' },
    { flags: '-y, --yes', name: 'yes', description: 'cancel without asking (RPC: the param yes)', type: 'boolean' },
    { flags: '--emulator <url>', name: 'emulator', description: 'emulator ARM endpoint (default: the one saved with the job)', type: 'string' },
  ],
  cook(raw) {
    const emulator = cookEmulatorUrl(raw.emulator);
    const reason = (raw.reason ?? 'Cancelled with driveseed').trim();
    if (reason === '' || reason.length > 500) throw usageError('INVALID_OPTION', `Invalid --reason: give 1 to 500 characters`, { field: 'reason' });
    return { staging: cookStaging(raw.staging), reason, yes: raw.yes === true, ...(emulator ? { emulator } : {}) };
  },
  run: (o, ctx) => cancelJob(o, ctx),
  claims: (o) => [o.staging],
  renderText: (r) => `import job ${r.job.name}: ${r.status}`,
});
