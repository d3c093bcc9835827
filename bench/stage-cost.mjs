#!/usr/bin/env node
// Per-byte CPU cost of each stage of the stage pipeline, one core, on the bench data set.
//   DRIVESEED_NATIVE=build-perf/Release/driveseed.node node bench/stage-cost.mjs [--data bench/data/full] [--mib 64]
// Not a trial (no baseline ratio): it says where the pipeline's CPU goes and so what bounds
// "pipeline ≥ 0.9× zstd -T0" on this machine. Every figure is CPU time (user+sys of this process,
// process.cpuUsage, or of the zstd child via /usr/bin/time) divided by bytes: immune to other load on a
// shared machine except through cache and frequency effects. The addon's one-shot functions run the
// same C++ (crypto.cc, codec.cc, chunker.cc) as packJob, on the JS thread, plus one output copy.
// cycles/byte = ns/byte × the nominal clock from /proc/cpuinfo (the VM exposes no PMU to perf).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const MiB = 1 << 20;
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const DATA = path.resolve(opt('--data', 'bench/data/full'));
const PER_CLASS = Number(opt('--mib', '64')) * MiB;
const addonPath = process.env.DRIVESEED_NATIVE;
if (!addonPath) throw new Error('set DRIVESEED_NATIVE to the addon to measure');
const n = createRequire(import.meta.url)(path.resolve(addonPath));
const GHz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 0) / 1000;

function listFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// Compressible: the text, binary-record and source/small-file kinds in proportion; incompressible: random.
function classFiles(kind) {
  if (kind === 'incompressible') return listFiles(path.join(DATA, 'random'));
  const dirs = ['text', 'bin', 'src', 'small'];
  const lists = dirs.map((d) => listFiles(path.join(DATA, d)));
  const out = []; // interleave so that a prefix of PER_CLASS bytes holds every kind
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]);
  return out;
}

function load(kind) {
  const files = classFiles(kind);
  const quota = PER_CLASS / 4; // per directory kind for compressible, so no kind dominates
  const bufs = [];
  let total = 0;
  const taken = new Map();
  for (const f of files) {
    const d = path.relative(DATA, f).split(path.sep)[0];
    const t = taken.get(d) ?? 0;
    if (kind === 'compressible' && t >= quota) continue;
    const want = Math.min(fs.statSync(f).size, PER_CLASS - total, kind === 'compressible' ? quota - t : Infinity);
    if (want <= 0) continue;
    const b = Buffer.alloc(want);
    const fd = fs.openSync(f, 'r');
    fs.readSync(fd, b, 0, want, 0);
    fs.closeSync(fd);
    bufs.push(b);
    taken.set(d, t + want);
    total += want;
    if (total >= PER_CLASS) break;
  }
  return { data: Buffer.concat(bufs), files };
}

// CPU ns per call of fn() repeated until at least minCpu seconds; returns ns per byte of `bytes`.
function cost(bytes, fn, minCpu = 0.4) {
  fn(); // warm: contexts, page faults of the first output buffers
  let reps = 0;
  const c0 = process.cpuUsage();
  let c;
  do {
    fn();
    reps++;
    c = process.cpuUsage(c0);
  } while ((c.user + c.system) / 1e6 < minCpu);
  return ((c.user + c.system) * 1000) / (reps * bytes);
}

function zstdCli(file, threads) {
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %e', 'zstd', '-q', '-3', `-T${threads}`, '-f', '-c', file], { encoding: 'buffer', maxBuffer: 1 << 30 });
  const [u, s, e] = r.stderr.toString().trim().split('\n').pop().split(' ').map(Number);
  return { cpu: u + s, wall: e, out: r.stdout.length };
}

