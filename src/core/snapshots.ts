/**
 * `driveseed snapshots`: the snapshots of the staging repository, or with `cloud` of the repository
 * in the Azure container, oldest first, with their dates and sizes. Read-only: takes no lock.
 */
import { openBackend } from '../cloud/backends';
import type { CloudLocation } from '../cloud/client';
import { Repository } from '../repo/repository';
import type { SnapshotDoc } from '../repo/snapshot';
import type { CommandContext } from './command';
import { stagingCloudLocation } from './cloud-location';
import { type PassphraseSource, resolvePassphrase } from './passphrase';

export interface SnapshotsOptions {
  /** absolute staging location */
  staging: string;
  /** list the repository in the container named by the staging settings */
  cloud: boolean;
  passphrase: PassphraseSource;
  /** tests: a location instead of the saved settings */
  location?: CloudLocation;
}

export interface SnapshotInfo {
  id: string;
  /** ISO 8601 time the snapshot was taken */
  time: string;
  host: string;
  sources: string[];
  files: number;
  /** logical bytes of all files in the snapshot */
  bytes: number;
  /** raw bytes that were new to the repository when it was taken */
  bytesNew: number;
  /** bytes that run added to packs (compressed, encrypted) */
  bytesStored: number;
}

export interface SnapshotsResult {
  /** the staging path, or `<endpoint>/<container>` */
  location: string;
  snapshots: SnapshotInfo[];
}

function info(id: string, d: SnapshotDoc): SnapshotInfo {
  return {
    id,
    time: d.time,
    host: d.host,
    sources: d.sources,
    files: d.summary.files,
    bytes: d.summary.bytes,
    bytesNew: d.summary.bytesNew,
    bytesStored: d.summary.bytesStored,
  };
}

export async function listSnapshots(o: SnapshotsOptions, ctx: CommandContext): Promise<SnapshotsResult> {
  const passphrase = await resolvePassphrase(o.passphrase, ctx, false);
  if (!o.cloud) {
    const repo = await Repository.open(o.staging, passphrase);
    try {
      return { location: o.staging, snapshots: (await repo.listSnapshots()).map((s) => info(s.id, s.doc)) };
    } finally {
      repo.close();
    }
  }
  const { spec } = await stagingCloudLocation(o.staging, ctx.env, {
    location: o.location,
    missing: 'give the --staging location used for stage and the import.',
  });
  const backend = await openBackend(spec);
  const where = backend.description;
  const repo = await Repository.open(backend, passphrase, { signal: ctx.signal });
  return { location: where, snapshots: (await repo.listSnapshots(ctx.signal)).map((s) => info(s.id, s.doc)) };
}
