/**
 * The source tree walker: depth-first, names sorted within each directory (so an unchanged tree
 * gives an unchanged tree stream), never following symlinks. Lazy: memory is the names of the
 * directories on the current path (bounded by the largest directory), not the tree.
 *
 * Two forms, same events in the same order: walkSource (synchronous, one lstat at a time) and
 * walkSourceBatched (the lstats of a directory's entries run on the libuv pool, a chunk of
 * STAT_CHUNK ahead of the consumer; events come in arrays, one await per array rather than per entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type WalkEvent =
  | { kind: 'dir'; name: string; path: string; st: fs.BigIntStats }
  | { kind: 'end'; path: string }
  | { kind: 'file'; name: string; path: string; st: fs.BigIntStats }
  | { kind: 'symlink'; name: string; path: string; st: fs.BigIntStats; target: string }
  | {
      kind: 'problem';
      path: string;
      /** FILE_UNREADABLE / DIR_UNREADABLE (the run ends PARTIAL), FILE_VANISHED, NAME_NOT_UTF8, UNSUPPORTED_TYPE */
      code: string;
      message: string;
      partial: boolean;
    };

interface Frame {
  dir: string;
  names: string[];
  next: number;
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.syscall ?? 'access'})` : String(e.message ?? err);
}

/** Lists a directory's names, sorted; names that are not valid UTF-8 are reported and left out. */
function listDir(dir: string, problems: WalkEvent[]): string[] {
  const raw = fs.readdirSync(dir, { encoding: 'buffer' });
  const names: string[] = [];
  for (const b of raw) {
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) {
      problems.push({
        kind: 'problem',
        path: path.join(dir, b.toString('latin1')),
        code: 'NAME_NOT_UTF8',
        message: `Skipped an entry of ${dir} whose name is not valid UTF-8 (${b.toString('hex')} in hex); rename it to back it up`,
        partial: true,
      });
      continue;
    }
    names.push(s);
  }
  return names.sort();
}

/** Walks one source root. The first event names the root itself with `name` = basename(source). */
export function* walkSource(source: string): Generator<WalkEvent> {
  const stack: Frame[] = [];
  const problems: WalkEvent[] = [];

  function* visit(full: string, name: string): Generator<WalkEvent> {
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(full, { bigint: true });
    } catch (err) {
      const vanished = (err as NodeJS.ErrnoException).code === 'ENOENT';
      yield {
        kind: 'problem',
        path: full,
        code: vanished ? 'FILE_VANISHED' : 'FILE_UNREADABLE',
        message: vanished ? `${full} disappeared while the tree was read; skipped` : `Cannot stat ${full}: ${errText(err)}; skipped`,
        partial: !vanished,
      };
      return;
    }
    if (st.isDirectory()) {
      yield { kind: 'dir', name, path: full, st };
      let names: string[] = [];
      try {
        names = listDir(full, problems);
      } catch (err) {
        yield { kind: 'problem', path: full, code: 'DIR_UNREADABLE', message: `Cannot list ${full}: ${errText(err)}; its contents are skipped`, partial: true };
      }
      yield* problems.splice(0);
      stack.push({ dir: full, names, next: 0 });
    } else if (st.isFile()) {
      yield { kind: 'file', name, path: full, st };
    } else if (st.isSymbolicLink()) {
      try {
        yield { kind: 'symlink', name, path: full, st, target: fs.readlinkSync(full, 'utf8') };
      } catch (err) {
        yield { kind: 'problem', path: full, code: 'FILE_UNREADABLE', message: `Cannot read the symlink ${full}: ${errText(err)}; skipped`, partial: true };
      }
    } else {
      yield {
        kind: 'problem',
        path: full,
        code: 'UNSUPPORTED_TYPE',
        message: `${full} is a socket, FIFO or device; skipped (only files, directories and symlinks are backed up)`,
        partial: false,
      };
    }
  }

  yield* visit(source, path.basename(source));
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.names.length) {
      stack.pop();
      yield { kind: 'end', path: top.dir };
      continue;
    }
    const name = top.names[top.next++]!;
    yield* visit(path.join(top.dir, name), name);
  }
}

/**
 * lstats issued at once per directory level, and the most events per array: 256 keeps a libuv pool of 4
 * busy and amortises the await per array; memory is at most two chunks of stats per directory level
 * on the current path. Measured over 100k small files (bench/RESULTS.md, 2026-12-05 key cache
 * section): 64 was slower than 256, and one promise per entry was 2× slower than the synchronous walk.
 */
export const STAT_CHUNK = 256;

type StatResult = { st: fs.BigIntStats } | { err: unknown };

function statMany(paths: string[]): Promise<StatResult[]> {
  return new Promise((resolve) => {
    const out = new Array<StatResult>(paths.length);
    let left = paths.length;
    if (left === 0) resolve(out);
    paths.forEach((p, i) =>
      fs.lstat(p, { bigint: true }, (err, st) => {
        out[i] = err ? { err } : { st };
        if (--left === 0) resolve(out);
      }),
    );
  });
}

interface BatchFrame extends Frame {
  /** stats of names[chunkAt ..], in name order */
  chunk: StatResult[];
  chunkAt: number;
  /** the stats of the chunk after `chunk`, already in flight */
  ahead: Promise<StatResult[]> | undefined;
}

/** The same events as {@link walkSource}, in the same order, in arrays; the lstats run ahead on the libuv pool. */
export async function* walkSourceBatched(source: string, chunkSize = STAT_CHUNK): AsyncGenerator<WalkEvent[]> {
  const stack: BatchFrame[] = [];
  const problems: WalkEvent[] = [];
  let out: WalkEvent[] = [];
  const startChunk = (f: { dir: string; names: string[] }, from: number) =>
    from < f.names.length ? statMany(f.names.slice(from, from + chunkSize).map((n) => path.join(f.dir, n))) : undefined;

  const visit = (full: string, name: string, r: StatResult): void => {
    if ('err' in r) {
      const vanished = (r.err as NodeJS.ErrnoException).code === 'ENOENT';
      out.push({
        kind: 'problem',
        path: full,
        code: vanished ? 'FILE_VANISHED' : 'FILE_UNREADABLE',
        message: vanished ? `${full} disappeared while the tree was read; skipped` : `Cannot stat ${full}: ${errText(r.err)}; skipped`,
        partial: !vanished,
      });
      return;
    }
    const st = r.st;
    if (st.isDirectory()) {
      out.push({ kind: 'dir', name, path: full, st });
      let names: string[] = [];
      try {
        names = listDir(full, problems);
      } catch (err) {
        out.push({
          kind: 'problem',
          path: full,
          code: 'DIR_UNREADABLE',
          message: `Cannot list ${full}: ${errText(err)}; its contents are skipped`,
          partial: true,
        });
      }
      out.push(...problems.splice(0));
      const frame: BatchFrame = { dir: full, names, next: 0, chunk: [], chunkAt: 0, ahead: undefined };
      frame.ahead = startChunk(frame, 0);
      stack.push(frame);
    } else if (st.isFile()) {
      out.push({ kind: 'file', name, path: full, st });
    } else if (st.isSymbolicLink()) {
      try {
        out.push({ kind: 'symlink', name, path: full, st, target: fs.readlinkSync(full, 'utf8') });
      } catch (err) {
        out.push({ kind: 'problem', path: full, code: 'FILE_UNREADABLE', message: `Cannot read the symlink ${full}: ${errText(err)}; skipped`, partial: true });
      }
    } else {
      out.push({
        kind: 'problem',
        path: full,
        code: 'UNSUPPORTED_TYPE',
        message: `${full} is a socket, FIFO or device; skipped (only files, directories and symlinks are backed up)`,
        partial: false,
      });
    }
  };

  visit(source, path.basename(source), (await statMany([source]))[0]!);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.names.length) {
      stack.pop();
      out.push({ kind: 'end', path: top.dir });
    } else {
      let i = top.next - top.chunkAt;
      if (i >= top.chunk.length) {
        if (out.length) {
          yield out;
          out = [];
        }
        top.chunk = await top.ahead!;
        top.chunkAt = top.next;
        top.ahead = startChunk(top, top.next + top.chunk.length);
        i = 0;
      }
      const name = top.names[top.next++]!;
      visit(path.join(top.dir, name), name, top.chunk[i]!);
    }
    if (out.length >= chunkSize) {
      yield out;
      out = [];
    }
  }
  if (out.length) yield out;
}
