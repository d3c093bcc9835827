// Trial: upload throughput of the cloud backend (ContainerBackend.putFile: Put Block with Content-MD5
// per 4 MiB block, 8 blocks in flight, then Put Block List) against @azure/storage-blob's own
// BlockBlobClient.uploadFile of the same file with the same block size and parallelism, both into the
// same private Azurite (in memory, on this machine). Goal: ≥ 0.8× of the SDK's own upload.
// Ours gets the per-block MD5s up front, as in a backup, where packJob records them while packing;
// a second, diagnostic row has ours compute them while uploading.
// Options: --size <MiB> (default 512; --quick 128). Azurite frees deleted blobs lazily (every 10 min),
// so every run's bytes stay in its memory until the trial ends: size × runs × 3 in all.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT, compare, log, main, measureAll, parseArgs, scratchDir, timeFn, MiB } from '../lib/harness.mjs';

const require = createRequire(import.meta.url);
require('tsx/cjs');
const { startAzurite } = require(path.join(ROOT, 'src/cloud/azurite.ts'));
const { containerClientFor, describeLocation } = require(path.join(ROOT, 'src/cloud/client.ts'));
const { ContainerBackend } = require(path.join(ROOT, 'src/cloud/container-backend.ts'));
const { blockMd5OfFile } = require(path.join(ROOT, 'src/repo/backend.ts'));

const PARALLEL = 8;

await main('backup-upload', async () => {
  const a = parseArgs();
  const quick = Boolean(a.quick);
  const runs = a.runs ? Number(a.runs) : quick ? 2 : 3;
  const size = (a.size ? Number(a.size) : quick ? 128 : 512) * MiB;
  const scratch = scratchDir('backup-upload');
  const file = path.join(scratch, 'payload.bin');
  {
    // Incompressible bytes, written once: encrypted packs look like this.
    const fd = fs.openSync(file, 'w');
    for (let off = 0; off < size; off += 16 * MiB) fs.writeSync(fd, crypto.randomBytes(Math.min(16 * MiB, size - off)));
    fs.closeSync(fd);
  }
  const blockMd5 = await blockMd5OfFile(file);
  const azurite = await startAzurite();
  try {
    const loc = azurite.location('bench');
    const client = containerClientFor(loc);
    await client.createIfNotExists();
    let n = 0;
    const sdk = {
      label: `BlockBlobClient.uploadFile (4 MiB blocks, concurrency ${PARALLEL})`,
      bytes: size,
      run: () => timeFn(() => client.getBlockBlobClient(`sdk/${n++}`).uploadFile(file, { blockSize: 4 * MiB, concurrency: PARALLEL })),
    };
    const ours = {
      label: `ContainerBackend.putFile (Content-MD5 per block, ${PARALLEL} in flight, MD5s from packJob)`,
      bytes: size,
      run: () => timeFn(() => new ContainerBackend(client, describeLocation(loc), { maxBlocksInFlight: PARALLEL }).putFile(`ours/${n++}`, file, { blockMd5 })),
    };
    const oursHashing = {
      label: `ContainerBackend.putFile (same, MD5s computed while uploading)`,
      bytes: size,
      run: () => timeFn(() => new ContainerBackend(client, describeLocation(loc), { maxBlocksInFlight: PARALLEL }).putFile(`ours-h/${n++}`, file)),
    };
    log(`backup-upload: ${(size / MiB).toFixed(0)} MiB file, ${runs} runs each, Azurite ${azurite.blobEndpoint}`);
    const [mSdk, mOurs, mOursH] = await measureAll([sdk, ours, oursHashing], { runs, cache: 'warm' });
    return {
      title: 'Cloud upload (Put Block + Content-MD5 + Put Block List) vs the SDK uploadFile',
      bytes: size,
      data: `${(size / MiB).toFixed(0)} MiB of random bytes, page cache warm, Azurite 3.35.0 in memory on 127.0.0.1`,
      rows: [
        compare('backup-upload/putFile-vs-uploadFile', 'putFile vs BlockBlobClient.uploadFile, same Azurite', mOurs, mSdk, 0.8),
        compare(
          'backup-upload/putFile-hashing',
          'putFile computing its MD5s vs uploadFile (diagnostic)',
          mOursH,
          mSdk,
          null,
          'info only: backups get the MD5s from packJob',
        ),
      ],
      measurements: { sdk: mSdk, ours: mOurs, oursHashing: mOursH },
      notes: ['Both clients run in this process, sharing the 2 cores with Azurite; cpuPct is this process only.'],
    };
  } finally {
    await azurite.stop();
  }
});
