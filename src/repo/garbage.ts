/**
 * What in a repository directory is not referenced (docs/format.md §Garbage): temp files (the
 * TEMP_PREFIX anywhere), pack files that no index file lists (left by an interrupted stage), pack
 * lists without their index, and unknown names. `check` reports them; `stage` deletes temps,
 * orphan pack lists and unreferenced packs while it holds the lock.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoIoError } from './errors';
import { CONFIG_FILE, DATA_DIR, ID_RE, INDEX_DIR, LOCK_DIR, PACK_LIST_SUFFIX, SETTINGS_FILE, SNAPSHOT_DIR, TEMP_PREFIX } from './layout';

export interface Garbage {
  /** repository-relative paths of temp files */
  temps: Array<{ path: string; size: number }>;
  /** packs that exist in data/ but are in no index file */
  unreferencedPacks: Array<{ path: string; name: string; size: number }>;
  /** index/<id>.packs.json without index/<id> */
  orphanPackLists: string[];
  /** names that are not part of the format (left alone, reported) */
  unknown: string[];
  /** every pack file present: name → size (for the caller's existence and size checks) */
  packsOnDisk: Map<string, { path: string; size: number }>;
}

function ls(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw repoIoError(err, 'list', dir);
  }
}

/** Scans the repository; `referenced` are the pack names listed by index files. */
export function scanGarbage(root: string, referenced: Set<string>): Garbage {
  const g: Garbage = { temps: [], unreferencedPacks: [], orphanPackLists: [], unknown: [], packsOnDisk: new Map() };
  const size = (rel: string) => {
    try {
      return fs.statSync(path.join(root, rel)).size;
    } catch {
      return 0;
    }
  };
  const temp = (rel: string, name: string) => {
    if (!name.startsWith(TEMP_PREFIX)) return false;
    g.temps.push({ path: rel, size: size(rel) });
    return true;
  };
  for (const e of ls(root)) {
    if (temp(e.name, e.name)) continue;
    if ([CONFIG_FILE, SETTINGS_FILE, DATA_DIR, INDEX_DIR, SNAPSHOT_DIR, LOCK_DIR].includes(e.name)) continue;
    g.unknown.push(e.name);
  }
  for (const sub of ls(path.join(root, DATA_DIR))) {
    const subRel = `${DATA_DIR}/${sub.name}`;
    if (temp(subRel, sub.name)) continue;
    if (!sub.isDirectory() || !/^[0-9a-f]{2}$/.test(sub.name)) {
      g.unknown.push(subRel);
      continue;
    }
    for (const f of ls(path.join(root, subRel))) {
      const rel = `${subRel}/${f.name}`;
      if (temp(rel, f.name)) continue;
      if (!f.isFile() || !ID_RE.test(f.name) || !f.name.startsWith(sub.name)) {
        g.unknown.push(rel);
        continue;
      }
      const s = size(rel);
      g.packsOnDisk.set(f.name, { path: rel, size: s });
      if (!referenced.has(f.name)) g.unreferencedPacks.push({ path: rel, name: f.name, size: s });
    }
  }
  const indexNames = new Set(ls(path.join(root, INDEX_DIR)).map((e) => e.name));
  for (const name of indexNames) {
    const rel = `${INDEX_DIR}/${name}`;
    if (temp(rel, name) || ID_RE.test(name)) continue;
    if (name.endsWith(PACK_LIST_SUFFIX) && ID_RE.test(name.slice(0, -PACK_LIST_SUFFIX.length))) {
      if (!indexNames.has(name.slice(0, -PACK_LIST_SUFFIX.length))) g.orphanPackLists.push(rel);
      continue;
    }
    g.unknown.push(rel);
  }
  for (const e of ls(path.join(root, SNAPSHOT_DIR))) {
    const rel = `${SNAPSHOT_DIR}/${e.name}`;
    if (temp(rel, e.name) || ID_RE.test(e.name)) continue;
    g.unknown.push(rel);
  }
  for (const e of ls(path.join(root, LOCK_DIR))) if (!temp(`${LOCK_DIR}/${e.name}`, e.name) && e.name !== 'exclusive') g.unknown.push(`${LOCK_DIR}/${e.name}`);
  return g;
}

/** Deletes temps, orphan pack lists and unreferenced packs (only while holding the repository lock). */
export function removeGarbage(root: string, g: Garbage): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const f of [...g.temps, ...g.unreferencedPacks, ...g.orphanPackLists.map((p) => ({ path: p, size: 0 }))]) {
    try {
      fs.rmSync(path.join(root, f.path), { force: true, recursive: true });
      files++;
      bytes += f.size;
    } catch (err) {
      throw repoIoError(err, 'delete', path.join(root, f.path));
    }
  }
  return { files, bytes };
}
