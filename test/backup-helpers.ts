// Shared setup for the backup tests: a private Azurite, a staged and "imported" (uploaded as the
// service would) repository, and byte counts of what is stored in the container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AzuriteHandle } from '../src/cloud/azurite';
import type { CloudLocation } from '../src/cloud/client';
import { containerClientFor, describeLocation } from '../src/cloud/client';
import { ContainerBackend } from '../src/cloud/container-backend';
import { uploadRepository } from '../src/cloud/seed';
import type { CommandContext } from '../src/core/command';
import type { Reporter } from '../src/base/reporter';
import { Secret } from '../src/base/secret';
import { updateSettings } from '../src/core/settings';
import { stage } from '../src/core/stage';
import { tmpDir } from './helpers';

export const PASS = new Secret('backup test passphrase');

export interface Recorded extends Reporter {
  warnings: Array<{ code: string; message: string }>;
  infos: string[];
  /** progress phases seen, in first-seen order */
  phases: string[];
}
export function recorder(onInfo?: (m: string) => void): Recorded {
  const warnings: Array<{ code: string; message: string }> = [];
  const infos: string[] = [];
  const phases: string[] = [];
  return {
    warnings,
    infos,
    phases,
    progress(p) {
      if (!phases.includes(p.phase)) phases.push(p.phase);
    },
    event() {},
    info(m) {
      infos.push(m);
      onInfo?.(m);
    },
    warning(code, message) {
      warnings.push({ code, message });
    },
  };
}

export function ctxWith(reporter: Reporter = recorder(), signal: AbortSignal = new AbortController().signal): CommandContext {
  return { reporter, signal, env: {} };
}

/** Deterministic pseudo-random bytes (xorshift), so sizes are reproducible and incompressible. */
export function prng(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  for (let i = n - (n % 4); i < n; i++) b[i] = i & 0xff;
  return b;
}

/**
 * Stages `source` into a fresh staging dir, uploads it into `container` as the import would, marks the
 * seed complete and deletes the staging's repository data (which `complete` allows), unless `keepData`.
 */
export async function seededRepo(
  azurite: AzuriteHandle,
  source: string,
  container: string,
  { keepData = false }: { keepData?: boolean } = {},
): Promise<{ staging: string; location: CloudLocation; backend: ContainerBackend }> {
  const staging = tmpDir('driveseed-backup-staging-');
  await stage(
    {
      sources: [source],
      staging,
      settings: { job: 'backup-test', account: 'devstoreaccount1', container },
      passphrase: { kind: 'param', secret: PASS },
      level: 3,
      threads: 2,
      init: { kdf: { N: 1024, r: 8, p: 1 } },
    },
    ctxWith(),
  );
  const location = azurite.location(container);
  const backend = new ContainerBackend(containerClientFor(location), describeLocation(location));
  await backend.ensureContainer();
  await uploadRepository(staging, backend);
  updateSettings(staging, { blobEndpoint: azurite.blobEndpoint, seed: { state: 'complete', completed: new Date().toISOString() } });
  // After `complete` the staging data may be deleted: later commands must work from the container alone.
  if (!keepData) for (const n of ['config', 'data', 'index', 'snapshots']) fs.rmSync(path.join(staging, n), { recursive: true, force: true });
  return { staging, location, backend };
}

/** Every blob in the container with its size. */
export async function blobSizes(backend: ContainerBackend): Promise<Map<string, number>> {
  return new Map((await backend.list('')).map((e) => [e.path, e.size]));
}

/** Bytes in blobs that are in `after` and not in `before` (the repository only adds blobs). */
export function addedBytes(before: Map<string, number>, after: Map<string, number>): { bytes: number; blobs: string[] } {
  const blobs = [...after.keys()].filter((k) => !before.has(k) && !k.startsWith('locks/'));
  return { bytes: blobs.reduce((a, k) => a + after.get(k)!, 0), blobs };
}

/** Relative path → content for every regular file under `dir`, and symlink targets. */
export function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p, r);
      else if (st.isSymbolicLink()) out.set(r, `-> ${fs.readlinkSync(p)}`);
      else out.set(r, require('node:crypto').createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(dir, '');
  return out;
}
