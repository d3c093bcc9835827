// Trial: prep and verify on loop devices (image on ext4, losetup --direct-io=on).
//
// The data is a staging repository that `driveseed stage` makes from the data set (once, untimed).
// prep: driveseed's core prep() (src/core/prep.ts, as it is: native aligned copy, journal,
// DriveManifest.xml; --no-verify) onto a mounted volume, against
// `dd iflag=direct oflag=direct bs=4M conv=fsync` of the same files to the same volume — ext4, and
// NTFS through ntfs-3g (mkntfs on the loop device, mounted like prep mounts: big_writes,noatime).
// Goal ≥ 0.95×. verify: the read-back verifier (src/prep/verifier.ts: native hashFiles, direct I/O)
// over the prepared volume against `md5sum` of the same files. Goal ≥ 1.6×.
// Info rows: dd on NTFS vs dd on ext4 (what ntfs-3g costs), prep with --format of the whole disk.
// Page cache dropped before every timed run. Options: --staging <dir> reuses a staging repository.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { register } from 'tsx/cjs/api';
import {
  MiB,
  OUT_DIR,
  ROOT,
  cachePolicy,
  compare,
  createLoopDevice,
  isRoot,
  log,
  main,
  measureAll,
  onCleanup,
  scratchDir,
  sh,
  timeCommand,
  timeFn,
  toolVersion,
  trialOptions,
  which,
} from '../lib/harness.mjs';
import { ledgerAdd, ledgerRemove } from '../lib/ledger.mjs';

register();
const require = createRequire(import.meta.url);

/** `driveseed stage` from source (tsx), untimed; returns the staging directory. */
function stageOnce(opts, dir) {
  if (fs.existsSync(path.join(dir, 'config'))) return dir;
  log(`prep: staging ${opts.data} into ${dir} (untimed)`);
  const r = spawnSync(
    process.execPath,
    ['-r', 'tsx/cjs', path.join(ROOT, 'src/cli/main.ts'), 'stage', opts.data, '--staging', dir, '--job', 'bench-seed', '--container', 'seed'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DRIVESEED_PASSPHRASE: 'bench-passphrase' },
      maxBuffer: 64 * MiB,
    },
  );
  if (r.status !== 0) throw new Error(`driveseed stage failed (${r.status}): ${(r.stderr || r.stdout).trim().slice(-800)}`);
  return dir;
}

/** Empties a volume's root (everything prep or dd wrote), keeping the mount. */
function emptyVolume(dir) {
  for (const n of fs.readdirSync(dir)) if (n !== 'lost+found') fs.rmSync(path.join(dir, n), { recursive: true, force: true });
}

