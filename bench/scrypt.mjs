#!/usr/bin/env node
// The repository's KDF, scrypt N=2^17 r=8 p=1 (docs/format.md §config), timed with node:crypto's
// scrypt and with the addon's at each SIMD level this CPU offers (native/src/scrypt.h), interleaved
// (one run of each per round, so a change in load hits every path alike), each awaited on the libuv
// pool as deriveKey runs it. Prints the median and range per path and the ratio to node:crypto, and
// checks that every path derived the same key.
//   node bench/scrypt.mjs [--runs 7] [--addon build/Release/driveseed.node]   (else $DRIVESEED_NATIVE)
// Measure on a quiet machine: the addon faults V's pages in on a second core when one is free.
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
if (typeof addon.scrypt !== 'function') {
  console.error(`${addonPath} has no scrypt: rebuild it with npm run build:native`);
  process.exit(1);
}

const N = 2 ** 17;
const r = 8;
const p = 1;
const password = Buffer.from('correct horse battery staple', 'utf8');
const salt = crypto.randomBytes(32);

function nodeScrypt() {
  return new Promise((resolve, reject) =>
    crypto.scrypt(password, salt, 32, { N, r, p, maxmem: 2 * 128 * N * r + 2 ** 20 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

// The levels the CPU offers: a cap above the CPU's best reads back as that best.
const levels = ['scalar', 'sse2', 'avx512'].filter((l) => {
  process.env.DRIVESEED_SCRYPT_SIMD = l;
  return addon.scryptImplementation() === l;
});
const paths = [
  { name: 'node:crypto', run: nodeScrypt },
  ...levels.map((l) => ({
    name: `addon ${l}`,
    run: () => {
      process.env.DRIVESEED_SCRYPT_SIMD = l; // read by the addon on the call
      return addon.scrypt(password, salt, N, r, p, 32);
    },
  })),
];

const times = new Map(paths.map((x) => [x.name, []]));
let want;
await nodeScrypt(); // warm-up: OpenSSL's and the addon's first calls pay their one-time set-up
for (let i = 0; i < runs; i++) {
  for (const x of paths) {
    const t0 = performance.now();
    const key = await x.run();
    times.get(x.name).push(performance.now() - t0);
    want ??= key;
    if (!key.equals(want)) {
      console.error(`${x.name} derived a different key`);
      process.exit(1);
    }
  }
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(times.get('node:crypto'));
console.log(`scrypt N=2^17 r=8 p=1, ${runs} interleaved runs each, ${new Date().toISOString()}`);
console.log(
  `${os.cpus()[0]?.model ?? '?'} × ${os.availableParallelism()}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, Node ${process.version}`,
);
for (const x of paths) {
  const t = times.get(x.name);
  const m = median(t);
  console.log(
    `${x.name.padEnd(14)} median ${m.toFixed(1).padStart(6)} ms  (${Math.min(...t).toFixed(1)}–${Math.max(...t).toFixed(1)})  ${(base / m).toFixed(2)}× node:crypto`,
  );
}