const keys = { dataKey: crypto.randomBytes(32), idKey: crypto.randomBytes(32), idScheme: 'blake3' };
const nonce = crypto.randomBytes(12);
const chunker = { min: 512 * 1024, avg: MiB, max: 8 * MiB };
const rows = [];
for (const kind of ['compressible', 'incompressible']) {
  const { data } = load(kind);
  const bytes = data.length;
  const lengths = n.chunkLengths(data, chunker);
  const chunks = [];
  for (let off = 0, i = 0; i < lengths.length; off += lengths[i++]) chunks.push(data.subarray(off, off + lengths[i]));
  const compressed = chunks.map((c) => n.zstdCompress(c, 3));
  const packed = Buffer.concat(chunks.map((c, _i) => n.encodeBlob(c, keys, 3).blob));
  const ratio = bytes / packed.length;

  // read: pread of page-cached files in 256 KiB pieces (what packJob's readers do)
  const tmp = path.join(os.tmpdir(), `stage-cost-${process.pid}`);
  fs.writeFileSync(tmp, data);
  const rbuf = Buffer.allocUnsafe(256 * 1024);
  const read = cost(bytes, () => {
    const fd = fs.openSync(tmp, 'r');
    for (let o = 0; o < bytes; o += fs.readSync(fd, rbuf, 0, rbuf.length, o));
    fs.closeSync(fd);
  });
  const cdc = cost(bytes, () => n.chunkLengths(data, chunker));
  // the chunk id of format version 2 (version 1 repositories: HMAC-SHA-256, about 3× this)
  const id = cost(bytes, () => {
    for (const c of chunks) n.blake3(c, keys.idKey);
  });
  const zstd = cost(bytes, () => {
    for (const c of chunks) n.zstdCompress(c, 3);
  });
  // GCM runs over what is stored (compressed or raw); per raw byte it costs that much less
  const stored = compressed.map((z, i) => (z.length < chunks[i].length ? z : chunks[i]));
  const gcm = cost(bytes, () => {
    for (const s of stored) n.aesGcmEncrypt(keys.dataKey, nonce, s);
  });
  const encodeBlob = cost(bytes, () => {
    for (const c of chunks) n.encodeBlob(c, keys, 3);
  });
  // every 4 MiB block of pack, on the multi-buffer path as packJob's batches (the pack's name is
  // derived from these MD5s: no other hash runs over the pack)
  const md5 = cost(bytes, () => n.md5Blocks(packed, 4 * MiB));
  const write = cost(bytes, () => {
    const fd = fs.openSync(tmp + '.w', 'w');
    for (let o = 0; o < packed.length; o += 4 * MiB) fs.writeSync(fd, packed, o, Math.min(4 * MiB, packed.length - o));
    fs.closeSync(fd);
  });
  // zstd CLI on the same bytes: -T1 is its per-core cost, -T0 what the goal compares against
  const z1 = zstdCli(tmp, 1),
    z0 = zstdCli(tmp, 0);
  fs.rmSync(tmp, { force: true });
  fs.rmSync(tmp + '.w', { force: true });
  rows.push({
    kind,
    MiB: bytes / MiB,
    chunks: chunks.length,
    ratio,
    read,
    cdc,
    id,
    zstd,
    gcm,
    encodeBlob,
    md5,
    write,
    zstdT1: (z1.cpu * 1e9) / bytes,
    zstdT0: (z0.cpu * 1e9) / bytes,
    zstdT0wall: (z0.wall * 1e9) / bytes,
    zstdRatio: bytes / z0.out,
  });
}

const stages = [
  ['read', 'read (pread 256 KiB, page cache)'],
  ['cdc', 'FastCDC (512K/1M/8M)'],
  ['id', 'keyed BLAKE3 id (raw bytes)'],
  ['zstd', 'zstd -3, one CCtx per thread, per chunk'],
  ['gcm', 'AES-256-GCM (stored bytes)'],
  ['md5', 'MD5 per 4 MiB block (packed bytes)'],
  ['write', 'write (4 MiB pwrite, page cache)'],
];
const f = (x) => x.toFixed(2);
const lines = [];
lines.push(`| stage | ${rows.map((r) => `${r.kind} ns/B | cyc/B`).join(' | ')} |`);
lines.push(`|---|${rows.map(() => '---:|---:').join('|')}|`);
let sums = rows.map(() => 0);
for (const [k, label] of stages) {
  lines.push(`| ${label} | ${rows.map((r) => `${f(r[k])} | ${f(r[k] * GHz)}`).join(' | ')} |`);
  sums = sums.map((s, i) => s + rows[i][k]);
}
lines.push(`| **sum of stages** | ${sums.map((s) => `**${f(s)}** | **${f(s * GHz)}**`).join(' | ')} |`);
lines.push(`| encodeBlob (zstd + GCM + nonce, one call) | ${rows.map((r) => `${f(r.encodeBlob)} | ${f(r.encodeBlob * GHz)}`).join(' | ')} |`);
lines.push(`| zstd CLI -3 -T1 (CPU) | ${rows.map((r) => `${f(r.zstdT1)} | ${f(r.zstdT1 * GHz)}`).join(' | ')} |`);
lines.push(`| zstd CLI -3 -T0 (CPU, both cores) | ${rows.map((r) => `${f(r.zstdT0)} | ${f(r.zstdT0 * GHz)}`).join(' | ')} |`);
console.log(
  `data: ${DATA}; ${rows.map((r) => `${r.kind} ${r.MiB.toFixed(0)} MiB, ${r.chunks} chunks, packed ratio ${r.ratio.toFixed(3)}, zstd CLI ratio ${r.zstdRatio.toFixed(3)}`).join('; ')}`,
);
console.log(
  `clock ${GHz.toFixed(3)} GHz nominal; load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; node ${process.version}; addon ${addonPath}`,
);
console.log(lines.join('\n'));
if (args.includes('--json')) console.log(JSON.stringify(rows));
