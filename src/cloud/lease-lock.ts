/**
 * The repository lock in the cloud: a blob lease on `locks/exclusive` (LOCK_FILE in
 * src/repo/layout.ts; the staging location uses a lock file of the same path, same rule: one writer
 * at a time). docs/cloud.md, "Repository lock", is the written contract.
 *
 *  - acquire: a 60 s lease on the lock blob (created empty when missing); who holds it (host, pid,
 *    time, operation) is written into the blob's metadata under the lease, so a refused client can
 *    say who holds it.
 *  - held: renewed every 20 s (a third of the lease, so two renewals can fail transiently before it
 *    lapses). A renewal refused by the service (the lease was broken or taken) or no successful
 *    renewal for a whole lease period aborts `signal` with LEASE_LOST. Writers pass `signal` to every
 *    upload and call `assertHeld()` right before writing the index and right before the snapshot, so
 *    a broken lock stops them before anything refers to their packs.
 *  - release: at the end, in a finally; a lock already lost releases as a no-op.
 *  - force: `--force-unlock` breaks a lease held by someone else after a warning naming the holder.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import type { ContainerClient } from '@azure/storage-blob';
import type { DriveseedError } from '../base/errors';
import type { Reporter } from '../base/reporter';
import { LOCK_FILE } from '../repo/layout';
import { type LockHolderInfo, cloudError, leaseLostError, repositoryLockedError, storageFailure } from './errors';
import { isTransient, withRetry } from './retry';

export interface LeaseLockOptions {
  /** the command taking the lock ("backup", "check"), recorded for whoever is refused */
  operation: string;
  /** break a lease held by someone else (after a warning naming the holder) */
  forceUnlock?: boolean;
  reporter?: Reporter;
  /** for messages: `<endpoint>/<container>` */
  description: string;
  /** seconds, 15..60 (Azure's range); default 60 */
  leaseSeconds?: number;
  /** ms between renewals; default a third of the lease (20 s) */
  renewEveryMs?: number;
}

export interface RepositoryLock {
  /** aborts with a LEASE_LOST DriveseedError as its reason when the lock is lost */
  readonly signal: AbortSignal;
  readonly holder: LockHolderInfo;
  /** renews now; throws LEASE_LOST (and aborts `signal`) when the lease is gone. Call right before each commit step. */
  assertHeld(): Promise<void>;
  /** stops renewing and releases the lease; never throws (a lease it cannot release lapses within 60 s) */
  release(): Promise<void>;
}

const META = { host: 'driveseedhost', pid: 'driveseedpid', since: 'driveseedsince', operation: 'driveseedoperation' } as const;

function holderFrom(meta: Record<string, string> | undefined): LockHolderInfo | undefined {
  if (!meta?.[META.host]) return undefined;
  return {
    host: meta[META.host]!,
    pid: Number(meta[META.pid]),
    since: meta[META.since] ?? '?',
    ...(meta[META.operation] ? { operation: meta[META.operation] } : {}),
  };
}

/** Reads who holds (or last held) the lock, from the lock blob's metadata; undefined when there is none. */
export async function readLockHolder(client: ContainerClient, signal?: AbortSignal): Promise<{ leased: boolean; holder?: LockHolderInfo } | undefined> {
  const blob = client.getBlockBlobClient(LOCK_FILE);
  try {
    const p = await withRetry((s) => blob.getProperties({ abortSignal: s }), signal);
    const holder = holderFrom(p.metadata);
    return { leased: p.leaseState === 'leased', ...(holder ? { holder } : {}) };
  } catch (err) {
    if (storageFailure(err).statusCode === 404) return undefined;
    throw cloudError(err, 'read the lock', LOCK_FILE);
  }
}

