/**
 * The fuzz targets for the TypeScript readers of untrusted input, as fast-check properties: one
 * target = an input generator (random input, and mutations of a valid document made by the
 * product's own writers) and a check (test/fuzz/harness.ts: a value or a DriveseedError, never a
 * stray exception; plus what each reader's returned value promises). test/fuzz-parsers.test.ts
 * runs each briefly in CI and replays the committed regressions; scripts/fuzz-ts.mjs runs them for
 * as long as asked and keeps what fails under test/fuzz/regressions/<target>/.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { Target } from './harness';
import { INPUT_TARGETS } from './input-targets';
import { REPO_TARGETS } from './repo-targets';
import { seedDocuments } from './seeds';
import { XML_TARGETS } from './xml-targets';

export { seedDocuments } from './seeds';

export const TARGETS: Record<string, Target> = { ...XML_TARGETS, ...INPUT_TARGETS, ...REPO_TARGETS };

/** Fresh random seed for a long run. */
export const randomSeed = (): number => randomBytes(4).readUInt32LE(0) & 0x7fffffff;

export const REGRESSIONS = path.join(__dirname, 'regressions');

/** The regression inputs kept for a target: test/fuzz/regressions/<target>/*. */
export function regressions(target: string): { file: string; input: Buffer }[] {
  const dir = path.join(REGRESSIONS, target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => ({ file: path.join(dir, f), input: fs.readFileSync(path.join(dir, f)) }));
}

/** The input as its target takes it: bytes for the binary targets, text for the others; a `.jsonstr` file holds a JSON string (text that is not valid UTF-16, such as a lone surrogate, does not survive UTF-8). */
export function asInput(target: string, bytes: Buffer, file = ''): string | Uint8Array {
  if (file.endsWith('.jsonstr')) return JSON.parse(bytes.toString('utf8')) as string;
  return TARGETS[target]?.binary ? bytes : bytes.toString('utf8');
}

/** How an input is kept as a file: its bytes, or a JSON string where UTF-8 would change it. */
export function inputFile(input: string | Uint8Array): { bytes: Buffer; ext: string } {
  if (typeof input !== 'string') return { bytes: Buffer.from(input), ext: '' };
  const utf8 = Buffer.from(input, 'utf8');
  return utf8.toString('utf8') === input ? { bytes: utf8, ext: '' } : { bytes: Buffer.from(JSON.stringify(input)), ext: '.jsonstr' };
}

export interface RunReport {
  target: string;
  /** inputs checked (shrinking not counted) */
  runs: number;
  failure?: { input: string | Uint8Array; error: string; seed: number };
}

export interface RunOptions {
  numRuns?: number;
  /** stop after this long (fast-check's interruptAfterTimeLimit); not a failure */
  ms?: number;
  seed?: number;
  /** an input whose check takes longer than this fails (long runs: a reader that is super-linear somewhere) */
  slowMs?: number;
  /** called with each input before its check (the long runner's hang watchdog) */
  onInput?: (input: string | Uint8Array) => void;
}

/** Runs one target for `numRuns` inputs or until `ms` has passed, whichever comes first. */
export async function runTarget(name: string, opts: RunOptions): Promise<RunReport> {
  await seedDocuments();
  const t = TARGETS[name];
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${Object.keys(TARGETS).join(', ')})`);
  const seed = opts.seed ?? randomSeed();
  const details = await fc.check(
    fc.asyncProperty(t.arb(), async (input) => {
      opts.onInput?.(input);
      const start = performance.now();
      await t.check(input);
      const took = performance.now() - start;
      if (opts.slowMs !== undefined && took > opts.slowMs) throw new Error(`one input took ${Math.round(took)} ms (limit ${opts.slowMs} ms)`);
    }),
    {
      seed,
      numRuns: opts.numRuns ?? Number.MAX_SAFE_INTEGER,
      ...(opts.ms ? { interruptAfterTimeLimit: opts.ms, markInterruptAsFailure: false } : {}),
    },
  );
  if (details.failed && details.counterexample) {
    const input = details.counterexample[0] as string | Uint8Array;
    return { target: name, runs: details.numRuns, failure: { input, error: String((details.errorInstance as Error)?.message ?? details.errorInstance), seed } };
  }
  return { target: name, runs: details.numRuns };
}
