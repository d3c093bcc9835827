#!/usr/bin/env node
// `npm run demo`: the whole offline seed on this machine, through the real CLI (docs/workflow.md).
// Why one file: it reads top to bottom as the workflow it demonstrates, one step after another.
//
//   setup → sample data (or --source <dir>) → emulator (ARM + Azurite) → stage → two loop disks,
//   prep across both (NTFS, --encryption none) → job create → ship → deliver both drives →
//   status --watch → complete → restore from the cloud + compare → change data → backup (bytes
//   landing in Azurite) → restore the new snapshot from the cloud + compare → summary.
//
// Every step is `node bin/driveseed.js --json …`, its JSON lines parsed. Needs root (loop devices,
// NTFS mounts). Options: --source <dir>, --size <MiB> (generated data, default 320), --keep (keep
// the work directory), --transcripts <dir> (write every driveseed process's stdout and stderr there,
// one file pair per step, for tests that inspect what was printed). Whatever happens (failure, Ctrl-C, SIGTERM), the finally block stops the
// emulator (and its Azurite), unmounts and detaches the loop devices it attached, and removes
// its temporary files; the exit code is non-zero on failure with the failing step named.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareTrees } from './demo/compare.mjs';
import { change, generate, stats } from './demo/data.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const keep = args.includes('--keep');
const transcripts = opt('--transcripts');
let transcriptSeq = 0;

/** With --transcripts: appends everything `child` prints to <dir>/<nn>-<step>.stdout and .stderr. */
function record(step, child) {
  if (!transcripts) return;
  fs.mkdirSync(transcripts, { recursive: true });
  const base = path.join(transcripts, `${String(++transcriptSeq).padStart(2, '0')}-${step.replace(/[^a-z0-9]+/gi, '-')}`);
  for (const stream of ['stdout', 'stderr']) {
    fs.writeFileSync(`${base}.${stream}`, '');
    // synchronous, so nothing is lost when the demo exits right after its last step
    child[stream].on('data', (c) => fs.appendFileSync(`${base}.${stream}`, c));
  }
}
const sizeMiB = Number(opt('--size') ?? 320);

class StepError extends Error {
  constructor(step, message) {
    super(`step "${step}" failed: ${message}`);
    this.step = step;
  }
}

const log = (m) => process.stderr.write(`${m}\n`);
const fmt = (b) =>
  b >= 1024 * MiB ? `${(b / 1024 / MiB).toFixed(2)} GiB` : b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;
const rate = (b, s) => (s > 0 ? `${(b / MiB / s).toFixed(1)} MiB/s` : '-');

// ---- what must be undone, whatever happens -----------------------------------------------------
const state = { work: undefined, loops: [], emulator: undefined, child: undefined, cleaning: undefined };

function sh(cmd, argv) {
  return spawnSync(cmd, argv, { encoding: 'utf8' });
}

/** Idempotent: every caller waits for the one cleanup run. */
function cleanup() {
  state.cleaning ??= doCleanup();
  return state.cleaning;
}

