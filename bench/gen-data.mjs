#!/usr/bin/env node
// Deterministic benchmark data set: the same seed and spec give the same bytes on every machine.
//   node bench/gen-data.mjs [--quick] [--dir <dir>] [--seed <text>] [--force]
// Default: about 2.6 GiB apparent (2.2 GiB allocated) in bench/data/full; --quick: about 520 MiB
// apparent (400 MiB allocated) in bench/data/quick. Writes <dir>/manifest.json last (atomically), and
// skips all work when a manifest with the same spec hash exists and every file has its size.
// Kinds: text (logs, CSV, source-like code: compressible), binary (structured records:
// semi-compressible), random (incompressible), zero (zero-filled, allocated), sparse (holes with data
// islands), small (many small files of mixed content, some empty).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const GEN_VERSION = 1;
const MiB = 1024 * 1024;
const KiB = 1024;
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

// ---- the spec -----------------------------------------------------------------------------------

function spec(quick) {
  const q = (full, small) => (quick ? small : full);
  return [
    { kind: 'text', gen: 'log', dir: 'text', name: 'app-%d.log', count: q(4, 2), size: q(96 * MiB, 40 * MiB) },
    { kind: 'text', gen: 'csv', dir: 'text', name: 'orders-%d.csv', count: q(2, 1), size: q(64 * MiB, 24 * MiB) },
    // many small files: source-like code in nested directories
    { kind: 'text', gen: 'code', dir: 'src', name: 'mod%d/file-%d.ts', count: q(3000, 800), sizeRange: [200, 48 * KiB], perDir: 100 },
    { kind: 'binary', gen: 'records', dir: 'bin', name: 'records-%d.dat', count: q(3, 2), size: q(128 * MiB, 40 * MiB) },
    // the large random file is also the source of the write trial (multiple of 4 MiB on purpose)
    { kind: 'random', gen: 'random', dir: 'random', name: 'large.bin', count: 1, size: q(768 * MiB, 192 * MiB), role: 'write-source' },
    { kind: 'random', gen: 'random', dir: 'random', name: 'medium-%d.bin', count: 2, size: q(64 * MiB, 16 * MiB) },
    // a length that is not a multiple of any sector size
    { kind: 'random', gen: 'random', dir: 'random', name: 'unaligned.bin', count: 1, size: q(33 * MiB + 12345, 5 * MiB + 123) },
    { kind: 'zero', gen: 'zero', dir: 'zero', name: 'zeros.bin', count: 1, size: q(256 * MiB, 32 * MiB) },
    { kind: 'sparse', gen: 'sparse', dir: 'sparse', name: 'disk.img', count: 1, size: q(512 * MiB, 128 * MiB), island: q(4 * MiB, 1 * MiB) },
    { kind: 'small', gen: 'small', dir: 'small', name: 'd%d/f-%d', count: q(4000, 1000), sizeRange: [0, 16 * KiB], perDir: 200 },
  ];
}

// ---- PRNG: sfc32 seeded from SHA-256 of (seed, stream name) -------------------------------------

function prng(seed, stream) {
  const h = crypto.createHash('sha256').update(`${seed}\0${stream}`).digest();
  let a = h.readUInt32LE(0),
    b = h.readUInt32LE(4),
    c = h.readUInt32LE(8),
    d = h.readUInt32LE(12);
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  const r = {
    u32: next,
    float: () => next() / 4294967296,
    int: (n) => Math.floor((next() / 4294967296) * n),
    pick: (arr) => arr[Math.floor((next() / 4294967296) * arr.length)],
    hex: (n) => {
      let s = '';
      while (s.length < n) s += next().toString(16).padStart(8, '0');
      return s.slice(0, n);
    },
  };
  return r;
}

/** Incompressible bytes: AES-256-CTR keystream keyed by SHA-256(seed, stream). Deterministic and fast. */
function randomStream(seed, stream) {
  const key = crypto.createHash('sha256').update(`${seed}\0${stream}\0key`).digest();
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => cipher.update(Buffer.alloc(n));
}

// ---- content generators: each returns fill(n) → Buffer of exactly n bytes, stateful -------------

