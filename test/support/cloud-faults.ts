/**
 * Shared setup of the network-fault tests (test/network-faults*.test.ts): one repository staged
 * once and uploaded, as the import would, into several containers of a private Azurite ("twins":
 * same keys, same chunker, so the same source gives the same chunks in each); one staging location
 * per twin whose settings point driveseed at the fault proxy (test/support/fault-proxy.ts) in front
 * of Azurite; and what the container holds, read from the blobs directly (not through the proxy),
 * for comparing a faulted run with a fault-free one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AzuriteHandle } from '../../src/cloud/azurite';
import { blockId, ContainerBackend } from '../../src/cloud/container-backend';
import { containerClientFor, describeLocation } from '../../src/cloud/client';
import { Repository } from '../../src/repo/repository';
import { uploadRepository } from '../../src/cloud/seed';
import { checkCloud } from '../../src/core/check';
import { loadBinding } from '../../src/native/load';
import { stage } from '../../src/core/stage';
import { readSettings, updateSettings } from '../../src/core/settings';
import { PASS, ctxWith } from '../backup-helpers';
import { tmpDir } from '../helpers';
import type { FaultProxy } from './fault-proxy';

/** Azurite's published development key: what must never show in driveseed's output. */
export { AZURITE_ACCOUNT_KEY as AZURITE_KEY } from '../../src/azure/azurite-account';

/** Why the tests cannot run here (undefined: they can). */
export const whyNot = (() => {
  try {
    return typeof loadBinding().packJob === 'function' ? undefined : 'the native addon has no packJob';
  } catch (err) {
    return `the native addon is not built (${(err as Error).message.split('\n')[0]})`;
  }
})();

export interface Twin {
  container: string;
  /** staging location whose settings name this container behind the proxy */
  staging: string;
  /** the container straight on Azurite (no proxy): for reading what it holds */
  direct: ContainerBackend;
}

/**
 * Stages `source` once and uploads the repository into each of `containers`; returns a staging
 * location per container, with settings pointing at `proxy` (the seed marked complete and the
 * repository data deleted, as after `driveseed complete`).
 */
export async function seedTwins(azurite: AzuriteHandle, proxy: FaultProxy, source: string, containers: string[]): Promise<Twin[]> {
  const staging = tmpDir('driveseed-netfault-staging-');
  await stage(
    {
      sources: [source],
      staging,
      settings: { job: 'netfault', account: 'devstoreaccount1', container: containers[0]! },
      passphrase: { kind: 'param', secret: PASS },
      level: 3,
      threads: 2,
      init: { kdf: { N: 1024, r: 8, p: 1 } },
    },
    ctxWith(),
  );
  const out: Twin[] = [];
  for (const container of containers) {
    const loc = azurite.location(container);
    const direct = new ContainerBackend(containerClientFor(loc), describeLocation(loc));
    await direct.ensureContainer();
    await uploadRepository(staging, direct);
    const copy = tmpDir(`driveseed-netfault-${container}-`);
    fs.cpSync(staging, copy, { recursive: true });
    updateSettings(copy, {
      staging: copy,
      container,
      blobEndpoint: proxy.url(`/${loc.account}`),
      seed: { ...(readSettings(copy)!.seed ?? {}), state: 'complete', completed: new Date().toISOString() },
    });
    for (const n of ['config', 'data', 'index', 'snapshots', '.cache']) fs.rmSync(path.join(copy, n), { recursive: true, force: true });
    out.push({ container, staging: copy, direct });
  }
  fs.rmSync(staging, { recursive: true, force: true });
  return out;
}

/** What a container holds, read from the blobs (directly on Azurite). */
export interface ContainerFacts {
  snapshots: number;
  /** summary of the newest snapshot without the fields that depend on timing or on what was resumed */
  latest: Record<string, number>;
  indexFiles: number;
  packs: number;
  /** every chunk id the indexes list, sorted */
  chunks: string[];
  /** blobs under data/ that no index lists (left by an interrupted run) */
  unreferencedPacks: string[];
  /** indexed packs with no blob, or a blob of another size */
  missingPacks: string[];
  /** blobs with uncommitted blocks still attached */
  uncommitted: string[];
  /** packs whose committed block list does not carry the index's block MD5s, in order */
  blockListMismatch: string[];
  /** index files with no pack list next to them, or the other way round */
  orphanPackLists: string[];
}

export async function containerFacts(t: Twin): Promise<ContainerFacts> {
  const cache = tmpDir('driveseed-netfault-facts-');
  const repo = await Repository.open(t.direct, PASS, { indexCache: cache });
  try {
    const snaps = await repo.listSnapshots();
    const ids = await repo.indexIds();
    const chunks: string[] = [];
    const indexed = new Map<string, { size: number; blockMd5: string[] }>();
    for (const id of ids) {
      for (const p of (await repo.indexDoc(id)).packs) {
        indexed.set(p.path, { size: p.size, blockMd5: p.blockMd5 });
        for (const e of p.entries) chunks.push(e[0]);
      }
    }
    const blobs = new Map((await t.direct.list('')).map((e) => [e.path, e.size]));
    const client = t.direct.client;
    const uncommitted: string[] = [];
    for (const name of blobs.keys()) {
      const l = await client
        .getBlockBlobClient(name)
        .getBlockList('uncommitted')
        .catch(() => undefined);
      if (l?.uncommittedBlocks?.length) uncommitted.push(name);
    }
    const blockListMismatch: string[] = [];
    for (const [p, v] of indexed) {
      if (blobs.get(p) !== v.size) continue;
      const committed = (await client.getBlockBlobClient(p).getBlockList('committed')).committedBlocks ?? [];
      const want = v.blockMd5.map((h, i) => blockId(i, Buffer.from(h, 'hex')));
      // Packs that came with the seed were uploaded by uploadRepository, with the same ids.
      if (committed.length !== want.length || committed.some((b, i) => b.name !== want[i])) blockListMismatch.push(p);
    }
    const s = snaps.at(-1)!.doc.summary;
    const indexNames = [...blobs.keys()].filter((b) => b.startsWith('index/'));
    const lists = new Set(indexNames.filter((b) => b.endsWith('.json')).map((b) => b.replace(/\.json$/, '').replace(/\.packs$/, '')));
    const idx = new Set(indexNames.filter((b) => !b.endsWith('.json')));
    return {
      snapshots: snaps.length,
      latest: { files: s.files, dirs: s.dirs, symlinks: s.symlinks, hardlinks: s.hardlinks, bytes: s.bytes, filesFailed: s.filesFailed },
      indexFiles: ids.length,
      packs: indexed.size,
      chunks: chunks.sort(),
      unreferencedPacks: [...blobs.keys()].filter((b) => b.startsWith('data/') && !indexed.has(b)),
      missingPacks: [...indexed].filter(([p, v]) => blobs.get(p) !== v.size).map(([p]) => p),
      uncommitted,
      blockListMismatch,
      orphanPackLists: [...[...lists].filter((l) => !idx.has(l)), ...[...idx].filter((i) => !lists.has(i))],
    };
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}

/** check --cloud --read-data straight on Azurite: problems as strings (empty: healthy). */
export async function checkProblems(azurite: AzuriteHandle, t: Twin): Promise<string[]> {
  const r = await checkCloud(
    { staging: t.staging, passphrase: { kind: 'param', secret: PASS }, readData: true, threads: 2, location: azurite.location(t.container) },
    ctxWith(),
  );
  return r.problems.map((p) => `${p.code} ${p.file ?? ''} ${p.message}`);
}
