/**
 * Fixtures for the stage/check/restore tests: a source tree with the awkward cases, a collecting
 * reporter, a command context, and a tree comparison that covers contents and metadata.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CommandContext } from '../src/core/command';
import type { Progress, Reporter } from '../src/base/reporter';
import { Secret } from '../src/base/secret';
import type { PassphraseSource } from '../src/core/passphrase';

export const PASS = 'correct horse battery staple';
export const passphrase = (p = PASS): PassphraseSource => ({ kind: 'param', secret: new Secret(p) });
/** Tests create repositories with a cheaper scrypt (recorded in config); the CLI tests use the default. */
export const FAST_KDF = { kdf: { N: 2 ** 12, r: 8, p: 1 } };

export interface Collected extends Reporter {
  warnings: Array<{ code: string; message: string; details?: Record<string, unknown> }>;
  infos: string[];
  events: Array<{ type: string; data: Record<string, unknown> }>;
  progress: (p: Progress) => void;
  lastProgress?: Progress;
}

export function collector(): Collected {
  const c: Collected = {
    warnings: [],
    infos: [],
    events: [],
    progress(p) {
      c.lastProgress = p;
    },
    warning(code, message, details) {
      c.warnings.push({ code, message, ...(details ? { details } : {}) });
    },
    info(message) {
      c.infos.push(message);
    },
    event(type, data) {
      c.events.push({ type, data });
    },
  };
  return c;
}

export function context(reporter: Reporter = collector()): CommandContext {
  return { reporter, signal: new AbortController().signal, env: {} };
}

/** Deterministic pseudo-random bytes (compressible data would hide chunking behaviour). */
export function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, Math.min(i, n - 4));
  }
  return out;
}

/** Builds the awkward tree under `root/src` and returns the source path. */
export function makeTree(root: string): string {
  const src = path.join(root, 'src');
  fs.mkdirSync(src, { recursive: true });
  const w = (rel: string, data: Buffer | string, mode?: number) => {
    const p = path.join(src, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    if (mode !== undefined) fs.chmodSync(p, mode);
    return p;
  };
  w('héllo wörld ✓.txt', 'unicode and spaces\n');
  w('name with spaces/and more spaces.bin', randomBytes(1000));
  w('日本語/ファイル.txt', 'japanese\n', 0o640);
  let deep = '';
  for (let i = 0; i < 40; i++) deep = path.join(deep, `level-${i}`);
  w(path.join(deep, 'deep.txt'), 'deep file\n');
  w('empty', '');
  w('big.bin', noise(6 * 1024 * 1024 + 12345, 7));
  w('exec.sh', '#!/bin/sh\necho hi\n', 0o755);
  // Sparse: 8 MiB with 4 KiB of data at 5 MiB; holes before and after.
  const sparse = path.join(src, 'sparse.img');
  fs.writeFileSync(sparse, '');
  fs.truncateSync(sparse, 8 * 1024 * 1024);
  const fd = fs.openSync(sparse, 'r+');
  fs.writeSync(fd, noise(4096, 3), 0, 4096, 5 * 1024 * 1024);
  fs.closeSync(fd);
  fs.symlinkSync('héllo wörld ✓.txt', path.join(src, 'link-to-hello'));
  fs.symlinkSync('/nonexistent/target path', path.join(src, 'dangling link'));
  fs.linkSync(w('hard/a.txt', 'hard linked content\n'), path.join(src, 'hard', 'b.txt'));
  fs.mkdirSync(path.join(src, 'empty dir'));
  fs.chmodSync(path.join(src, 'empty dir'), 0o750);
  const t = new Date('2021-03-04T05:06:07.123Z');
  fs.utimesSync(path.join(src, 'héllo wörld ✓.txt'), t, t);
  fs.lutimesSync(path.join(src, 'link-to-hello'), t, t);
  return src;
}

export interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  size: number;
  sha?: string;
  target?: string;
  /** the first path (sorted) sharing this inode, for hard links */
  linkGroup?: string;
  blocks?: number;
}

/** Every entry under `dir` by relative path, with content hashes and metadata; symlinks not followed. */
export function describe(dir: string, opts: { dirMtime?: boolean } = {}): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const inodes = new Map<string, string>();
  const visit = (rel: string) => {
    const full = path.join(dir, rel);
    const st = fs.lstatSync(full);
    const e: Entry = {
      type: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtimeMs: Math.floor(st.mtimeMs),
      size: st.isDirectory() ? 0 : st.size,
    };
    if (st.isDirectory() && !opts.dirMtime) e.mtimeMs = 0;
    if (st.isSymbolicLink()) {
      e.target = fs.readlinkSync(full);
      e.mode = 0; // symlink modes are not settable on Linux
    }
    if (st.isFile()) {
      e.sha = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
      e.blocks = st.blocks;
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (!inodes.has(key)) inodes.set(key, rel);
        e.linkGroup = inodes.get(key)!;
      }
    }
    if (rel) out.set(rel, e);
    if (st.isDirectory()) for (const n of fs.readdirSync(full).sort()) visit(rel ? path.join(rel, n) : n);
  };
  visit('');
  return out;
}
