/**
 * Uploading a staged repository directory into a container as the Import/Export service would:
 * every repository file (config, data/, index/, snapshots/) to the blob of the same relative path;
 * settings.json, locks/, the local cache and work files stay local. Used by tests and bench trials
 * to build a seeded container without drives, and by anything that re-uploads a staging location
 * over the network. Packs go through putFile with their recorded block MD5s when the pack lists
 * have them, so a rerun sends only what is missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE, DATA_DIR, INDEX_DIR, PACK_LIST_SUFFIX, SNAPSHOT_DIR } from '../repo/layout';
import type { Backend } from '../repo/backend';
import { openBackend } from './backends';

export interface SeedUploadResult {
  files: number;
  bytes: number;
  bytesSent: number;
}

/** Uploads the repository at `staging` into `backend`; packs first, then index files, then config and snapshots. */
export async function uploadRepository(staging: string, backend: Backend, signal?: AbortSignal): Promise<SeedUploadResult> {
  const local = await openBackend({ directory: staging });
  const md5s = new Map<string, Buffer>();
  for (const e of await local.list(`${INDEX_DIR}/`)) {
    if (!e.path.endsWith(PACK_LIST_SUFFIX)) continue;
    const doc = JSON.parse((await local.readAll(e.path)).toString('utf8')) as { packs: Array<{ path: string; blockMd5: string[] }> };
    for (const p of doc.packs) md5s.set(p.path, Buffer.from(p.blockMd5.join(''), 'hex'));
  }
  const out: SeedUploadResult = { files: 0, bytes: 0, bytesSent: 0 };
  const packs = await local.list(`${DATA_DIR}/`);
  let next = 0;
  const worker = async () => {
    while (next < packs.length) {
      const e = packs[next++]!;
      const md5 = md5s.get(e.path);
      const r = await backend.putFile(e.path, path.join(staging, ...e.path.split('/')), { signal, ...(md5 ? { blockMd5: md5 } : {}) });
      out.files++;
      out.bytes += e.size;
      out.bytesSent += r.bytesSent;
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  for (const prefix of [`${INDEX_DIR}/`, CONFIG_FILE, `${SNAPSHOT_DIR}/`]) {
    for (const e of await local.list(prefix)) {
      if (prefix === CONFIG_FILE && e.path !== CONFIG_FILE) continue;
      const bytes = fs.readFileSync(path.join(staging, ...e.path.split('/')));
      await backend.writeAtomic(e.path, bytes, signal);
      out.files++;
      out.bytes += bytes.length;
      out.bytesSent += bytes.length;
    }
  }
  return out;
}
