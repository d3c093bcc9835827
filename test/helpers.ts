/**
 * Shared test helpers. Tests that need root, a loop device or a tool register with `gated(...)`: when
 * the condition fails the test is skipped and its title says why (CONTRIBUTING.md, "Tests").
 */
import * as crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Test } from 'uvu';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** The reason a loop-device test cannot run here, or undefined when it can. */
export function loopUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'loop devices are Linux-only';
  if (!isRoot) return 'needs root to attach a loop device';
  if (!hasTool('losetup')) return 'needs losetup (util-linux)';
  if (!fs.existsSync('/dev/loop-control')) return 'needs /dev/loop-control (loop module)';
  return undefined;
}

/** Registers `fn` as a test, or as a skipped test whose title carries the reason. */
export function gated(suite: Test, title: string, reason: string | undefined, fn: () => unknown | Promise<unknown>): void {
  if (reason) {
    suite.skip(`${title} [SKIP: ${reason}]`, () => {});
    console.log(`SKIP ${title}: ${reason}`);
  } else {
    suite(title, fn as () => void);
  }
}

export function tmpDir(prefix = 'driveseed-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A loop device over a fresh sparse image file; detach() detaches only this device. */
export function attachLoop(sizeBytes: number, opts: { sectorSize?: number; directIo?: boolean } = {}): { dev: string; image: string; detach(): void } {
  const dir = tmpDir('driveseed-loop-');
  const image = path.join(dir, 'disk.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, sizeBytes);
  const args = ['-f', '--show', '-P'];
  if (opts.sectorSize) args.push('--sector-size', String(opts.sectorSize));
  if (opts.directIo) args.push('--direct-io=on');
  args.push(image);
  const r = spawnSync('losetup', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`losetup ${args.join(' ')} failed: ${r.stderr}`);
  const dev = r.stdout.trim();
  return {
    dev,
    image,
    detach() {
      spawnSync('losetup', ['-d', dev]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * size random bytes with the first 512 of every 4 KiB zeroed: they compress a little, so zstd works
 * through all of them at any level. Random bytes alone no longer keep a stage busy: it stores them
 * without trying zstd (LooksIncompressible, native/src/blob.h). For tests that need a stage that takes
 * a while, whatever the machine.
 */
export function poorlyCompressible(size: number): Buffer {
  const b = crypto.randomBytes(size);
  for (let o = 0; o < size; o += 4096) b.fill(0, o, Math.min(size, o + 512));
  return b;
}
