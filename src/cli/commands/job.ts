/**
 * `driveseed job create --staging <dir> …` / RPC `job.create`, and `driveseed job get --staging <dir>`
 * / RPC `job.get` (src/core/job.ts, docs/prep.md "The import job").
 */
import * as path from 'node:path';
import { defineCommand } from '../../core/command';
import { usageError } from '../../base/errors';
import { type JobCreateOptions, type JobCreateResult, type JobGetResult, createJob, getJob, parsePublishSettings, readReturnInfo } from '../../core/job';
import { cookEmulatorUrl, cookLogLevel, renderJob } from './prep';

export interface JobCreateRaw {
  staging?: string;
  returnAddress?: string;
  emulator?: string;
  logLevel?: string;
  publishSettings?: string;
}

export const jobCreateCommand = defineCommand<JobCreateRaw, JobCreateOptions & { publishSettings?: string }, JobCreateResult>({
  name: 'job create',
  rpcMethod: 'job.create',
  summary: 'Create the Azure Import/Export job for the prepared drives (after prep --no-job, or when prep could not reach Azure)',
  options: [
    { flags: '--staging <dir>', name: 'staging', description: 'the staging location the drives were prepared from', type: 'string', required: true },
    { flags: '--return-address <file>', name: 'returnAddress', description: 'JSON file with returnAddress and returnShipping (asked interactively when absent)', type: 'string' },
    { flags: '--emulator <url>', name: 'emulator', description: 'driveseed emulator ARM endpoint instead of Azure (default: the one saved in the staging settings)', type: 'string' },
    { flags: '--log-level <level>', name: 'logLevel', description: 'the service\'s copy log level: Error (default) or Verbose', type: 'string' },
    { flags: '--publish-settings <file>', name: 'publishSettings', description: '.publishsettings file to read the subscription id from (its certificate is not used)', type: 'string' },
  ],
  cook(raw) {
    if (!raw.staging) throw usageError('MISSING_OPTION', 'Give the staging location with --staging <dir>.', { field: 'staging' });
    const o: JobCreateOptions & { publishSettings?: string } = { staging: path.resolve(raw.staging), logLevel: cookLogLevel(raw.logLevel) };
    const emulator = cookEmulatorUrl(raw.emulator);
    if (emulator) o.emulator = emulator;
    if (raw.returnAddress !== undefined) o.returnInfo = readReturnInfo(raw.returnAddress);
    if (raw.publishSettings !== undefined) {
      o.publishSettings = path.resolve(raw.publishSettings);
      o.subscription = parsePublishSettings(o.publishSettings).subscriptionId;
    }
    return o;
  },
  async run(o, ctx) {
    if (o.publishSettings) {
      ctx.reporter.info(`Subscription ${o.subscription} read from ${o.publishSettings}; its management certificate works only with the retired Service Management API, not ARM, so Azure credentials come from DefaultAzureCredential`);
    }
    return createJob(o, ctx);
  },
  claims: (o) => [o.staging],
  renderText: (r) => renderJob(r).join('\n'),
});

export interface JobGetRaw {
  staging?: string;
  emulator?: string;
}

export const jobGetCommand = defineCommand<JobGetRaw, { staging: string; emulator?: string }, JobGetResult>({
  name: 'job get',
  rpcMethod: 'job.get',
  summary: 'Show the import job of a staging location: its state and each drive\'s state',
  options: [
    { flags: '--staging <dir>', name: 'staging', description: 'the staging location whose job to show', type: 'string', required: true },
    { flags: '--emulator <url>', name: 'emulator', description: 'emulator ARM endpoint (default: the one saved with the job)', type: 'string' },
  ],
  cook(raw) {
    if (!raw.staging) throw usageError('MISSING_OPTION', 'Give the staging location with --staging <dir>.', { field: 'staging' });
    const emulator = cookEmulatorUrl(raw.emulator);
    return { staging: path.resolve(raw.staging), ...(emulator ? { emulator } : {}) };
  },
  run: (o, ctx) => getJob(o, ctx),
  renderText(r) {
    const lines = [`import job ${r.job.name} (${r.job.resourceGroup}): ${r.state}${r.percentComplete !== undefined ? `, ${r.percentComplete}%` : ''}`];
    if (r.deliveryPackage) lines.push(`  shipped with ${String(r.deliveryPackage.carrierName)}, tracking ${String(r.deliveryPackage.trackingNumber)}`);
    for (const d of r.drives) lines.push(`  drive ${d.driveId}: ${d.state}${d.percentComplete !== undefined ? ` ${d.percentComplete}%` : ''}${d.copyStatus ? ` (${d.copyStatus})` : ''}`);
    return lines.join('\n');
  },
});
