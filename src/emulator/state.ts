/**
 * The emulator's persistent state: jobs and the generated storage-account keys, in one JSON file
 * `<stateDir>/emulator-state.json` (mode 0600: it holds BitLocker keys and account keys).
 * Every save is atomic: write `<file>.tmp`, fsync, rename over the file, fsync the directory, so a
 * crash leaves either the old or the new state. Saves are serialised; a save requested while one
 * runs is folded into one more. Without a stateDir the state lives in memory only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import type { StoredJob } from './model';

export const STATE_FILE = 'emulator-state.json';
// 2: jobs are Microsoft.DataBox customer-disk jobs (1 held classic Microsoft.ImportExport jobs).
const STATE_VERSION = 2;

export interface EmulatorState {
  version: number;
  /** storage account name → shared key (base64) */
  accounts: Record<string, string>;
  jobs: StoredJob[];
}

export class StateStore {
  readonly state: EmulatorState;
  private saving: Promise<void> | undefined;
  private again = false;

  private constructor(
    private readonly dir: string | undefined,
    state: EmulatorState,
  ) {
    this.state = state;
  }

  /** Opens (or creates) the state in `dir`; no dir means memory only. */
  static async open(dir: string | undefined): Promise<StateStore> {
    const empty: EmulatorState = { version: STATE_VERSION, accounts: {}, jobs: [] };
    if (dir === undefined) return new StateStore(undefined, empty);
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.join(dir, STATE_FILE);
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new StateStore(dir, empty);
      throw new DriveseedError('EMULATOR_STATE_UNREADABLE', `Cannot read the emulator state ${file}: ${(err as Error).message}`, {
        category: 'FAILED',
        cause: err,
        details: { path: file },
      });
    }
    let state: EmulatorState;
    try {
      state = JSON.parse(text) as EmulatorState;
    } catch (err) {
      throw new DriveseedError('EMULATOR_STATE_CORRUPT', `The emulator state ${file} is not valid JSON; move it away to start with an empty state`, {
        category: 'FAILED',
        cause: err,
        details: { path: file },
      });
    }
    if (state.version !== STATE_VERSION || !Array.isArray(state.jobs) || typeof state.accounts !== 'object') {
      throw new DriveseedError(
        'EMULATOR_STATE_CORRUPT',
        `The emulator state ${file} has version ${String(state.version)} or an unexpected shape; expected version ${STATE_VERSION}. Move it away to start with an empty state`,
        { category: 'FAILED', details: { path: file } },
      );
    }
    return new StateStore(dir, state);
  }

  get directory(): string | undefined {
    return this.dir;
  }

  /** Persists the current state; resolves once a write that includes every change so far is durable. */
  save(): Promise<void> {
    if (this.dir === undefined) return Promise.resolve();
    if (this.saving) {
      // The running write loops once more when `again` is set, so its promise covers this change.
      this.again = true;
      return this.saving;
    }
    this.saving = this.write().finally(() => {
      this.saving = undefined;
    });
    return this.saving;
  }

  private async write(): Promise<void> {
    do {
      this.again = false;
      const file = path.join(this.dir!, STATE_FILE);
      const tmp = `${file}.tmp`;
      const fh = await fs.promises.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(this.state, null, 1));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
      const d = await fs.promises.open(this.dir!, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } while (this.again);
  }
}
