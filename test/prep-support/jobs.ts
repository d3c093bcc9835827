/** A staging location as prep leaves it for the job (settings + .prep/drives.json), for job and ship tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSettings } from '../../src/core/settings';
import { tmpDir } from '../helpers';

export const SUB = '00000000-1111-2222-3333-444444444444';
export const KEY = '111111-222222-333333-444444-555555-666666-777777-888888';
export const RETURN_INFO = {
  returnAddress: {
    recipientName: 'Ada Lovelace',
    streetAddress1: '1 Analytical St',
    city: 'London',
    postalCode: 'N1 9GU',
    countryOrRegion: 'GB',
    phone: '+44 20 7946 0000',
    email: 'ada@example.com',
  },
  returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123456789' },
};

/**
 * A staging location with job settings and the drive records prep leaves. `hardware`: the drives
 * carry hardware serials (as on real SATA disks) instead of generated ids; `count` drives (default
 * 2); `sectorSize`: the recorded logical sector size.
 */
export function fakePrepared(job: string, opts: { withKey?: boolean; hardware?: boolean; count?: number; sectorSize?: number } = {}): string {
  const staging = tmpDir('driveseed-job-');
  writeSettings(staging, {
    version: 1,
    staging,
    job,
    account: 'devstoreaccount1',
    container: 'seed',
    subscription: SUB,
    resourceGroup: 'rg1',
    location: 'westus',
  });
  fs.mkdirSync(path.join(staging, '.prep'));
  const hashes = ['0123456789ABCDEF0123456789ABCDEF', 'FEDCBA9876543210FEDCBA9876543210'];
  const drives = Array.from({ length: opts.count ?? 2 }, (_, i) => ({
    target: `/dev/loop${90 + i}`,
    driveId: opts.hardware ? `WD-WCC4N${String(1234560 + i)}` : `DS0000000000AA${String(i + 1).padStart(2, '0')}`,
    driveIdSource: opts.hardware ? 'hardware' : 'generated',
    ...(opts.sectorSize ? { logicalSectorSize: opts.sectorSize } : {}),
    manifestFile: '\\DriveManifest.xml',
    manifestHash: hashes[i % 2]!,
    files: 3,
    bytes: 100 - i * 50 > 0 ? 100 - i * 50 : 10,
  }));
  fs.writeFileSync(path.join(staging, '.prep', 'drives.json'), JSON.stringify({ version: 1, encryption: opts.withKey ? 'bitlocker' : 'none', drives }));
  if (opts.withKey)
    fs.writeFileSync(
      path.join(staging, '.prep', 'keys.json'),
      JSON.stringify({ version: 1, keys: drives.map((d) => ({ driveId: d.driveId, bitLockerKey: KEY })) }),
      { mode: 0o600 },
    );
  return staging;
}
