// A crash-safe record of what a trial process attached or mounted (bench/out/.ledger-<pid>.json).
// The trial cleans up after itself; when it dies without running its exit handlers (a native abort,
// SIGKILL), bench/run.mjs replays the ledger: it unmounts the mountpoints and detaches the loop
// devices listed there, and only while a device still points at the image the trial created.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const OUT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'out');

export function ledgerPath(pid = process.pid) {
  return path.join(OUT_DIR, `.ledger-${pid}.json`);
}

function read(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}

export function ledgerAdd(entry) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = ledgerPath();
  const all = read(file);
  all.push(entry);
  fs.writeFileSync(file, JSON.stringify(all));
}

export function ledgerRemove(match) {
  const file = ledgerPath();
  const left = read(file).filter((e) => !(e.type === match.type && e.key === match.key));
  if (left.length) fs.writeFileSync(file, JSON.stringify(left));
  else fs.rmSync(file, { force: true });
}

/** Releases everything a dead trial process left in its ledger (newest first). Returns what it did. */
export function replayLedger(pid) {
  const file = ledgerPath(pid);
  const done = [];
  for (const e of read(file).reverse()) {
    if (e.type === 'mount') {
      spawnSync('umount', [e.key]);
      fs.rmSync(e.key, { recursive: true, force: true });
      done.push(`unmounted ${e.key}`);
    } else if (e.type === 'loop') {
      const r = spawnSync('losetup', ['-n', '-O', 'BACK-FILE', e.key], { encoding: 'utf8' });
      if (r.status === 0 && r.stdout.trim().startsWith(e.image)) {
        spawnSync('losetup', ['-d', e.key]);
        done.push(`detached ${e.key}`);
      }
    } else if (e.type === 'path') {
      fs.rmSync(e.key, { recursive: true, force: true });
      done.push(`removed ${e.key}`);
    }
  }
  fs.rmSync(file, { force: true });
  return done;
}
