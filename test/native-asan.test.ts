// The native data plane under AddressSanitizer + UndefinedBehaviorSanitizer. The parent test builds the
// sanitizer addon (cmake-js, DS_SANITIZE=ON, into build-asan/) and re-runs this file as a child node
// with the ASan runtime preloaded; the child runs a representative subset of jobs (copy, hash,
// writeRaw, pack, restore, verify with a corrupted pack, cancellation, error paths, worker
// termination mid-job) and the parent fails on any sanitizer report or a child that did not finish.
//
// Gated behind DRIVESEED_ASAN=1: a fresh sanitizer build takes minutes on a 2-core machine, longer than
// a test file should in the default run. Leak detection is off: V8 and Node keep allocations alive to
// exit by design, and LeakSanitizer cannot tell those from ours (counters() covers our leaks).
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const MiB = 1024 * 1024;
const CHILD_OK = 'driveseed-asan-child: all jobs ran';

if (process.env.DRIVESEED_ASAN_CHILD === '1' || process.env.DRIVESEED_ASAN_CHILD === 'md5') {
  child().then(
    () => {
      console.log(CHILD_OK);
    },
    (err) => {
      console.error('driveseed-asan-child failed:', err);
      process.exit(1);
    },
  );
} else {
  parent();
}

function parent(): void {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { test } = require('uvu') as typeof import('uvu');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const assert = require('uvu/assert') as typeof import('uvu/assert');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { gated } = require('./helpers') as typeof import('./helpers');

  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { asanSkipReason, buildAsanAddon, libasan } = require('./support/asan') as typeof import('./support/asan');
  const reason = asanSkipReason();

  const title = 'copy, hash, writeRaw, pack, restore, verify and cancellation under ASan+UBSan report nothing [DRIVESEED_ASAN=1]';
  gated(test, title, reason, () => {
    const { build, addon } = buildAsanAddon();
    assert.is(build.status, 0, `sanitizer build failed:\n${(build.stdout + build.stderr).slice(-4000)}`);
    assert.ok(fs.existsSync(addon), `${addon} was not built`);
    // One suppression: node-addon-api's ObjectWrap constructor passes static_cast<T*>(this) to
    // napi_wrap while T is still being constructed (napi-inl.h, ObjectWrap::ObjectWrap), which UBSan's
    // vptr check reports as a bad downcast. It is in the library, for every wrapped class, and benign.
    const supp = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'driveseed-ubsan-')), 'ubsan.supp');
    fs.writeFileSync(supp, 'vptr_check:ObjectWrap\n'); // matched against the mangled dynamic type name
    // The whole subset on the MD5 path this CPU picks, then the multi-buffer MD5 alone on each weaker
    // path (DRIVESEED_MD5 caps the dispatch), so the AVX2 kernel and the scalar fallback run under the
    // sanitizers too.
    for (const [mode, md5Cap] of [
      ['1', undefined],
      ['md5', 'avx2'],
      ['md5', 'scalar'],
    ] as const) {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        DRIVESEED_ASAN_CHILD: mode,
        DRIVESEED_NATIVE: addon,
        LD_PRELOAD: libasan,
        ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:exitcode=86:strict_string_checks=1:detect_stack_use_after_return=0',
        UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:exitcode=87:suppressions=${supp}`,
      };
      if (md5Cap) env.DRIVESEED_MD5 = md5Cap;
      const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', __filename], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60 * 1000, maxBuffer: 64 * MiB, env });
      const out = `${r.stdout}\n${r.stderr}`;
      const report = out.match(/(ERROR: AddressSanitizer[\s\S]{0,6000}|runtime error:[\s\S]{0,3000}|WARNING: AddressSanitizer[\s\S]{0,2000})/);
      assert.not.ok(report, `sanitizer report (${mode}, MD5 ${md5Cap ?? 'default'}):\n${report?.[0]}`);
      assert.is(r.signal, null, `child killed by ${r.signal}:\n${out.slice(-4000)}`);
      assert.is(r.status, 0, out.slice(-4000));
      assert.ok(r.stdout.includes(CHILD_OK), out.slice(-4000));
    }
    fs.rmSync(path.dirname(supp), { recursive: true, force: true });
  });

  test.run();
}

// ---- the child: runs inside a node with the sanitizer runtime preloaded ----------------------------

async function child(): Promise<void> {
  /* eslint-disable @typescript-eslint/no-var-requires */
  const io = require('../src/native/io') as typeof import('../src/native/io');
  const pl = require('../src/native/pipeline') as typeof import('../src/native/pipeline');
  const { loadBinding } = require('../src/native/load') as typeof import('../src/native/load');
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  /* eslint-enable @typescript-eslint/no-var-requires */
  const b = loadBinding();
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'driveseed-asan-'));
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`check failed: ${what}`);
  };
  const expectCode = async (p: Promise<unknown>, code: string) => {
    try {
      await p;
    } catch (err) {
      check((err as { code?: string }).code === code, `${code} expected, got ${(err as Error).message}`);
      return;
    }
    throw new Error(`expected ${code}`);
  };
  const rand = (name: string, size: number) => {
    const file = path.join(dir, name);
    const data = crypto.randomBytes(size);
    fs.writeFileSync(file, data);
    return { file, data };
  };
  check(fs.readFileSync('/proc/self/maps', 'utf8').includes('libasan'), 'the ASan runtime is loaded in this process');
  // Multi-buffer MD5: every length around the padding boundaries, each message alone in its own
  // ArrayBuffer (malloc'd, so a read past its end hits an ASan redzone) and at odd offsets; lanes of
  // unequal length in one batch; 4 MiB blocks with a short tail.
  {
    const own = (len: number, shift: number) => {
      const ab = new ArrayBuffer(len + shift);
      const v = new Uint8Array(ab, shift, len);
      v.set(crypto.randomBytes(len));
      return v;
    };
    const msgs = Array.from({ length: 300 }, (_, i) => own(i, i % 7));
    const got = pl.md5Many(msgs);
    msgs.forEach((m, i) => check(got.subarray(16 * i, 16 * i + 16).equals(crypto.createHash('md5').update(m).digest()), `md5Many length ${i}`));
    const mixed = [own(3 * MiB + 5, 3), own(64, 0), own(1, 1), own(MiB - 63, 2), own(0, 0)];
    const gm = pl.md5Many(mixed);
    mixed.forEach((m, i) => check(gm.subarray(16 * i, 16 * i + 16).equals(crypto.createHash('md5').update(m).digest()), `md5Many mixed ${i}`));
    const big = own(9 * 4 * MiB + 777, 5);
    const gb = pl.md5Blocks(big, 4 * MiB);
    for (let i = 0; i * 4 * MiB < big.length; i++)
      check(
        gb.subarray(16 * i, 16 * i + 16).equals(
          crypto
            .createHash('md5')
            .update(big.subarray(i * 4 * MiB, (i + 1) * 4 * MiB))
            .digest(),
        ),
        `md5Blocks ${i}`,
      );
    if (process.env.DRIVESEED_ASAN_CHILD === 'md5') {
      const order = ['scalar', 'avx2', 'avx512'];
      check(order.indexOf(pl.md5Implementation()) <= order.indexOf(process.env.DRIVESEED_MD5 ?? ''), `MD5 path ${pl.md5Implementation()} is capped`);
      fs.rmSync(dir, { recursive: true, force: true });
      return;
    }
  }
  try {
    // Direct copy with an unaligned tail, and buffered.
    const a = rand('a.bin', 9 * MiB + 4097);
    const c = await io.copyFiles(
      [
        { source: a.file, dest: path.join(dir, 'a.out') },
        { source: a.file, dest: path.join(dir, 'a2.out') },
      ],
      { ioSize: MiB, queueDepth: 3 },
    );
    check(fs.readFileSync(path.join(dir, 'a.out')).equals(a.data), 'copy content');
    check(c.items[1].blockMd5.length === 3 * 16, 'copy md5 count');
    await io.copyFiles([{ source: a.file, dest: path.join(dir, 'a3.out') }], { direct: false, sync: false });

    // Hash: many small items pipelined, SHA-256 in order, a failing item.
    const small = Array.from({ length: 40 }, (_, i) => rand(`s${i}.bin`, (i * 7919) % 70000));
    const h = await io.hashFiles(
      small.map((s) => ({ path: s.file })),
      { blockSize: 16384, threads: 3, sha256: true },
    );
    small.forEach((s, i) => check(h.items[i].sha256!.equals(crypto.createHash('sha256').update(s.data).digest()), `sha ${i}`));
    await expectCode(io.hashFiles([{ path: small[3].file }, { path: small[5].file, length: 10 * MiB }], { threads: 2 }), 'ERR_CHANGED');
    await expectCode(io.hashFiles([{ path: path.join(dir, 'missing') }]), 'ENOENT');

    // writeRaw: read-modify-write of an unaligned tail, patterns.
    const target = path.join(dir, 'raw.bin');
    fs.writeFileSync(target, Buffer.alloc(64 * 1024, 0x5a));
    await io.writeRaw(target, { path: a.file }, 3 * 4096 + 123, { offset: 4096, ioSize: 8192 });
    check(
      fs
        .readFileSync(target)
        .subarray(4096 + 3 * 4096 + 123)
        .equals(Buffer.alloc(64 * 1024 - 4096 - 3 * 4096 - 123, 0x5a)),
      'tail kept',
    );
    await io.writeRaw(path.join(dir, 'raw2.bin'), { pattern: 'random' }, 5 * MiB + 512, { queueDepth: 4, ioSize: MiB });

    // Pack, restore, verify (clean and corrupted), dedup.
    const keys = { dataKey: crypto.randomBytes(32), idKey: crypto.randomBytes(32) };
    const src = [rand('p1.bin', 3 * MiB), rand('p2.bin', 1000), rand('p3.bin', 0)];
    fs.writeFileSync(path.join(dir, 'p4.bin'), Buffer.concat([src[0].data, Buffer.alloc(2 * MiB), src[1].data]));
    const files = [...src.map((s) => ({ path: s.file, size: s.data.length })), { path: path.join(dir, 'p4.bin'), size: 3 * MiB + 2 * MiB + 1000 }];
    const packDir = path.join(dir, 'packs');
    fs.mkdirSync(packDir);
    const events: import('../src/native/pipeline').PackEvent[] = [];
    const chunker = { min: 64 * 1024, avg: 256 * 1024, max: MiB };
    await pl.packFiles({ files, packDir, keys, chunker, threads: 2, packSize: MiB }, { onProgress: (_p, e) => events.push(...e) });
    const packs = events.filter((e): e is import('../src/native/binding').PackDoneEvent => e.type === 'pack');
    const fileEvents = events.filter((e): e is import('../src/native/binding').PackFileEvent => e.type === 'file');
    const where = new Map<string, import('../src/native/binding').ChunkRef>();
    packs.forEach((p, pack) =>
      p.entries.forEach((e) => where.set(e.id.toString('hex'), { pack, offset: e.offset, length: e.length, rawLength: e.rawLength, id: e.id })),
    );
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const restore = fileEvents.map((e) => ({
      dest: path.join(out, `f${e.index}`),
      size: e.size + e.holes.reduce((n, [, l]) => n + l, 0),
      holes: e.holes,
      chunks: e.lengths.map((_, i) => where.get(e.chunks.toString('hex', i * 32, i * 32 + 32))!),
    }));
    const r = await pl.restoreFiles({ packs: packs.map((p) => p.path), files: restore, keys, threads: 2 });
    check(r.filesOk === files.length, 'restore ok');
    files.forEach((f, i) => check(fs.readFileSync(path.join(out, `f${i}`)).equals(fs.readFileSync(f.path)), `restored ${i}`));
    const vspec = { packs: packs.map((p) => ({ path: p.path, name: p.name, entries: p.entries })), keys, threads: 2 };
    const clean = await pl.verifyPacks(vspec);
    check(clean.chunksBad === 0 && clean.packsBad === 0, 'verify clean');
    const victim = packs[0];
    const body = fs.readFileSync(victim.path);
    body[victim.entries[0].offset + 20] ^= 0xff;
    fs.writeFileSync(victim.path, body);
    const problems: unknown[] = [];
    const bad = await pl.verifyPacks(vspec, { onProgress: (_p, e) => problems.push(...e) });
    check(bad.chunksBad >= 1 && problems.length >= 1, 'verify finds the corruption');
    const r2 = await pl.restoreFiles({ packs: packs.map((p) => p.path), files: restore, keys, threads: 2 });
    check(r2.filesFailed >= 1, 'restore fails the corrupted file');

    // One-shot functions.
    const blob = pl.encodeBlob(a.data.subarray(0, 300000), keys, 3);
    check(pl.decodeBlob(blob.blob, blob.id, keys, MiB).equals(a.data.subarray(0, 300000)), 'blob round trip');
    check(b.zstdDecompress(b.zstdCompress(a.data.subarray(0, 200000), 3), MiB).equals(a.data.subarray(0, 200000)), 'zstd round trip');
    pl.chunkLengths(a.data, chunker);

    // Cancellation mid-job: writeRaw, pack, hash.
    const ac1 = new AbortController();
    await expectCode(
      io.writeRaw(path.join(dir, 'cancel.bin'), { pattern: 'random' }, 64 * 1024 * MiB, {
        ioSize: MiB,
        sync: false,
        signal: ac1.signal,
        onProgress: () => ac1.abort(),
      }),
      'ERR_CANCELLED',
    );
    const big = rand('big.bin', 24 * MiB);
    const ac2 = new AbortController();
    const packDir2 = path.join(dir, 'packs2');
    fs.mkdirSync(packDir2);
    const many = Array.from({ length: 20 }, () => ({ path: big.file, size: big.data.length }));
    await expectCode(
      pl.packFiles({ files: many, packDir: packDir2, keys, chunker, threads: 2, packSize: MiB }, { signal: ac2.signal, onProgress: () => ac2.abort() }),
      'ERR_CANCELLED',
    );
    const ac3 = new AbortController();
    await expectCode(
      io.hashFiles(
        Array.from({ length: 50 }, () => ({ path: big.file })),
        { sha256: true, signal: ac3.signal, onProgress: () => ac3.abort() },
      ),
      'ERR_CANCELLED',
    );

    // A worker terminated mid-job: environment teardown cancels, joins and frees its jobs.
    const w = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const b = require(workerData.native);
       const tick = () => parentPort.postMessage(1);
       b.writeRawJob({ target: workerData.target, source: { pattern: 'random' }, length: 64 * 1024 * 1048576, ioSize: 1048576, sync: false }, tick);
       b.hashFilesJob({ items: Array.from({ length: 500 }, () => ({ path: workerData.src })), sha256: true }, tick);`,
      { eval: true, workerData: { native: process.env.DRIVESEED_NATIVE, target: path.join(dir, 'worker.bin'), src: big.file } },
    );
    await new Promise<void>((resolve, reject) => {
      let n = 0;
      w.on('message', () => ++n === 3 && resolve());
      w.on('error', reject);
    });
    await w.terminate();

    const counters = b.counters();
    check(JSON.stringify(counters) === JSON.stringify({ alignedBytes: 0, openTargets: 0, liveJobs: 0, heldLocks: 0 }), `counters ${JSON.stringify(counters)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