/** mkntfs on the whole loop device and ntfs-3g with prep's options; unmounted at exit. */
function ntfsVolume(device, name) {
  sh('mkntfs', ['--fast', '--quiet', '--force', device]);
  const mnt = path.join(OUT_DIR, `${name}-${process.pid}.mnt`);
  fs.mkdirSync(mnt, { recursive: true });
  ledgerAdd({ type: 'mount', key: mnt });
  sh('ntfs-3g', [device, mnt, '-o', 'big_writes,noatime']);
  onCleanup(() => {
    if (spawnSync('umount', [mnt]).status !== 0) spawnSync('umount', ['-l', mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
    ledgerRemove({ type: 'mount', key: mnt });
  });
  return mnt;
}

await main('prep', async () => {
  const opts = trialOptions();
  if (!isRoot) throw new Error('prep trial needs root (loop devices, mounts, dropping caches)');
  for (const t of ['dd', 'md5sum', 'mkntfs', 'ntfs-3g']) if (!which(t)) throw new Error(`${t} is not installed`);
  const { policy, note: cacheNote } = cachePolicy(opts, 'drop');
  const { prep } = require('../../src/core/prep.ts');
  const { verifyDrive } = require('../../src/prep/verifier.ts');
  const { inventory } = require('../../src/prep/inventory.ts');
  const { silentReporter } = require('../../src/base/reporter.ts');
  const { nativeIoUnavailable } = require('../../src/prep/native.ts');
  const { copyFiles } = require('../../src/native/io.ts');
  const why = nativeIoUnavailable();
  if (why) throw new Error(why);

  // --staging <dir>: stage there once and keep it (reruns skip staging); default: a scratch directory.
  const staging = stageOnce(opts, opts.args.staging ? path.resolve(opts.args.staging) : path.join(scratchDir('prep-staging'), 's'));
  const files = inventory(staging);
  const bytes = files.reduce((s, f) => s + f.size, 0);
  const scratch = scratchDir('prep');
  const ddScript = path.join(scratch, 'dd.sh');
  log(`prep: ${files.length} staged files, ${(bytes / MiB).toFixed(0)} MiB`);
  const ctx = () => ({ reporter: silentReporter, signal: new AbortController().signal, env: {} });
  const size = Math.ceil((bytes * 1.25 + 256 * MiB) / MiB) * MiB;

  const rows = [];
  const measurements = {};
  const notes = [];
  for (const fsType of ['ext4', 'ntfs']) {
    const loop = createLoopDevice({ size, name: `prep-${fsType}`, fs: fsType === 'ext4' ? 'ext4' : null });
    onCleanup(() => loop.release());
    if (!loop.directIo) notes.push(`${loop.device}: losetup did not enable direct I/O`);
    const vol = fsType === 'ext4' ? loop.mountpoint : ntfsVolume(loop.device, 'prep-ntfs');
    // dd: the same files to the same relative paths on the same volume, one dd per file.
    fs.writeFileSync(
      ddScript,
      [
        'set -e',
        ...files.map((f) => {
          const dest = path.join(vol, f.path);
          return `mkdir -p '${path.dirname(dest)}' && dd if='${f.source}' of='${dest}' iflag=direct oflag=direct bs=4M conv=fsync status=none`;
        }),
      ].join('\n') + '\n',
    );
    const dd = {
      label: 'dd iflag=direct oflag=direct bs=4M conv=fsync (per file)',
      command: `dd if=<staged file> of=<volume>/<same path> iflag=direct oflag=direct bs=4M conv=fsync, ${files.length} files`,
      bytes,
      prepare: () => emptyVolume(vol),
      run: () => timeCommand('sh', [ddScript]),
    };
    const ours = {
      label: 'driveseed prep (core prep(), --no-verify)',
      bytes,
      prepare: () => {
        emptyVolume(vol);
        fs.rmSync(path.join(staging, '.prep'), { recursive: true, force: true });
      },
      run: () => timeFn(() => prep({ staging, targets: [vol], container: 'seed', format: false, yes: false, encryption: 'none', verify: false }, ctx())),
    };
    // Diagnostics: the native copy prep calls (copyFiles, direct, sync, block MD5), alone, with and
    // without preallocation: separates prep's own work from the data plane's.
    const items = files.map((f) => ({ source: f.source, dest: path.join(vol, f.path) }));
    const mkdirs = () => {
      emptyVolume(vol);
      for (const it of items) fs.mkdirSync(path.dirname(it.dest), { recursive: true });
    };
    const copy = (preallocate) => ({
      label: `copyFiles(direct, sync, preallocate: ${preallocate}) alone`,
      bytes,
      prepare: mkdirs,
      run: () => timeFn(() => copyFiles(items, { direct: true, sync: true, preallocate })),
    });
    log(`prep: ${fsType} volume ${vol} on ${loop.device}, ${opts.runs} runs each, cache ${policy}`);
    // prep last: the volume then holds a prepared drive (files + manifest) for the verify rows.
    const m = await measureAll([dd, copy(true), copy(false), ours], { runs: opts.runs, cache: policy });
    measurements[`prep-${fsType}`] = m;
    const fsName = fsType === 'ntfs' ? 'NTFS (ntfs-3g)' : 'ext4';
    rows.push(compare(`prep/${fsType}`, `prep onto ${fsName} on a loop device vs dd`, m[3], m[0], 0.95));
    rows.push(
      compare(
        `prep/${fsType}-copy`,
        `${fsName}: copyFiles alone (prep's data plane) vs dd`,
        m[1],
        m[0],
        null,
        "info only: without prep's inventory, journal, manifest and mount checks",
      ),
    );
    rows.push(
      compare(
        `prep/${fsType}-copy-noprealloc`,
        `${fsName}: copyFiles(preallocate: false) vs dd`,
        m[2],
        m[0],
        null,
        'info only: what preallocation costs on this file system',
      ),
    );

    // verify: the volume now holds the last prep's files and manifest.
    const listFile = path.join(scratch, `verify-${fsType}.nul`);
    fs.writeFileSync(listFile, files.map((f) => path.join(vol, f.path)).join('\0'));
    const md5sum = {
      label: 'md5sum',
      command: `xargs -0 -a <list of ${files.length} files on the volume> md5sum > /dev/null`,
      bytes,
      run: () => timeCommand('sh', ['-c', `xargs -0 -a '${listFile}' md5sum > /dev/null`]),
    };
    const verify = {
      label: 'driveseed verify (verifyDrive: hashFiles, direct I/O)',
      bytes,
      run: async () => {
        const r = await timeFn(() => verifyDrive(vol, { direct: true }));
        if (!r.value.ok) throw new Error(`verify found problems on a freshly prepared volume: ${r.value.problems[0]?.message}`);
        return r;
      },
    };
    log(`verify: ${fsType} volume, ${opts.runs} runs each, cache ${policy}`);
    const v = await measureAll([md5sum, verify], { runs: opts.runs, cache: policy });
    measurements[`verify-${fsType}`] = v;
    rows.push(compare(`verify/${fsType}`, `verify on ${fsType === 'ntfs' ? 'NTFS (ntfs-3g)' : 'ext4'} vs md5sum`, v[1], v[0], 1.6));
  }
  const [ddExt4, ddNtfs] = [measurements['prep-ext4'][0], measurements['prep-ntfs'][0]];
  rows.push(
    compare(
      'prep/ntfs-3g-bound',
      'dd onto NTFS (ntfs-3g) vs dd onto ext4, same files, same kind of loop device',
      ddNtfs,
      ddExt4,
      null,
      "info only: the FUSE driver's share; prep onto NTFS cannot beat dd onto NTFS",
    ),
  );
  notes.push(
    'Both contenders write the same staged files (config, index, snapshots, packs) to the same relative paths on the same mounted volume, emptied before every run.',
    'prep also writes its journal, the drive id file and DriveManifest.xml (block MD5s from staging) and fsyncs; dd gets conv=fsync per file.',
    "The NTFS volume is mkntfs --fast on the whole loop device, mounted with ntfs-3g -o big_writes,noatime (prep's options).",
    'verify re-reads every file with O_DIRECT and compares each 4 MiB block MD5 with the manifest; md5sum reads through the page cache.',
    'The VM host caches the disk: device figures are burst figures; compare ratios within one run.',
  );
  return {
    title: 'prep and verify on loop devices (ext4, NTFS) vs dd and md5sum',
    cache: policy,
    cacheNote,
    bytes,
    data: `staging repository of ${opts.data} (${files.length} files, ${(bytes / MiB).toFixed(0)} MiB)`,
    rows,
    measurements,
    notes,
    env: {
      addonPath: process.env.DRIVESEED_NATIVE ?? 'src/native/load.ts default',
      tools: {
        dd: toolVersion('dd'),
        md5sum: toolVersion('md5sum'),
        'ntfs-3g': (spawnSync('ntfs-3g', ['--version'], { encoding: 'utf8' }).stderr || '').split('\n')[0].trim(),
      },
      kernel: os.release(),
    },
  };
});
