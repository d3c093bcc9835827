/**
 * `driveseed prep --staging <dir> --target <t>... …` / RPC `prep` (src/core/prep.ts, docs/prep.md);
 * legacy `driveseed s:<staging> [p:<publishsettings>]` is rewritten to this command (src/cli/legacy.ts).
 *
 * Confirmation: on the CLI, formatting asks for the device name to be typed, or takes --yes with the
 * target named exactly. Over RPC, `confirm` must equal the targets (a string for one target, the
 * array of targets in order for several; also without --format, since prep writes onto the drives)
 * and then counts as --yes.
 */
import * as path from 'node:path';
import { type CommandContext, askOrFail, defineCommand } from '../core/command';
import { usageError } from '../base/errors';
import { parsePublishSettings, readReturnInfo, type ReturnInfo } from '../core/job-inputs';
import { type PrepOptions, type PrepResult, prep } from '../core/prep';
import { readSettings, validateContainer } from '../core/settings';
import type { EncryptionMode } from '../prep/encryption';
import { formatBytes } from '../base/format';
import { cookEmulatorUrl, cookLogLevel, cookStaging, stagingOption } from './options';
import { renderJob } from './render-job';

export interface PrepRaw {
  staging?: string;
  target?: string[];
  format?: boolean;
  yes?: boolean;
  encryption?: string;
  bitlockerKeyFile?: string;
  verify?: boolean;
  job?: boolean;
  returnAddress?: string;
  emulator?: string;
  publishSettings?: string;
  container?: string;
  logLevel?: string;
  /** RPC: the destructive confirmation (checked by the server against the targets) */
  confirm?: unknown;
}

export interface PrepCommandOptions extends PrepOptions {
  /** the publish-settings file the subscription came from (its certificate is not used) */
  publishSettings?: string;
}

/** Asks for targets one by one, as the old tool asked for a drive letter; empty answer ends the list. */
async function askTargets(ctx: CommandContext): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const q =
      out.length === 0
        ? 'Disk or mounted volume to prepare (e.g. /dev/sdb, /mnt/disk1; driveseed drives lists them):'
        : `Another disk for the data that does not fit (empty to finish with ${out.length}):`;
    const a = (await askOrFail(ctx, { question: q, flag: '--target', field: 'target' })).trim();
    if (a === '') {
      if (out.length > 0) return out;
      continue;
    }
    out.push(a);
  }
}

