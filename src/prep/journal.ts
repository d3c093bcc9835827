/**
 * The prep journal: `<staging>/.prep/journal.jsonl`, append-only JSON lines, each appended with
 * write + fdatasync before the step it records is considered done (docs/prep.md "Journal"). Order:
 *
 *   plan → per drive: drive (formatted, driveId) → per file: fileStarted → (copy) → fileDone
 *   {blocks written} → manifest {hash} → verified → unmounted;  done
 *
 * A crash (kill -9, power loss) leaves at most one torn last line, which load() ignores. Resume
 * re-copies every file started but not done, skips done files (the read-back pass re-checks their
 * blocks), and rewrites the manifest, so the result is identical to an uninterrupted run.
 * The journal never holds secrets: the BitLocker key is kept in `<staging>/.prep/keys.json` (0600).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import type { Plan } from './plan';

export const JOURNAL_VERSION = 1;

export type JournalRecord =
  | { t: 'plan'; v: number; at: string; plan: Plan; fingerprint: string }
  | { t: 'drive'; drive: number; target: string; driveId: string; formatted: boolean; serial: string | null }
  | { t: 'fileStarted'; drive: number; path: string }
  | { t: 'fileDone'; drive: number; path: string; size: number; blocks: string[] }
  | { t: 'manifest'; drive: number; manifestHash: string; bytes: number }
  | { t: 'verified'; drive: number; ok: boolean; badBlocks: number }
  | { t: 'done'; at: string };

export interface DriveState {
  target: string;
  driveId?: string;
  formatted: boolean;
  serial: string | null;
  done: Map<string, { size: number; blocks: string[] }>;
  /** started, not done: re-copied on resume */
  inProgress: Set<string>;
  manifest?: { manifestHash: string; bytes: number };
  verified?: boolean;
}

export interface JournalState {
  plan?: Plan;
  fingerprint?: string;
  drives: DriveState[];
  done: boolean;
  /** lines ignored because they were torn by a crash (only ever the last one) */
  tornLines: number;
}

export function journalDir(staging: string): string {
  return path.join(staging, '.prep');
}

export class Journal {
  private fd: number | undefined;
  private constructor(readonly file: string) {}

  static open(staging: string): Journal {
    const dir = journalDir(staging);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new Journal(path.join(dir, 'journal.jsonl'));
  }

  exists(): boolean {
    return fs.existsSync(this.file) && fs.statSync(this.file).size > 0;
  }

  /** Replays the journal into its state. */
  load(): JournalState {
    const st: JournalState = { drives: [], done: false, tornLines: 0 };
    if (!fs.existsSync(this.file)) return st;
    const lines = fs.readFileSync(this.file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let r: JournalRecord;
      try {
        r = JSON.parse(line) as JournalRecord;
      } catch {
        if (i >= lines.length - 2) {
          st.tornLines++;
          return;
        }
        throw new DriveseedError(
          'PREP_JOURNAL_CORRUPT',
          `${this.file} line ${i + 1} is not valid JSON and is not the last line; the journal was edited or damaged. Move it away to start the prep over (the drives will be rewritten)`,
          {
            category: 'FAILED',
            details: { file: this.file, line: i + 1 },
          },
        );
      }
      apply(st, r);
    });
    return st;
  }

  /** Appends one record durably. A torn trailing line from a crash is terminated first. */
  append(r: JournalRecord): void {
    if (this.fd === undefined) {
      this.fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
      const size = fs.fstatSync(this.fd).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        const rfd = fs.openSync(this.file, 'r');
        fs.readSync(rfd, last, 0, 1, size - 1);
        fs.closeSync(rfd);
        if (last[0] !== 0x0a) fs.writeSync(this.fd, '\n');
      }
    }
    fs.writeSync(this.fd, `${JSON.stringify(r)}\n`);
    fs.fdatasyncSync(this.fd);
  }

  /** Starts over: the old journal is kept as journal.jsonl.<time>.old for the record. */
  reset(): void {
    this.close();
    if (fs.existsSync(this.file)) fs.renameSync(this.file, `${this.file}.${Date.now()}.old`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function drive(st: JournalState, i: number): DriveState {
  const d = st.drives[i];
  if (!d) throw new DriveseedError('PREP_JOURNAL_CORRUPT', `The prep journal mentions drive ${i} before its drive record`, { category: 'FAILED' });
  return d;
}

function apply(st: JournalState, r: JournalRecord): void {
  switch (r.t) {
    case 'plan':
      st.plan = r.plan;
      st.fingerprint = r.fingerprint;
      st.drives = r.plan.drives.map((d) => ({ target: d.target, formatted: false, serial: null, done: new Map(), inProgress: new Set() }));
      st.done = false;
      break;
    case 'drive': {
      const d = drive(st, r.drive);
      d.driveId = r.driveId;
      d.formatted = d.formatted || r.formatted;
      d.serial = r.serial;
      break;
    }
    case 'fileStarted': {
      const d = drive(st, r.drive);
      d.inProgress.add(r.path);
      d.done.delete(r.path);
      d.manifest = undefined;
      d.verified = undefined;
      break;
    }
    case 'fileDone': {
      const d = drive(st, r.drive);
      d.inProgress.delete(r.path);
      d.done.set(r.path, { size: r.size, blocks: r.blocks });
      break;
    }
    case 'manifest':
      drive(st, r.drive).manifest = { manifestHash: r.manifestHash, bytes: r.bytes };
      break;
    case 'verified':
      drive(st, r.drive).verified = r.ok;
      break;
    case 'done':
      st.done = true;
      break;
  }
}
