// The demo's sample data set: text, binary-like records, random bytes, zeros, many small files, a
// sparse file, a symlink and a file with restrictive permissions, scaled to about `mib` MiB of
// real data. Deterministic layout; contents come from a seeded generator or crypto.randomBytes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const MiB = 1024 * 1024;
const WORDS =
  'azure offline seeding drive manifest block blob import export staging repository snapshot chunk pack index restore backup network carrier datacenter verify repair'.split(
    ' ',
  );

function textChunk(bytes, seed) {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const parts = [];
  let n = 0;
  while (n < bytes) {
    const line = `${String(next() % 100000).padStart(5, '0')} ${Array.from({ length: 8 + (next() % 8) }, () => WORDS[next() % WORDS.length]).join(' ')}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

function recordChunk(bytes, seed) {
  // fixed-size records with counters, timestamps and a few random bytes: compressible, not trivially
  const b = Buffer.alloc(bytes);
  const rnd = randomBytes(Math.ceil(bytes / 64) * 4);
  for (let off = 0, i = 0; off + 64 <= bytes; off += 64, i++) {
    b.writeUInt32LE(seed + i, off);
    b.writeDoubleLE(1.7e12 + i * 1000, off + 8);
    rnd.copy(b, off + 16, i * 4, i * 4 + 4);
    b.write('record', off + 24, 'latin1');
  }
  return b;
}

function writeBig(file, bytes, make) {
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0, i = 0; off < bytes; off += 4 * MiB, i++) fs.writeSync(fd, make(Math.min(4 * MiB, bytes - off), i));
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates the data set under `dir` (which must not exist); returns {files, bytes}. */
export function generate(dir, mib) {
  const unit = Math.max(1, Math.floor(mib / 16)) * MiB; // 1/16 of the set
  fs.mkdirSync(path.join(dir, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'db'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'media'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'vm'), { recursive: true });
  writeBig(path.join(dir, 'docs', 'journal.txt'), 2 * unit, (n, i) => textChunk(n, i + 1));
  writeBig(path.join(dir, 'docs', 'notes.txt'), unit, (n, i) => textChunk(n, i + 1000));
  writeBig(path.join(dir, 'db', 'records.bin'), 3 * unit, (n, i) => recordChunk(n, i * 65536));
  writeBig(path.join(dir, 'media', 'video.raw'), 5 * unit, (n) => randomBytes(n));
  writeBig(path.join(dir, 'media', 'photo.raw'), unit, (n) => randomBytes(n));
  writeBig(path.join(dir, 'vm', 'zeros.img'), 2 * unit, (n) => Buffer.alloc(n));
  // sparse: 8 units apparent size, two 1 MiB data regions
  const sparse = path.join(dir, 'vm', 'sparse.img');
  fs.writeFileSync(sparse, '');
  fs.truncateSync(sparse, 8 * unit);
  const fd = fs.openSync(sparse, 'r+');
  fs.writeSync(fd, randomBytes(MiB), 0, MiB, unit);
  fs.writeSync(fd, textChunk(MiB, 7), 0, MiB, 6 * unit);
  fs.closeSync(fd);
  // many small files
  const smallCount = Math.max(200, Math.floor(mib * 6));
  for (let i = 0; i < smallCount; i++) {
    const d = path.join(dir, 'small', String(i % 37).padStart(2, '0'));
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `f${i}.txt`), i % 3 === 0 ? randomBytes(512 + (i % 7000)) : textChunk(256 + ((i * 131) % 8000), i));
  }
  fs.writeFileSync(path.join(dir, 'docs', 'secret.txt'), 'not for everyone\n', { mode: 0o600 });
  fs.chmodSync(path.join(dir, 'docs', 'secret.txt'), 0o600);
  fs.symlinkSync('journal.txt', path.join(dir, 'docs', 'latest'));
  fs.writeFileSync(path.join(dir, 'empty'), '');
  return stats(dir);
}

/** Files and bytes (apparent sizes) under dir. */
export function stats(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += fs.statSync(p).size;
      } else files++;
    }
  };
  walk(dir);
  return { files, bytes };
}

/** Changes part of the data set like a day of work: edits in the middle of a big file, a new file, a deleted file, appended text. */
export function change(dir) {
  const db = path.join(dir, 'db', 'records.bin');
  const size = fs.statSync(db).size;
  const fd = fs.openSync(db, 'r+');
  fs.writeSync(fd, randomBytes(MiB), 0, MiB, Math.floor(size / 2));
  fs.closeSync(fd);
  fs.appendFileSync(path.join(dir, 'docs', 'notes.txt'), textChunk(256 * 1024, 99));
  fs.writeFileSync(path.join(dir, 'docs', 'new-report.txt'), textChunk(512 * 1024, 4242));
  fs.rmSync(path.join(dir, 'small', '00', 'f0.txt'));
  return { changedBytes: MiB + 256 * 1024 + 512 * 1024 };
}