export const prepCommand = defineCommand<PrepRaw, PrepCommandOptions, PrepResult>({
  name: 'prep',
  rpcMethod: 'prep',
  summary: 'Write the staging repository onto Import/Export drives with DriveManifest.xml, verify them, and create the import job',
  options: [
    stagingOption('the staging location written by driveseed stage'),
    {
      flags: '--target <t...>',
      name: 'target',
      description:
        'a whole disk (/dev/sdX, /dev/loopN; Windows \\\\.\\PhysicalDriveN) or a mounted volume (its directory; Windows E:), in the order to fill them; asked for when absent',
      type: 'string[]',
    },
    { flags: '--format', name: 'format', description: 'partition (GPT) and format NTFS the whole-disk targets: ERASES them', type: 'boolean' },
    {
      flags: '-y, --yes',
      name: 'yes',
      description: 'do not ask: format the targets named exactly (by their /dev path) without typing the device name',
      type: 'boolean',
      cliOnly: true,
    },
    {
      flags: '--encryption <mode>',
      name: 'encryption',
      description: 'bitlocker or none (Linux cannot create BitLocker: give none, or bitlocker with a dislocker-unlocked drive; Windows default bitlocker)',
      type: 'string',
    },
    {
      flags: '--bitlocker-key-file <file>',
      name: 'bitlockerKeyFile',
      description: "Linux + --encryption bitlocker: the file holding the unlocked drive's 48-digit recovery password",
      type: 'string',
    },
    { flags: '--no-verify', name: 'verify', description: 'skip the read-back pass that checks every block MD5 after writing', type: 'boolean' },
    {
      flags: '--no-job',
      name: 'job',
      description: 'do not create the import job now (for a copy computer without internet; run driveseed job create later)',
      type: 'boolean',
    },
    {
      flags: '--return-address <file>',
      name: 'returnAddress',
      description: 'JSON file with returnAddress and returnShipping for the job (asked interactively when absent)',
      type: 'string',
    },
    {
      flags: '--emulator <url>',
      name: 'emulator',
      description: "create the job in driveseed's emulator at this ARM endpoint instead of Azure (saved in the staging settings)",
      type: 'string',
    },
    {
      flags: '--publish-settings <file>',
      name: 'publishSettings',
      description: '.publishsettings file to read the subscription id from (its certificate is not used)',
      type: 'string',
    },
    { flags: '--container <name>', name: 'container', description: 'blob container the files go to (default: the one saved by stage)', type: 'string' },
    { flags: '--log-level <level>', name: 'logLevel', description: "the service's copy log level for the job: Error (default) or Verbose", type: 'string' },
  ],
  destructive: { confirmParam: 'confirm', targets: (o) => o.targets },
  cook(raw) {
    const staging = cookStaging(raw.staging);
    const settings = readSettings(staging);
    const containerRaw = raw.container ?? settings?.container;
    if (containerRaw === undefined) {
      throw usageError(
        'MISSING_OPTION',
        `No blob container: give --container <name> (or save one with driveseed stage --staging ${raw.staging} --container <name>)`,
        { field: 'container' },
      );
    }
    const container = validateContainer(containerRaw);
    let encryption: EncryptionMode | undefined;
    if (raw.encryption !== undefined) {
      if (raw.encryption !== 'bitlocker' && raw.encryption !== 'none')
        throw usageError('INVALID_OPTION', `Invalid --encryption "${raw.encryption}": expected bitlocker or none`, {
          field: 'encryption',
          value: raw.encryption,
        });
      encryption = raw.encryption;
    }
    const targets = raw.target ?? [];
    const o: PrepCommandOptions = {
      staging,
      targets,
      container,
      format: raw.format === true,
      // Over RPC the server has checked `confirm` against the targets before run: that is the --yes.
      yes: raw.yes === true || raw.confirm !== undefined,
      verify: raw.verify !== false,
    };
    if (encryption) o.encryption = encryption;
    if (raw.bitlockerKeyFile !== undefined) o.bitlockerKeyFile = path.resolve(raw.bitlockerKeyFile);
    let subscription: string | undefined;
    if (raw.publishSettings !== undefined) {
      o.publishSettings = path.resolve(raw.publishSettings);
      subscription = parsePublishSettings(o.publishSettings).subscriptionId;
    }
    const emulator = cookEmulatorUrl(raw.emulator);
    const logLevel = cookLogLevel(raw.logLevel);
    if (raw.job !== false) {
      let returnInfo: ReturnInfo | undefined;
      if (raw.returnAddress !== undefined) returnInfo = readReturnInfo(raw.returnAddress);
      o.job = { logLevel, ...(returnInfo ? { returnInfo } : {}), ...(emulator ? { emulator } : {}), ...(subscription ? { subscription } : {}) };
    } else if (raw.returnAddress !== undefined) {
      throw usageError('PREP_OPTION_CONFLICT', '--return-address is for the import job, which --no-job defers; give it to driveseed job create', {
        field: 'returnAddress',
      });
    }
    return o;
  },
  async run(o, ctx) {
    if (o.publishSettings) {
      ctx.reporter.info(
        `Subscription ${o.job?.subscription ?? ''} read from ${o.publishSettings}; its management certificate works only with the retired Service Management API, not ARM, so Azure credentials come from DefaultAzureCredential (az login, environment, managed identity)`,
      );
    }
    const targets = o.targets.length > 0 ? o.targets : await askTargets(ctx);
    return prep({ ...o, targets }, ctx);
  },
  claims: (o) => [o.staging, ...o.targets],
  exitCategory: (r) => (r.problems.length > 0 ? 'VERIFY_FAILED' : 'OK'),
  renderText(r) {
    const lines = [`${r.files} files, ${formatBytes(r.bytes)} on ${r.drives.length} drive(s)${r.resumed ? ' (resumed)' : ''}; encryption ${r.encryption}`];
    for (const d of r.drives) {
      lines.push(
        `  ${d.target}: drive id ${d.driveId}, ${d.files} files, ${formatBytes(d.bytes)}, manifest ${d.manifestFile} MD5 ${d.manifestHash}, ${d.verified === null ? 'not verified' : d.verified ? 'verified' : 'VERIFY FAILED'}`,
      );
    }
    lines.push(`drive records for the job: ${r.drivesFile}`);
    if (r.portalFiles.length > 0)
      lines.push(
        `to create the job in the Azure portal instead, upload per drive: ${r.portalFiles.map((f) => f.journal).join(', ')} (or the _DriveInfo_ files beside them); they hold the BitLocker keys`,
      );
    if (r.job) lines.push(...renderJob(r.job));
    else lines.push(`no import job created (--no-job): run driveseed job create --staging ${r.staging}`);
    return lines.join('\n');
  },
});
