// Trial: how many bytes an incremental `driveseed backup` puts into the container (against the size
// goals below), measured from the blobs that land in Azurite (list + sizes before and after), not from
// our counters. A 1 GiB file (--quick: 256 MiB) is staged, uploaded as the import would, then:
//   unchanged tree            → goal: only the new snapshot, < 1 MiB
//   1 MiB changed mid-file    → goal: < 8 MiB
//   a few bytes inserted near the start → goal: < 16 MiB
// Also times the unchanged backup (informational). Rows carry bytes, not MB/s.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, log, main, parseArgs, scratchDir, MiB } from '../lib/harness.mjs';

const require = createRequire(import.meta.url);
require('tsx/cjs');
const { startAzurite } = require(path.join(ROOT, 'src/cloud/azurite.ts'));
const { backup } = require(path.join(ROOT, 'src/core/backup.ts'));
const { PASS, addedBytes, blobSizes, ctxWith, prng, seededRepo } = require(path.join(ROOT, 'test/backup-helpers.ts'));

await main('backup-sizes', async () => {
  const a = parseArgs();
  const size = (a.size ? Number(a.size) : a.quick ? 256 : 1024) * MiB;
  const scratch = scratchDir('backup-sizes');
  const src = path.join(scratch, 'data');
  fs.mkdirSync(src, { recursive: true });
  const big = path.join(src, 'big.bin');
  {
    const fd = fs.openSync(big, 'w');
    for (let off = 0, i = 0; off < size; off += 64 * MiB, i++) fs.writeSync(fd, prng(1000 + i, Math.min(64 * MiB, size - off)));
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(src, 'small.txt'), 'hello\n');
  const azurite = await startAzurite();
  try {
    log(`backup-sizes: seeding ${(size / MiB).toFixed(0)} MiB`);
    const { staging, backend } = await seededRepo(azurite, src, 'sizes');
    const opts = { sources: [src], staging, passphrase: { kind: 'param', secret: PASS }, forceUnlock: false, level: 3, threads: 2 };
    const rows = [];
    const step = async (id, what, goalBytes, change) => {
      change();
      const before = await blobSizes(backend);
      const t0 = process.hrtime.bigint();
      await backup(opts, ctxWith());
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const added = addedBytes(before, await blobSizes(backend));
      log(`  ${what}: ${added.bytes} bytes in ${added.blobs.length} blobs, ${seconds.toFixed(2)} s`);
      rows.push({
        id: `backup-sizes/${id}`,
        what,
        ours: 'driveseed backup',
        baseline: null,
        oursBytes: added.bytes,
        blobs: added.blobs.length,
        goalBytes,
        pass: added.bytes < goalBytes,
        seconds: Math.round(seconds * 1000) / 1000,
      });
    };
    await step('unchanged', 'unchanged tree: bytes added to the container', MiB, () => {});
    await step('change-1mib', '1 MiB changed in the middle: bytes added', 8 * MiB, () => {
      const fd = fs.openSync(big, 'r+');
      fs.writeSync(fd, prng(7, MiB), 0, MiB, Math.floor(size / 2));
      fs.closeSync(fd);
    });
    await step('insert-start', 'a few bytes inserted near the start: bytes added', 16 * MiB, () => {
      // Rewrites the file through a second one (bounded memory: 64 MiB at a time).
      const tmp = `${big}.new`;
      const out = fs.openSync(tmp, 'w');
      const inp = fs.openSync(big, 'r');
      const buf = Buffer.allocUnsafe(64 * MiB);
      let off = 0;
      for (;;) {
        const n = fs.readSync(inp, buf, 0, buf.length, off);
        if (n === 0) break;
        if (off === 0) {
          fs.writeSync(out, buf, 0, 4096);
          fs.writeSync(out, Buffer.from('a few bytes'));
          fs.writeSync(out, buf, 4096, n - 4096);
        } else fs.writeSync(out, buf, 0, n);
        off += n;
      }
      fs.closeSync(inp);
      fs.closeSync(out);
      fs.renameSync(tmp, big);
    });
    return {
      title: 'Bytes an incremental backup adds to the container (measured in Azurite)',
      bytes: size,
      data: `one ${(size / MiB).toFixed(0)} MiB incompressible file and one small file`,
      rows,
      notes: ['oursBytes is the sum of the sizes of blobs that appeared in the container (locks/ excluded).'],
    };
  } finally {
    await azurite.stop();
  }
});
