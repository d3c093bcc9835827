/**
 * `driveseed emulator start` and `driveseed emulator deliver` (docs/emulator.md): the local Azure
 * Import/Export double (Microsoft.DataBox customer-disk jobs, a datacenter, Azurite). start runs until SIGINT/SIGTERM (or RPC cancellation); deliver talks to a
 * running emulator over its emulator-only route.
 */
import * as path from 'node:path';
import { defineCommand, flagOf } from '../core/command';
import { usageError } from '../base/errors';
import { deliverDrive, startEmulator, type CopyLogFormat, type DeliverResult } from '../emulator';

/** A fixed default ARM port, so that `deliver` and `--emulator` find the emulator without copying URLs. */
export const DEFAULT_EMULATOR_PORT = 7080;
export const DEFAULT_EMULATOR_URL = `http://127.0.0.1:${DEFAULT_EMULATOR_PORT}`;

function port(spec: Parameters<typeof flagOf>[0], name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw usageError('PORT_INVALID', `Expected a TCP port from 0 to 65535 for ${flagOf(spec, name)} but received ${String(v)}`, { field: name });
  }
  return v;
}

interface StartRaw {
  port?: number;
  blobPort?: number;
  state?: string;
  copyLogFormat?: string;
}
interface StartOptions {
  armPort: number;
  blobPort: number;
  stateDir?: string;
  copyLogFormat: CopyLogFormat;
}
export interface EmulatorEndpoints {
  armEndpoint: string;
  blobEndpoint: string;
  accounts: Array<{ name: string; blobEndpoint: string }>;
  stateDir: string | null;
}

export const emulatorStart = defineCommand<StartRaw, StartOptions, EmulatorEndpoints & { stopped: true }>({
  name: 'emulator start',
  rpcMethod: 'emulator.start',
  summary: 'Run Azurite and the Import/Export emulator (Microsoft.DataBox customer-disk jobs) on 127.0.0.1 until Ctrl-C (prints the endpoints as JSON)',
  options: [
    { flags: '--port <n>', name: 'port', type: 'number', description: `ARM emulator port (0 picks a free one)`, defaultValue: DEFAULT_EMULATOR_PORT },
    // 0: Azurite's own default (10000) is often taken by another Azurite; the endpoint is printed anyway.
    { flags: '--blob-port <n>', name: 'blobPort', type: 'number', description: 'Azurite blob port (0 picks a free one)', defaultValue: 0 },
    { flags: '--state <dir>', name: 'state', type: 'string', description: 'keep jobs and blobs in <dir> across restarts (default: in memory)' },
    {
      flags: '--copy-log-format <version>',
      name: 'copyLogFormat',
      type: 'string',
      description: 'copy logs new jobs get: 2021-08-01 (databoxcopylog, default) or 2014-11-01 (the classic waies DriveLog)',
    },
  ],
  cook(raw) {
    const o: StartOptions = {
      armPort: port(emulatorStart, 'port', raw.port ?? DEFAULT_EMULATOR_PORT),
      blobPort: port(emulatorStart, 'blobPort', raw.blobPort ?? 0),
      copyLogFormat: '2021-08-01',
    };
    if (raw.copyLogFormat !== undefined) {
      if (raw.copyLogFormat !== '2021-08-01' && raw.copyLogFormat !== '2014-11-01') {
        throw usageError('INVALID_OPTION', `Expected 2021-08-01 or 2014-11-01 for --copy-log-format but received "${raw.copyLogFormat}"`, {
          field: 'copyLogFormat',
          value: raw.copyLogFormat,
        });
      }
      o.copyLogFormat = raw.copyLogFormat;
    }
    if (raw.state !== undefined) {
      if (raw.state.trim() === '') throw usageError('STATE_DIR_INVALID', 'Expected a directory for --state but received an empty string', { field: 'state' });
      o.stateDir = path.resolve(raw.state);
    }
    return o;
  },
  async run(o, ctx) {
    const emu = await startEmulator({
      armPort: o.armPort,
      blobPort: o.blobPort,
      copyLogFormat: o.copyLogFormat,
      ...(o.stateDir ? { stateDir: o.stateDir } : {}),
    });
    const endpoints: EmulatorEndpoints = {
      armEndpoint: emu.armEndpoint,
      blobEndpoint: emu.blobEndpoint,
      accounts: emu.accounts.map((a) => ({ name: a.name, blobEndpoint: a.blobEndpoint })),
      stateDir: emu.stateDir ?? null,
    };
    try {
      ctx.reporter.event('emulator.ready', { ...endpoints });
      ctx.reporter.info(JSON.stringify(endpoints));
      await new Promise<void>((resolve) => {
        const done = () => {
          process.off('SIGTERM', done);
          ctx.signal.removeEventListener('abort', done);
          resolve();
        };
        if (ctx.signal.aborted) return done();
        ctx.signal.addEventListener('abort', done, { once: true });
        process.on('SIGTERM', done);
      });
    } finally {
      await emu.stop();
    }
    return { ...endpoints, stopped: true };
  },
  renderText: (r) => `Emulator stopped (ARM ${r.armEndpoint}, blob ${r.blobEndpoint})${r.stateDir ? `; state kept in ${r.stateDir}` : ''}`,
});

