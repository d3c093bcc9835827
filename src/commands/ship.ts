/**
 * `driveseed ship [--staging <dir>] --carrier <name> --tracking <number> [--ship-date <date>] [--yes]`
 * / RPC `ship` (src/core/ship.ts, docs/prep.md "Ship"); legacy `driveseed u: [s:<staging>] [p:<file>]`
 * is rewritten to this command (src/cli/legacy.ts).
 *
 * Unlike prep's --yes, `yes` exists over RPC too: ship changes the job, not a disk, and the RPC
 * client answers the review with it (PowerShell: after ShouldProcess).
 */
import * as path from 'node:path';
import { defineCommand } from '../core/command';
import { parsePublishSettings } from '../core/job-inputs';
import { type ShipOptions, type ShipResult, ship, validateShipDate, validateTracking } from '../core/ship';
import { cookStaging, stagingOption } from './options';

export interface ShipRaw {
  staging?: string;
  carrier?: string;
  tracking?: string;
  shipDate?: string;
  yes?: boolean;
  publishSettings?: string;
}

export const shipCommand = defineCommand<ShipRaw, ShipOptions, ShipResult>({
  name: 'ship',
  rpcMethod: 'ship',
  summary: 'Record carrier and tracking number with the import job (state Shipping) and keep a local shipping record',
  options: [
    stagingOption('the staging location of the job (default: the job created on this computer that waits for shipping details)', false),
    {
      flags: '--carrier <name>',
      name: 'carrier',
      description: 'the carrier the drives were handed to (one the datacenter supports; asked when absent)',
      type: 'string',
    },
    {
      flags: '--tracking <number>',
      name: 'tracking',
      description: "the package's tracking number (one package, one number per job; asked when absent)",
      type: 'string',
    },
    { flags: '--ship-date <date>', name: 'shipDate', description: 'YYYY-MM-DD the package was handed over (default today)', type: 'string' },
    { flags: '-y, --yes', name: 'yes', description: 'update the job without the review question', type: 'boolean' },
    {
      flags: '--publish-settings <file>',
      name: 'publishSettings',
      description: ".publishsettings file of the job's subscription (legacy p:; checked against the job)",
      type: 'string',
    },
  ],
  cook(raw) {
    const o: ShipOptions = { yes: raw.yes === true };
    if (raw.staging !== undefined) o.staging = cookStaging(raw.staging);
    if (raw.carrier !== undefined) o.carrier = raw.carrier;
    if (raw.tracking !== undefined) o.tracking = validateTracking(raw.tracking);
    if (raw.shipDate !== undefined) o.shipDate = validateShipDate(raw.shipDate);
    if (raw.publishSettings !== undefined) o.subscription = parsePublishSettings(path.resolve(raw.publishSettings)).subscriptionId;
    return o;
  },
  run: (o, ctx) => ship(o, ctx),
  claims: (o) => (o.staging ? [o.staging] : []),
  renderText(r) {
    return [
      `import job ${r.job.name} is now Shipping: ${r.driveCount} drive(s) with ${r.carrier}, tracking ${r.tracking}, shipped ${r.shipDate}`,
      `shipping record: ${r.recordFile}`,
      `follow the job with: driveseed status --staging ${r.staging}`,
    ].join('\n');
  },
});
