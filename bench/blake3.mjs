#!/usr/bin/env node
// Chunk-id hash candidates on one core: the addon's keyed BLAKE3 at each SIMD level this CPU offers
// (native/src/blake3.h), the addon's HMAC-SHA-256 (today's chunk id, docs/format-packs.md) and
// node:crypto's SHA-256 as a reference, over 64 KiB, 1 MiB and 8 MiB buffers of random bytes. Every
// call runs on the JS thread; a sample hashes the same buffer over and over, about 64 MiB in all.
// Rounds are interleaved (one sample of each path and size per round, so a change in load hits
// every path alike); prints the median ns per byte and GB/s (10^9 bytes per second) of each, and
// checks that every BLAKE3 level gave the same id.
//   node bench/blake3.mjs [--runs 7] [--sizes 65536,1048576,8388608] [--addon build/Release/driveseed.node]
//   (else $DRIVESEED_NATIVE)
// Measure on a quiet machine: the numbers are one core's.
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
function opt(name, dflt) {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
}
const runs = Number(opt('--runs', '7'));
const addonPath = path.resolve(opt('--addon', process.env.DRIVESEED_NATIVE || path.join(ROOT, 'build', 'Release', 'driveseed.node')));
const addon = createRequire(import.meta.url)(addonPath);
if (typeof addon.blake3 !== 'function') {
  console.error(`${addonPath} has no blake3: rebuild it with npm run build:native`);
  process.exit(1);
}

const KiB = 1024;
const MiB = 1024 * KiB;
const SAMPLE = 64 * MiB;
const sizes = opt('--sizes', `${64 * KiB},${MiB},${8 * MiB}`)
  .split(',')
  .map(Number);
const key = crypto.randomBytes(32);

// The levels the CPU offers: a cap above the CPU's best reads back as that best.
const levels = ['scalar', 'avx2', 'avx512'].filter((l) => {
  process.env.DRIVESEED_BLAKE3 = l;
  return addon.blake3Level() === l;
});
const paths = [
  ...levels.map((l) => ({
    name: `blake3 keyed ${l}`,
    setup: () => {
      process.env.DRIVESEED_BLAKE3 = l; // read by the addon on each call
    },
    run: (buf) => addon.blake3(buf, key),
    blake3: true,
  })),
  { name: 'hmacSha256 (addon)', run: (buf) => addon.hmacSha256(key, buf) },
  { name: 'node:crypto sha256', run: (buf) => crypto.createHash('sha256').update(buf).digest() },
];

const bufs = new Map(sizes.map((s) => [s, crypto.randomBytes(s)]));
const times = new Map(); // `${path}|${size}` → ns per byte of each sample
for (const x of paths) for (const s of sizes) times.set(`${x.name}|${s}`, []);

// Warm-up: first calls, page faults.
for (const x of paths) {
  x.setup?.();
  for (const s of sizes) x.run(bufs.get(s));
}
for (let i = 0; i < runs; i++) {
  for (const s of sizes) {
    const buf = bufs.get(s);
    const reps = Math.max(1, Math.round(SAMPLE / s));
    let want;
    for (const x of paths) {
      let id;
      x.setup?.();
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) id = x.run(buf);
      const ns = Number(process.hrtime.bigint() - t0);
      times.get(`${x.name}|${s}`).push(ns / (reps * s));
      if (x.blake3) {
        want ??= id;
        if (!id.equals(want)) {
          console.error(`${x.name} gave a different id for ${s} bytes`);
          process.exit(1);
        }
      }
    }
  }
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const label = (s) => (s >= MiB ? `${s / MiB} MiB` : s >= KiB ? `${s / KiB} KiB` : `${s} B`);
console.log(`chunk-id hashes on one core, ${runs} interleaved samples of ~64 MiB each, medians, ${new Date().toISOString()}`);
console.log(
  `${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism()}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, Node ${process.version}`,
);
console.log(`| path | ${sizes.map((s) => `${label(s)} ns/B | GB/s`).join(' | ')} |`);
console.log(`|---|${sizes.map(() => '---:|---:').join('|')}|`);
for (const x of paths) {
  const cells = sizes.map((s) => {
    const m = median(times.get(`${x.name}|${s}`));
    return `${m.toFixed(3)} | ${(1 / m).toFixed(2)}`;
  });
  console.log(`| ${x.name} | ${cells.join(' | ')} |`);
}
for (const s of sizes) {
  const hmac = median(times.get(`hmacSha256 (addon)|${s}`));
  const ratios = levels.map((l) => `${l} ${(hmac / median(times.get(`blake3 keyed ${l}|${s}`))).toFixed(2)}×`);
  console.log(`${label(s)}: blake3 keyed against hmacSha256: ${ratios.join(', ')}`);
}