async function doCleanup() {
  if (state.child && state.child.exitCode === null) state.child.kill('SIGTERM');
  const emu = state.emulator;
  if (emu && emu.exitCode === null && emu.signalCode === null) {
    emu.kill('SIGTERM');
    const exited = await Promise.race([new Promise((r) => emu.once('exit', () => r(true))), new Promise((r) => setTimeout(() => r(false), 30_000))]);
    if (!exited) {
      log('demo: the emulator did not stop in 30 s; killing its process group');
      try {
        process.kill(-emu.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const dev of state.loops) {
    // prep and the emulator release their own mounts; this is the backstop for a kill mid-step
    const mounts = sh('findmnt', ['-rn', '-o', 'TARGET', '-S', `${dev}p1`])
      .stdout.trim()
      .split('\n')
      .filter(Boolean);
    for (const m of mounts) sh('umount', [m]).status === 0 || sh('umount', ['-l', m]);
    const r = sh('losetup', ['-d', dev]);
    if (r.status !== 0) log(`demo: could not detach ${dev}: ${r.stderr.trim()}`);
  }
  state.loops = [];
  if (state.work && !keep) fs.rmSync(state.work, { recursive: true, force: true });
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\ndemo: ${sig}: stopping and cleaning up…`);
    cleanup().finally(() => process.exit(130));
  });
}

// ---- running the CLI ---------------------------------------------------------------------------
const BIN = path.join(root, 'bin', 'driveseed.js');
let childEnv;

/** Runs `driveseed --json …argv`; returns {result, lines}; throws StepError on a non-zero exit. onLine sees every parsed line. */
function cli(step, argv, { onLine, okCodes = [0] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--json', ...argv], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    state.child = child;
    record(step, child);
    const lines = [];
    let buf = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      buf += c;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let obj;
        try {
          obj = JSON.parse(line);
        } catch {
          reject(new StepError(step, `driveseed wrote a line that is not JSON on stdout: ${line.slice(0, 200)}`));
          return;
        }
        lines.push(obj);
        onLine?.(obj);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    child.on('error', (e) => reject(new StepError(step, e.message)));
    child.on('close', (code, signal) => {
      state.child = undefined;
      const last = lines.at(-1);
      if (okCodes.includes(code) && last?.type === 'result') return resolve({ result: last.data, lines, code });
      const why =
        last?.type === 'error'
          ? `${last.message} [${last.code}]`
          : `exit ${code ?? signal}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`;
      reject(new StepError(step, why));
    });
  });
}

const timings = [];
let currentStep = 'preflight';
async function step(name, bytes, fn) {
  if (interrupted) throw new StepError(name, 'interrupted');
  currentStep = name;
  log(`\n== ${name}`);
  const t0 = performance.now();
  const out = await fn();
  const s = (performance.now() - t0) / 1000;
  const b = typeof bytes === 'function' ? bytes(out) : bytes;
  timings.push({ name, seconds: s, bytes: b });
  log(`   done in ${s.toFixed(1)} s${b ? ` (${fmt(b)}, ${rate(b, s)})` : ''}`);
  return out;
}

function attachLoop(image, size) {
  fs.writeFileSync(image, '');
  fs.truncateSync(image, size);
  const r = sh('losetup', ['-f', '--show', '-P', image]);
  if (r.status !== 0) throw new StepError('disks', `losetup failed: ${r.stderr.trim()}`);
  const dev = r.stdout.trim();
  state.loops.push(dev);
  return dev;
}

function duBytes(dir) {
  let n = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) n += fs.statSync(p).size;
    }
  };
  for (const sub of ['config', 'data', 'index', 'snapshots']) {
    const p = path.join(dir, sub);
    if (!fs.existsSync(p)) continue;
    if (fs.statSync(p).isDirectory()) walk(p);
    else n += fs.statSync(p).size;
  }
  return n;
}

/** name → size of every blob in the container (what Azurite holds). */
async function blobSizes(armEndpoint, account, container) {
  const { BlobServiceClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const info = await (await fetch(`${armEndpoint}/_emulator/info`)).json();
  const acc = info.accounts.find((a) => a.name === account);
  const c = new BlobServiceClient(acc.blobEndpoint, new StorageSharedKeyCredential(account, acc.key)).getContainerClient(container);
  const out = new Map();
  for await (const b of c.listBlobsFlat()) out.set(b.name, b.properties.contentLength ?? 0);
  return out;
}

async function main() {
  if (process.getuid?.() !== 0) throw new StepError('preflight', 'the demo attaches loop devices and mounts NTFS volumes: run it as root (sudo npm run demo)');
  await step('setup (packages, npm ci, native and TypeScript builds)', 0, async () => {
    const { setup } = await import('./setup.mjs');
    setup({ quiet: true });
  });
  for (const tool of ['losetup', 'mkntfs', 'ntfs-3g', 'sgdisk']) {
    if (sh('sh', ['-c', `command -v ${tool}`]).status !== 0)
      throw new StepError('preflight', `${tool} is missing (setup installs ntfs-3g, gdisk and util-linux with apt-get)`);
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-demo-'));
  state.work = work;
  const home = path.join(work, 'home');
  const passFile = path.join(work, 'passphrase');
  fs.writeFileSync(passFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  // The passphrase travels in a 0600 file named by --passphrase-file, never on a command line.
  childEnv = { ...process.env, DRIVESEED_HOME: home };
  delete childEnv.DRIVESEED_PASSPHRASE;

  // 1. data
  let source = opt('--source');
  if (source) {
    source = path.resolve(source);
    if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) throw new StepError('source', `--source ${source} is not a directory`);
  } else {
    source = path.join(work, 'data');
    await step(
      `generate a sample data set (~${sizeMiB} MiB)`,
      (s) => s.bytes,
      async () => generate(source, sizeMiB),
    );
  }
  const src = stats(source);
  log(`   source ${source}: ${src.files} files, ${fmt(src.bytes)}`);

  // 2. emulator, as `driveseed emulator start` (its own process group, so a hard kill reaches Azurite too)
  const emu = await step(
    'start the emulator (Microsoft.DataBox ARM + Azurite)',
    0,
    () =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, '--json', 'emulator', 'start', '--port', '0', '--state', path.join(work, 'emulator')], {
          cwd: root,
          env: childEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        state.emulator = child;
        record('emulator', child);
        let buf = '';
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
        child.stdout.setEncoding('utf8').on('data', (c) => {
          buf += c;
          for (const line of buf.split('\n').slice(0, -1)) {
            try {
              const o = JSON.parse(line);
              if (o.type === 'event' && o.event === 'emulator.ready') resolve(o.data);
              if (o.type === 'error') reject(new StepError('emulator', `${o.message} [${o.code}]`));
            } catch {
              // not a JSON line: ignored (stdout carries protocol only)
            }
          }
          buf = buf.slice(buf.lastIndexOf('\n') + 1);
        });
        child.on('exit', (code) =>
          reject(new StepError('emulator', `driveseed emulator start exited ${code}: ${err.trim().split('\n').slice(-2).join(' / ')}`)),
        );
      }),
  );
  log(`   ARM ${emu.armEndpoint}, blobs ${emu.blobEndpoint}`);

  // 3. stage
  const staging = path.join(work, 'staging');
  const job = `demo-${randomBytes(3).toString('hex')}`;
  const staged = await step(
    'stage (encrypted, compressed, deduplicated)',
    src.bytes,
    async () =>
      (
        await cli('stage', [
          'stage',
          source,
          '--staging',
          staging,
          '--job',
          job,
          '--account',
          'devstoreaccount1',
          '--container',
          'seed',
          '--subscription',
          '00000000-0000-0000-0000-00000000d3e0',
          '--resource-group',
          'demo-rg',
          '--location',
          'westus',
          '--passphrase-file',
          passFile,
        ])
      ).result,
  );
  const stagedBytes = duBytes(staging);
  log(
    `   snapshot ${staged.snapshot.slice(0, 12)}: ${fmt(stagedBytes)} in the staging repository (${((stagedBytes / src.bytes) * 100).toFixed(0)}% of the source)`,
  );

  // 4. two virtual disks sized so the data must span both
  // prep reserves ~26 MiB + 1% per disk (NTFS metadata, $LogFile, manifest): disk A takes about
  // half of the data, disk B has room for all of it, so the plan must use both.
  const sizeA = Math.max(40 * MiB, Math.ceil((stagedBytes * 0.5) / MiB) * MiB + 28 * MiB);
  const sizeB = Math.ceil((stagedBytes * 1.02) / MiB) * MiB + 48 * MiB;
  const [diskA, diskB] = [attachLoop(path.join(work, 'disk-a.img'), sizeA), attachLoop(path.join(work, 'disk-b.img'), sizeB)];
  log(`   disks ${diskA} (${fmt(sizeA)}) and ${diskB} (${fmt(sizeB)})`);
  const prepped = await step(
    'prep two disks (GPT, NTFS, files + DriveManifest.xml, read-back verify)',
    stagedBytes,
    async () =>
      (
        await cli('prep', ['prep', '--staging', staging, '--target', diskA, diskB, '--format', '--yes', '--encryption', 'none', '--no-job'], {
          onLine: (l) =>
            l.type === 'event' && l.event === 'plan' && log(`   plan: ${l.data.drives.map((d) => `${d.target} ${d.files} files ${fmt(d.bytes)}`).join('; ')}`),
        })
      ).result,
  );
  if (prepped.drives.filter((d) => d.files > 0).length < 2) throw new StepError('prep', 'the data did not span both disks');

  // 5. job, ship
  const returnFile = path.join(work, 'return.json');
  fs.writeFileSync(
    returnFile,
    JSON.stringify({
      returnAddress: {
        recipientName: 'Demo Operator',
        streetAddress1: '1 Example Way',
        city: 'Redmond',
        stateOrProvince: 'WA',
        postalCode: '98052',
        countryOrRegion: 'US',
        phone: '4255550100',
        email: 'ops@example.com',
      },
      returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123456789' },
    }),
  );
  const created = await step(
    'job create (Data Box customer-disk job, on the emulator)',
    0,
    async () => (await cli('job create', ['job', 'create', '--staging', staging, '--return-address', returnFile, '--emulator', emu.armEndpoint])).result,
  );
  log(
    `   job ${created.job.name}: ${created.job.state}; ship to ${Object.values(created.shipTo.address).filter(Boolean).slice(0, 3).join(', ')}; return carriers ${created.shipTo.supportedCarriers.join(', ')}`,
  );
  const tracking = String(randomInt(10 ** 11, 10 ** 12));
  await step(
    'ship (FedEx; markDevicesShipped records the tracking number)',
    0,
    async () => (await cli('ship', ['ship', '--staging', staging, '--carrier', 'FedEx', '--tracking', tracking, '--yes'])).result,
  );

  // 6. deliver both drives and watch the import
  const imported = await step('deliver both drives; status --watch until the import ends', stagedBytes, async () => {
    for (const d of [diskA, diskB]) await cli('deliver', ['emulator', 'deliver', '--job', job, '--drive', d, '--emulator', emu.armEndpoint]);
    return (
      await cli('status', ['status', '--staging', staging, '--watch', '--interval', '0.5'], {
        onLine: (l) => {
          if (l.type === 'event' && l.event === 'job.state') log(`   job ${l.data.state}`);
          if (l.type === 'event' && l.event === 'drive.state') log(`   disk ${l.data.driveId}: ${l.data.copyStatus} — ${l.data.meaning}`);
        },
      })
    ).result;
  });
  if (imported.job.status !== 'Completed')
    throw new StepError(
      'status',
      `the import ended ${imported.job.status}: ${JSON.stringify(imported.disks)} ${JSON.stringify(imported.failures).slice(0, 500)}`,
    );

  // 7. complete
  const completed = await step(
    'complete (every blob verified against the manifests)',
    (r) => r.bytes,
    async () => (await cli('complete', ['complete', '--staging', staging])).result,
  );
  log(`   ${completed.blobs} blobs, ${completed.blocks} blocks verified; ${completed.next}`);

  // 8. restore from the cloud and compare
  const restore1 = path.join(work, 'restore-1');
  await step(
    'restore the snapshot from the cloud copy',
    src.bytes,
    async () => (await cli('restore', ['restore', '--staging', staging, '--from-cloud', '--to', restore1, '--passphrase-file', passFile])).result,
  );
  const d1 = await step('compare with the source (bytes, modes, mtimes, symlinks)', src.bytes, () =>
    compareTrees(source, path.join(restore1, path.basename(source))),
  );
  if (d1.length) throw new StepError('compare', `${d1.length} difference(s): ${d1.slice(0, 5).join('; ')}`);

  // 9. change data, incremental backup over the network, measure what landed in Azurite
  let changedSource = source;
  if (opt('--source')) {
    // never modify the user's directory: back up a copy of it
    changedSource = path.join(work, path.basename(source));
    fs.cpSync(source, changedSource, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  }
  const changed = change(changedSource);
  const before = await blobSizes(emu.armEndpoint, 'devstoreaccount1', 'seed');
  const backed = await step(
    'incremental backup over the network',
    stats(changedSource).bytes,
    async () => (await cli('backup', ['backup', changedSource, '--staging', staging, '--passphrase-file', passFile])).result,
  );
  const after = await blobSizes(emu.armEndpoint, 'devstoreaccount1', 'seed');
  let landed = 0;
  let newBlobs = 0;
  for (const [name, size] of after) {
    if (before.get(name) !== size && !name.startsWith('locks/')) {
      landed += size;
      newBlobs++;
    }
  }
  log(
    `   changed ${fmt(changed.changedBytes)} of ${fmt(src.bytes)}; ${newBlobs} new blobs, ${fmt(landed)} landed in Azurite (backup counted ${fmt(backed.upload.bytesSent)} sent)`,
  );

  const restore2 = path.join(work, 'restore-2');
  await step(
    'restore the new snapshot from the cloud',
    stats(changedSource).bytes,
    async () =>
      (
        await cli('restore 2', [
          'restore',
          '--staging',
          staging,
          '--from-cloud',
          '--to',
          restore2,
          '--snapshot',
          backed.snapshot,
          '--passphrase-file',
          passFile,
        ])
      ).result,
  );
  const d2 = await step('compare with the changed source', stats(changedSource).bytes, () =>
    compareTrees(changedSource, path.join(restore2, path.basename(changedSource))),
  );
  if (d2.length) throw new StepError('compare 2', `${d2.length} difference(s): ${d2.slice(0, 5).join('; ')}`);

  // summary
  const lines = [
    '',
    'driveseed demo: all steps passed',
    `source ${fmt(src.bytes)} in ${src.files} files → staging ${fmt(stagedBytes)} → 2 disks → Azure (emulated) → restored identical`,
    '',
  ];
  for (const t of timings) lines.push(`  ${t.name.padEnd(72)} ${t.seconds.toFixed(1).padStart(7)} s ${t.bytes ? rate(t.bytes, t.seconds).padStart(12) : ''}`);
  lines.push(
    '',
    `  incremental backup: ${fmt(landed)} over the network for ${fmt(changed.changedBytes)} changed (${((landed / src.bytes) * 100).toFixed(2)}% of the data set)`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

let code = 0;
try {
  await main();
} catch (err) {
  code = 1;
  log(`\ndemo FAILED: ${err instanceof StepError ? err.message : `step "${currentStep}" failed: ${err?.stack ?? err}`}`);
} finally {
  await cleanup();
  if (keep && state.work) log(`demo: work directory kept: ${state.work}`);
}
if (!interrupted) process.exit(code);