interface DeliverRaw {
  job?: string;
  drive?: string;
  emulator?: string;
  resourceGroup?: string;
  wait?: boolean;
}
interface DeliverCooked {
  job: string;
  drive: string;
  emulator: string;
  resourceGroup?: string;
  wait: boolean;
}

export const emulatorDeliver = defineCommand<DeliverRaw, DeliverCooked, DeliverResult>({
  name: 'emulator deliver',
  rpcMethod: 'emulator.deliver',
  summary: "Play the carrier and the datacenter: hand a prepared drive to a running emulator's import job",
  options: [
    { flags: '--job <name>', name: 'job', type: 'string', required: true, description: 'the import job the drive was shipped for' },
    {
      flags: '--drive <target>',
      name: 'drive',
      type: 'string',
      required: true,
      description: 'a mounted volume directory, a block device or an image file (mounted read-only; needs root)',
    },
    { flags: '--emulator <url>', name: 'emulator', type: 'string', description: `the emulator's ARM endpoint (default ${DEFAULT_EMULATOR_URL})` },
    { flags: '--resource-group <name>', name: 'resourceGroup', type: 'string', description: 'only when jobs of that name exist in several resource groups' },
    {
      flags: '--wait',
      name: 'wait',
      type: 'boolean',
      description: 'wait until the drive is imported (default: return once it is Received)',
      defaultValue: false,
    },
  ],
  cook(raw, { env }) {
    const job = raw.job?.trim() ?? '';
    if (!job) throw usageError('JOB_NAME_MISSING', 'Expected a job name for --job', { field: 'job' });
    const drive = raw.drive?.trim() ?? '';
    if (!drive) throw usageError('DRIVE_MISSING', 'Expected a mounted volume directory, a block device or an image file for --drive', { field: 'drive' });
    const emulator = raw.emulator ?? env.DRIVESEED_EMULATOR ?? DEFAULT_EMULATOR_URL;
    let u: URL;
    try {
      u = new URL(emulator);
    } catch {
      throw usageError('EMULATOR_URL_INVALID', `Expected an http:// URL such as ${DEFAULT_EMULATOR_URL} for --emulator but received "${emulator}"`, {
        field: 'emulator',
      });
    }
    if (u.protocol !== 'http:')
      throw usageError(
        'EMULATOR_URL_INVALID',
        `Expected an http:// URL for --emulator but received "${emulator}" (the emulator serves plain http on 127.0.0.1)`,
        { field: 'emulator' },
      );
    const o: DeliverCooked = { job, drive: path.resolve(drive), emulator: emulator.replace(/\/+$/, ''), wait: raw.wait === true };
    if (raw.resourceGroup) o.resourceGroup = raw.resourceGroup;
    return o;
  },
  async run(o) {
    return deliverDrive({ emulator: o.emulator, job: o.job, drive: o.drive, wait: o.wait, ...(o.resourceGroup ? { resourceGroup: o.resourceGroup } : {}) });
  },
  renderText: (r) =>
    'copyStatus' in r
      ? `Disk ${r.serialNumber} of job ${r.job}: ${r.copyStatus} (log: ${r.logStatus}); job ${r.status}${r.errorLogLink ? `\ncopy log: ${r.errorLogLink}` : ''}`
      : `Disk ${r.serialNumber} of job ${r.job} received (${r.status}); the copy runs now (watch it with driveseed status)`,
});