const WORDS = 'the of and to in is for on with as by at from that this be are was it not or an have which'.split(' ');
const SERVICES = ['api', 'auth', 'billing', 'search', 'ingest', 'scheduler', 'storage', 'mailer'];
const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN', 'ERROR'];
const PATHS = ['/api/v1/items', '/api/v1/orders', '/api/v2/users', '/healthz', '/api/v1/blobs', '/login', '/static/app.js'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const REGIONS = ['westeurope', 'northeurope', 'eastus', 'eastus2', 'westus2', 'uksouth', 'japaneast'];
const PRODUCTS = ['disk-8tb', 'disk-4tb', 'ssd-2tb', 'cable-sata', 'enclosure', 'label-pack', 'shipping-box'];
const STATUSES = ['shipped', 'pending', 'delivered', 'cancelled', 'returned'];
const IDENTS = [
  'buffer',
  'offset',
  'length',
  'chunk',
  'pack',
  'index',
  'target',
  'device',
  'reader',
  'writer',
  'state',
  'options',
  'result',
  'error',
  'count',
  'total',
  'digest',
  'queue',
];
const TYPES = ['number', 'string', 'Buffer', 'boolean', 'Uint8Array', 'Promise<void>', 'ChunkRef[]'];

function textFill(makeLine) {
  let pending = Buffer.alloc(0);
  return (n) => {
    const parts = [pending];
    let have = pending.length;
    while (have < n) {
      let s = '';
      for (let i = 0; i < 2000; i++) s += makeLine();
      const b = Buffer.from(s, 'latin1');
      parts.push(b);
      have += b.length;
    }
    const all = Buffer.concat(parts, have);
    pending = all.subarray(n);
    return all.subarray(0, n);
  };
}

function logGen(r) {
  let t = Date.UTC(2026, 10, 1);
  return textFill(() => {
    t += r.int(40);
    const ts = new Date(t).toISOString();
    const lvl = r.pick(LEVELS);
    const svc = r.pick(SERVICES);
    if (lvl === 'ERROR' && r.int(2) === 0) {
      return `${ts} ${lvl.padEnd(5)} [${svc}-${r.int(8)}] unhandled error: ${r.pick(WORDS)} ${r.pick(IDENTS)} ${r.pick(WORDS)} failed code=E${r.int(900) + 100} trace=${r.hex(16)}\n    at ${r.pick(IDENTS)}.${r.pick(IDENTS)} (src/${r.pick(IDENTS)}.ts:${r.int(900)}:${r.int(80)})\n`;
    }
    return `${ts} ${lvl.padEnd(5)} [${svc}-${r.int(8)}] http.request method=${r.pick(METHODS)} path=${r.pick(PATHS)}/${r.int(100000)} status=${r.int(20) ? 200 : r.pick([404, 500, 503, 302])} bytes=${r.int(65536)} dur_ms=${(r.float() * 200).toFixed(1)} user=${r.pick(USERS)} trace=${r.hex(16)}\n`;
  });
}

function csvGen(r) {
  let id = 1000000;
  let t = Date.UTC(2025, 0, 1);
  let header = 'order_id,created_at,customer,region,product,quantity,unit_price,total,status\n';
  const line = () => {
    id++;
    t += r.int(60000);
    const qty = 1 + r.int(20);
    const price = (5 + r.float() * 495).toFixed(2);
    const s = `${header}${id},${new Date(t).toISOString()},${r.pick(USERS)}-${r.int(5000)},${r.pick(REGIONS)},${r.pick(PRODUCTS)},${qty},${price},${(qty * price).toFixed(2)},${r.pick(STATUSES)}\n`;
    header = '';
    return s;
  };
  return textFill(line);
}

function codeGen(r) {
  let depth = 0;
  return textFill(() => {
    const ind = '  '.repeat(depth);
    const k = r.int(12);
    if (depth === 0 || k === 0) {
      depth = 1;
      return `\n/** ${r.pick(WORDS)} ${r.pick(IDENTS)} ${r.pick(WORDS)} ${r.pick(IDENTS)}. */\nexport function ${r.pick(IDENTS)}${r.pick(IDENTS).replace(/^./, (c) => c.toUpperCase())}(${r.pick(IDENTS)}: ${r.pick(TYPES)}, ${r.pick(IDENTS)}: ${r.pick(TYPES)}): ${r.pick(TYPES)} {\n`;
    }
    if (k === 1 && depth < 4) {
      depth++;
      return `${ind}if (${r.pick(IDENTS)}.${r.pick(IDENTS)} > ${r.int(4096)}) {\n`;
    }
    if (k === 2 && depth > 1) {
      depth--;
      return `${'  '.repeat(depth)}}\n`;
    }
    if (k === 3) return `${ind}// ${r.pick(WORDS)} ${r.pick(IDENTS)} ${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(IDENTS)}\n`;
    if (k === 4) return `${ind}return ${r.pick(IDENTS)} + ${r.int(512)};\n`;
    return `${ind}const ${r.pick(IDENTS)}${r.int(10)} = ${r.pick(IDENTS)}.${r.pick(IDENTS)}(${r.pick(IDENTS)}, ${r.int(65536)});\n`;
  });
}

/** 64-byte records: id, timestamp, type, value (random walk), tag (ASCII), 16 random bytes. */
function recordsGen(r, rnd) {
  const REC = 64;
  let id = 1n;
  let ts = BigInt(Date.UTC(2026, 0, 1)) * 1000n;
  let value = 100.0;
  const tags = ['sensor.temp', 'sensor.hum', 'disk.iops', 'disk.lat', 'net.rx', 'net.tx'].map((s) => Buffer.from(s.padEnd(16, '\0')));
  let pending = Buffer.alloc(0);
  return (n) => {
    const count = Math.ceil((n - pending.length) / REC) + 1;
    const buf = Buffer.alloc(count * REC);
    const noise = rnd(count * 16);
    for (let i = 0; i < count; i++) {
      const o = i * REC;
      buf.writeBigUInt64LE(id++, o);
      ts += BigInt(r.int(5000));
      buf.writeBigUInt64LE(ts, o + 8);
      buf.writeUInt32LE(r.int(6), o + 16);
      buf.writeUInt32LE(r.int(4) === 0 ? r.u32() : 0, o + 20);
      value += (r.float() - 0.5) * 2;
      buf.writeDoubleLE(value, o + 24);
      tags[r.int(tags.length)].copy(buf, o + 32);
      noise.copy(buf, o + 48, i * 16, i * 16 + 16);
    }
    const all = Buffer.concat([pending, buf]);
    pending = all.subarray(n);
    return all.subarray(0, n);
  };
}

// ---- writing ------------------------------------------------------------------------------------

function writeFileWith(file, size, fill) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  try {
    let done = 0;
    while (done < size) {
      const n = Math.min(4 * MiB, size - done);
      const b = fill(n);
      fs.writeSync(fd, b, 0, b.length);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

function plan(entries, seed) {
  const files = [];
  for (const e of entries) {
    const r = prng(seed, `plan:${e.dir}/${e.name}`);
    for (let i = 0; i < e.count; i++) {
      let rel;
      if (e.perDir) rel = e.name.replace('%d', String(Math.floor(i / e.perDir))).replace('%d', String(i));
      else rel = e.name.replace('%d', String(i));
      let size = e.size;
      if (e.sizeRange) {
        const [lo, hi] = e.sizeRange;
        // log-uniform sizes: most small files are small; one in 20 is empty
        size = r.int(20) === 0 ? 0 : Math.round(Math.exp(Math.log(Math.max(lo, 1)) + r.float() * (Math.log(hi) - Math.log(Math.max(lo, 1)))));
      }
      files.push({ path: path.posix.join(e.dir, rel), size, kind: e.kind, gen: e.gen, entry: e, index: i });
    }
  }
  return files;
}

function generate(dir, f, seed) {
  const abs = path.join(dir, f.path);
  const stream = f.path;
  const r = prng(seed, stream);
  const rnd = randomStream(seed, stream);
  switch (f.gen) {
    case 'log':
      return writeFileWith(abs, f.size, logGen(r));
    case 'csv':
      return writeFileWith(abs, f.size, csvGen(r));
    case 'code':
      return writeFileWith(abs, f.size, codeGen(r));
    case 'records':
      return writeFileWith(abs, f.size, recordsGen(r, rnd));
    case 'random':
      return writeFileWith(abs, f.size, rnd);
    case 'zero': {
      const z = Buffer.alloc(4 * MiB);
      return writeFileWith(abs, f.size, (n) => z.subarray(0, n));
    }
    case 'small': {
      // mixed small content: text, JSON, random bytes
      const k = f.index % 3;
      const fill =
        k === 0
          ? codeGen(r)
          : k === 1
            ? textFill(() => `{"id":${r.int(1e6)},"name":"${r.pick(USERS)}","region":"${r.pick(REGIONS)}","ok":${r.int(2) === 1}}\n`)
            : rnd;
      return writeFileWith(abs, f.size, fill);
    }
    case 'sparse': {
      // holes with data islands at 10%, 40% and 70% (random) and a text island at 90%; ends in a hole
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      const fd = fs.openSync(abs, 'w');
      const islands = [];
      try {
        fs.ftruncateSync(fd, f.size);
        const isl = f.entry.island;
        for (const [frac, fill] of [
          [0.1, rnd],
          [0.4, rnd],
          [0.7, rnd],
          [0.9, logGen(r)],
        ]) {
          const off = Math.floor((f.size * frac) / MiB) * MiB;
          fs.writeSync(fd, fill(isl), 0, isl, off);
          islands.push([off, isl]);
        }
      } finally {
        fs.closeSync(fd);
      }
      f.dataIslands = islands;
      return undefined;
    }
    default:
      throw new Error(`unknown generator ${f.gen}`);
  }
}

// ---- main ---------------------------------------------------------------------------------------

function parse(argv) {
  const o = { quick: false, dir: null, seed: 'driveseed-bench-1', force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--force') o.force = true;
    else if (a === '--dir') o.dir = argv[++i];
    else if (a === '--seed') o.seed = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.error('usage: node bench/gen-data.mjs [--quick] [--dir <dir>] [--seed <text>] [--force]');
      process.exit(0);
    } else {
      console.error(`Unknown option ${a}. Usage: node bench/gen-data.mjs [--quick] [--dir <dir>] [--seed <text>] [--force]`);
      process.exit(2);
    }
  }
  if (o.dir === undefined) {
    console.error('Expected a directory after --dir');
    process.exit(2);
  }
  o.dir = path.resolve(o.dir ?? path.join(BENCH_DIR, 'data', o.quick ? 'quick' : 'full'));
  return o;
}

function main() {
  const o = parse(process.argv.slice(2));
  const entries = spec(o.quick);
  const specHash = crypto
    .createHash('sha256')
    .update(JSON.stringify({ GEN_VERSION, seed: o.seed, entries }))
    .digest('hex');
  const manifestPath = path.join(o.dir, 'manifest.json');
  const files = plan(entries, o.seed);

  if (!o.force && fs.existsSync(manifestPath)) {
    try {
      const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
      const intact = m.specHash === specHash && m.files.every((f) => fs.statSync(path.join(o.dir, f.path), { throwIfNoEntry: false })?.size === f.size);
      if (intact) {
        console.error(`data set ${o.dir} is up to date (${m.files.length} files, ${(m.totals.apparentBytes / MiB).toFixed(0)} MiB); nothing to do`);
        return;
      }
    } catch {
      /* regenerate */
    }
  }

  // Remove only what this generator makes: the manifest first (so an interrupted run regenerates),
  // then the group directories of the spec.
  fs.mkdirSync(o.dir, { recursive: true });
  fs.rmSync(manifestPath, { force: true });
  for (const d of new Set(entries.map((e) => e.dir))) fs.rmSync(path.join(o.dir, d), { recursive: true, force: true });

  const t0 = Date.now();
  let done = 0;
  const total = files.reduce((s, f) => s + f.size, 0);
  let lastLog = 0;
  for (const f of files) {
    generate(o.dir, f, o.seed);
    done += f.size;
    if (Date.now() - lastLog > 2000) {
      lastLog = Date.now();
      console.error(`gen-data: ${(done / MiB).toFixed(0)}/${(total / MiB).toFixed(0)} MiB (${f.path})`);
    }
  }

  const groups = {};
  let allocated = 0;
  for (const f of files) {
    const st = fs.statSync(path.join(o.dir, f.path));
    allocated += st.blocks * 512;
    const g = (groups[f.kind] ??= { kind: f.kind, files: 0, bytes: 0 });
    g.files++;
    g.bytes += f.size;
  }
  const manifest = {
    generator: 'bench/gen-data.mjs',
    version: GEN_VERSION,
    seed: o.seed,
    preset: o.quick ? 'quick' : 'full',
    specHash,
    spec: entries,
    totals: { files: files.length, apparentBytes: total, allocatedBytes: allocated },
    groups: Object.values(groups),
    files: files.map((f) => ({
      path: f.path,
      size: f.size,
      kind: f.kind,
      ...(f.entry.role ? { role: f.entry.role } : {}),
      ...(f.dataIslands ? { dataIslands: f.dataIslands } : {}),
    })),
  };
  fs.writeFileSync(manifestPath + '.tmp', JSON.stringify(manifest, null, 1) + '\n');
  fs.renameSync(manifestPath + '.tmp', manifestPath);
  const secs = (Date.now() - t0) / 1000;
  console.error(
    `gen-data: wrote ${files.length} files, ${(total / MiB).toFixed(0)} MiB apparent, ${(allocated / MiB).toFixed(0)} MiB allocated, to ${o.dir} in ${secs.toFixed(1)} s`,
  );
}

main();