/** Takes the repository lock; throws REPOSITORY_LOCKED when another client holds it (and forceUnlock is not set). */
export async function acquireLeaseLock(client: ContainerClient, options: LeaseLockOptions): Promise<RepositoryLock> {
  const leaseSeconds = options.leaseSeconds ?? 60;
  const renewEveryMs = options.renewEveryMs ?? Math.floor((leaseSeconds * 1000) / 3);
  const where = `${options.description}/${LOCK_FILE}`;
  const blob = client.getBlockBlobClient(LOCK_FILE);
  const lease = blob.getBlobLeaseClient(randomUUID());
  const holder: LockHolderInfo = { host: os.hostname(), pid: process.pid, since: new Date().toISOString(), operation: options.operation };

  for (let attempt = 0; ; attempt++) {
    try {
      await withRetry((s) => lease.acquireLease(leaseSeconds, { abortSignal: s }), undefined);
      break;
    } catch (err) {
      const f = storageFailure(err);
      if (attempt >= 4) throw cloudError(err, 'take the lock', where);
      if (f.statusCode === 404) {
        try {
          await withRetry((s) => blob.upload('', 0, { abortSignal: s, conditions: { ifNoneMatch: '*' } }), undefined);
        } catch (e) {
          const s = storageFailure(e).statusCode;
          if (s !== 409 && s !== 412) throw cloudError(e, 'create the lock', where); // another client created it first: fine
        }
        continue;
      }
      if (f.statusCode === 409) {
        const current = await readLockHolder(client);
        if (!options.forceUnlock) throw repositoryLockedError(where, current?.holder);
        const who = current?.holder
          ? `${current.holder.operation ?? 'an operation'} by pid ${current.holder.pid} on ${current.holder.host} since ${current.holder.since}`
          : 'an unknown client';
        options.reporter?.warning(
          'LOCK_BROKEN',
          `--force-unlock: breaking the repository lock ${where} held by ${who}. If that process is still running it will stop at its next renewal without committing.`,
          {
            lock: where,
            holder: current?.holder,
          },
        );
        await withRetry((s) => blob.getBlobLeaseClient().breakLease(0, { abortSignal: s }), undefined).catch((e) => {
          if (storageFailure(e).statusCode !== 409) throw cloudError(e, 'break the lock', where);
        });
        continue;
      }
      throw cloudError(err, 'take the lock', where);
    }
  }

  const ctl = new AbortController();
  const leaseId = lease.leaseId;
  const lose = (reason: string) => {
    if (!ctl.signal.aborted) ctl.abort(leaseLostError(where, reason));
  };
  try {
    await withRetry(
      (s) =>
        blob.setMetadata(
          { [META.host]: holder.host, [META.pid]: String(holder.pid), [META.since]: holder.since, [META.operation]: holder.operation ?? '' },
          { abortSignal: s, conditions: { leaseId } },
        ),
      undefined,
    );
  } catch (err) {
    await lease.releaseLease().catch(() => undefined);
    throw cloudError(err, 'record the holder of the lock', where);
  }

  let lastRenewed = Date.now();
  let renewing: Promise<void> | undefined;
  const renew = (): Promise<void> => {
    renewing ??= (async () => {
      try {
        await withRetry((s) => lease.renewLease({ abortSignal: s }), ctl.signal, { attempts: 3, attemptTimeoutMs: 10_000 });
        lastRenewed = Date.now();
      } catch (err) {
        if (ctl.signal.aborted) return;
        if (!isTransient(err)) {
          lose(`the service refused to renew the lease: ${storageFailure(err).code ?? storageFailure(err).statusCode ?? 'error'}`);
        } else if (Date.now() - lastRenewed >= leaseSeconds * 1000) {
          lose(`no successful renewal for ${leaseSeconds} s; the lease has lapsed`);
        }
      } finally {
        renewing = undefined;
      }
    })();
    return renewing;
  };
  const timer = setInterval(() => void renew(), renewEveryMs);
  timer.unref();

  return {
    signal: ctl.signal,
    holder,
    async assertHeld() {
      if (!ctl.signal.aborted) {
        await renewing;
        await renew();
        if (!ctl.signal.aborted && Date.now() - lastRenewed > renewEveryMs * 2) lose('could not renew the lease just now');
      }
      if (ctl.signal.aborted) throw ctl.signal.reason as DriveseedError;
    },
    async release() {
      clearInterval(timer);
      await renewing;
      if (ctl.signal.aborted) return;
      ctl.abort(leaseLostError(where, 'released'));
      await withRetry((s) => lease.releaseLease({ abortSignal: s }), undefined, { attempts: 3 }).catch(() => undefined);
    },
  };
}
