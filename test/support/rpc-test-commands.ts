/**
 * Test-only commands for the CLI and RPC tests (never in the product registry): loaded through
 * DRIVESEED_TEST_COMMANDS=<this file> with DRIVESEED_TEST=1, or passed in-process as extraCommands.
 */
import { askOrFail, defineCommand } from '../../src/core/command';
import { cancelledError, usageError } from '../../src/base/errors';
import { Secret } from '../../src/base/secret';
import { DataPlaneError } from '../../src/native/errors';

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

interface SlowOptions {
  steps: number;
  delayMs: number;
  target?: string;
  noisy: boolean;
}

/** Reports `steps` progress lines `delayMs` apart; stops at the next step when cancelled. */
export const slowCommand = defineCommand<Record<string, unknown>, SlowOptions, { steps: number; target: string | null }>({
  name: 'test slow',
  rpcMethod: 'test.slow',
  summary: 'test only: progress in steps, cancellable',
  options: [
    { flags: '--steps <n>', name: 'steps', description: 'number of steps', type: 'number', defaultValue: 5 },
    { flags: '--delay-ms <n>', name: 'delayMs', description: 'pause between steps', type: 'number', defaultValue: 20 },
    { flags: '--target <path>', name: 'target', description: 'claimed path', type: 'string' },
    { flags: '--noisy', name: 'noisy', description: 'write to console.log and process.stdout', type: 'boolean', defaultValue: false },
  ],
  cook(raw) {
    const steps = raw.steps as number;
    if (!Number.isInteger(steps) || steps < 1)
      throw usageError('BAD_STEPS', `Expected a positive integer for --steps but received ${steps}`, { field: 'steps' });
    const o: SlowOptions = { steps, delayMs: raw.delayMs as number, noisy: raw.noisy === true };
    if (typeof raw.target === 'string') o.target = raw.target;
    return o;
  },
  claims: (o) => (o.target ? [o.target] : []),
  async run(o, ctx) {
    if (o.noisy) {
      console.log('stray console.log from a dependency');
      console.info('stray console.info');
      process.stdout.write('stray stdout write\n');
    }
    ctx.reporter.info('starting', { steps: o.steps });
    for (let i = 1; i <= o.steps; i++) {
      if (ctx.signal.aborted) throw cancelledError();
      await sleep(o.delayMs, ctx.signal);
      if (ctx.signal.aborted) throw cancelledError();
      ctx.reporter.progress({ phase: `step${i}`, bytesDone: i, bytesTotal: o.steps });
      ctx.reporter.event('step', { i });
    }
    ctx.reporter.warning('TEST_WARNING', 'a warning for the test');
    return { steps: o.steps, target: o.target ?? null };
  },
  renderText: (r) => `did ${r.steps} steps`,
});

export const wipeCommand = defineCommand<Record<string, unknown>, { targets: string[] }, { wiped: string[] }>({
  name: 'test wipe',
  rpcMethod: 'test.wipe',
  summary: 'test only: a destructive command',
  options: [{ flags: '--target <t...>', name: 'target', description: 'targets', type: 'string[]', required: true }],
  destructive: { confirmParam: 'confirm', targets: (o) => o.targets },
  cook: (raw) => ({ targets: raw.target as string[] }),
  claims: (o) => o.targets,
  run: async (o) => ({ wiped: o.targets }),
});

export const crashCommand = defineCommand<Record<string, unknown>, Record<string, never>, never>({
  name: 'test crash',
  rpcMethod: 'test.crash',
  summary: 'test only: a bug',
  options: [],
  cook: () => ({}),
  run: async () => {
    throw new TypeError('undefined is not a function (pretend bug)');
  },
});

export const nativeFailCommand = defineCommand<Record<string, unknown>, Record<string, never>, never>({
  name: 'test native',
  rpcMethod: 'test.native',
  summary: 'test only: a native ENOSPC',
  options: [{ flags: '--code <c>', name: 'code', description: 'native code', type: 'string', defaultValue: 'ENOSPC' }],
  cook: (raw) => ({ code: raw.code }) as never,
  run: async (o: { code?: string }) => {
    const e = Object.assign(new Error('No space left on device'), {
      code: o.code ?? 'ENOSPC',
      errno: 28,
      syscall: 'pwrite',
      path: '/mnt/seed/pack-0001',
      offset: 4096,
    });
    throw new DataPlaneError(e);
  },
});

export const partialCommand = defineCommand<Record<string, unknown>, Record<string, never>, { skipped: number }>({
  name: 'test partial',
  rpcMethod: 'test.partial',
  summary: 'test only: a partial success',
  options: [],
  cook: () => ({}),
  run: async (_o, ctx) => {
    ctx.reporter.warning('FILE_UNREADABLE', 'skipped /src/secret.db: EACCES', { path: '/src/secret.db' });
    return { skipped: 1 };
  },
  exitCategory: (r) => (r.skipped > 0 ? 'PARTIAL' : 'OK'),
});

export const askCommand = defineCommand<Record<string, unknown>, { carrier?: string }, { carrier: string }>({
  name: 'test ask',
  rpcMethod: 'test.ask',
  summary: 'test only: needs an answer',
  options: [{ flags: '--carrier <name>', name: 'carrier', description: 'carrier', type: 'string' }],
  cook: (raw) => (typeof raw.carrier === 'string' ? { carrier: raw.carrier } : {}),
  run: async (o, ctx) => ({ carrier: o.carrier ?? (await askOrFail(ctx, { question: 'Carrier?', flag: '--carrier', field: 'carrier' })) }),
});

export const SECRET_VALUE = 'hunter2-passphrase-of-test';
export const secretCommand = defineCommand<Record<string, unknown>, Record<string, never>, { key: Secret; note: string }>({
  name: 'test secret',
  rpcMethod: 'test.secret',
  summary: 'test only: output that contains a secret',
  options: [],
  cook: () => ({}),
  run: async (_o, ctx) => {
    const key = new Secret(SECRET_VALUE);
    ctx.reporter.info(`using ${SECRET_VALUE} and https://a.blob.core.windows.net/c?sv=1&sig=abcdef123`);
    return { key, note: `the key is ${key.reveal()}` };
  },
});

/** Waits on a promise nothing will ever settle, with nothing else pending: the CLI must not exit 0 silently. */
export const stallCommand = defineCommand<Record<string, unknown>, Record<string, never>, never>({
  name: 'test stall',
  rpcMethod: 'test.stall',
  summary: 'test only: awaits a promise that never settles (a lost wake-up)',
  options: [],
  cook: () => ({}),
  run: () => new Promise<never>(() => {}),
});
