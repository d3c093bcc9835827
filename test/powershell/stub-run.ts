/**
 * Running the Windows prep scripts the way prep does (runPowerShell + spawnRunner, DRIVESEED_POWERSHELL =
 * pwsh) on a stub machine: shared by test/prep-windows-pwsh*.test.ts.
 */
import * as assert from 'uvu/assert';
import { DriveseedError } from '../../src/base/errors';
import { spawnRunner } from '../../src/prep/runner';
import { runPowerShell } from '../../src/prep/powershell-scripts';
import { defaultMachine, StubMachine, type StubMachineState } from './pwsh';

export const signal = new AbortController().signal;

/** Sets the environment in which the product's spawnRunner starts PowerShell, for one test. */
export async function onMachine<T>(m: StubMachine, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries({ ...m.env(), POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off', NO_COLOR: '1' })) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Runs one builder's script as prep does (runPowerShell + spawnRunner) and returns its stdout. */
export function run(script: string, what = 'test step'): Promise<string> {
  return runPowerShell(spawnRunner, script, { what, command: what, fix: 'see the test' }, signal);
}

export async function failure(p: Promise<unknown>): Promise<DriveseedError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  assert.instance(e, DriveseedError, `expected a DriveseedError, got ${String(e)}`);
  return e as DriveseedError;
}

export function machineWith(edit: (s: StubMachineState) => void): StubMachine {
  const s = defaultMachine();
  edit(s);
  return new StubMachine(s);
}
