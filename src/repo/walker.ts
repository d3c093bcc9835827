/**
 * The source tree walker: depth-first, names sorted within each directory (so an unchanged tree
 * gives an unchanged tree stream), never following symlinks. Synchronous and lazy: memory is the
 * names of the directories on the current path (bounded by the largest directory), not the tree.
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
