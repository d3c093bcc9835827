/**
 * The source tree walker: depth-first, names sorted within each directory (so an unchanged tree
 * gives an unchanged tree stream), never following symlinks. Synchronous and lazy: memory is the
 * names (and, with the addon's listing, the lstat fields) of the directories on the current path
 * (bounded by the largest directory), not the tree.
 *
 * A directory is listed with its entries' lstat fields in one addon call where the addon has it
 * (src/native/dir.ts: readdir + fstatat, POSIX), else with readdirSync and one lstatSync per entry.
 * Both give the same events; an entry's fields are then those of the moment its directory was
 * listed rather than of the moment it is visited.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DIR_FIELDS,
  type DirListing,
  F_CTIME_NS,
  F_DEV,
  F_ERRNO,
  F_GID,
  F_INO,
  F_MODE,
  F_MTIME_NS,
  F_NLINK,
  F_SIZE,
  F_UID,
  nativeListDir,
  nativeListDirAsync,
} from '../native/dir';
import { DirPrefetcher } from './dir-prefetch';

/** The lstat fields the walk's consumers use (a subset of fs.BigIntStats). */
export type WalkStat = Pick<fs.BigIntStats, 'mode' | 'uid' | 'gid' | 'nlink' | 'size' | 'dev' | 'ino' | 'mtimeNs' | 'ctimeNs'>;

export type WalkEvent =
  | { kind: 'dir'; name: string; path: string; st: WalkStat }
  | { kind: 'end'; path: string }
  | { kind: 'file'; name: string; path: string; st: WalkStat }
  | { kind: 'symlink'; name: string; path: string; st: WalkStat; target: string }
  /**
   * Nothing to report yet: the next directory's listing, started ahead on the libuv pool, is not back.
   * A consumer that can awaits `promise` before asking for the next event (the walk then uses that
   * listing); one that does not gets the directory listed on the spot.
   */
  | { kind: 'wait'; promise: Promise<void> }
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
  /** path.join(dir, name) for any entry name is prefix + name: dir with its separator, worked out once */
  prefix?: string;
  names: string[];
  next: number;
  /** with the addon's listing: the lstat fields, DIR_FIELDS per entry of the unsorted listing, and each sorted name's place in it */
  stats?: BigUint64Array;
  order?: number[];
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.syscall ?? 'access'})` : String(e.message ?? err);
}

function notUtf8(dir: string, b: Buffer): WalkEvent {
  return {
    kind: 'problem',
    path: path.join(dir, b.toString('latin1')),
    code: 'NAME_NOT_UTF8',
    message: `Skipped an entry of ${dir} whose name is not valid UTF-8 (${b.toString('hex')} in hex); rename it to back it up`,
    partial: true,
  };
}

/** Lists a directory's names, sorted; names that are not valid UTF-8 are reported and left out. */
function listDir(dir: string, problems: WalkEvent[]): string[] {
  const raw = fs.readdirSync(dir, { encoding: 'buffer' });
  const names: string[] = [];
  for (const b of raw) {
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) {
      problems.push(notUtf8(dir, b));
      continue;
    }
    names.push(s);
  }
  return names.sort();
}

/** The addon's listing of a directory as a frame: names sorted as listDir sorts them, fields kept in listing order. */
function listDirWithStats(list: (dir: string) => DirListing, dir: string, problems: WalkEvent[]): Frame {
  return framed(dir, list(dir), problems);
}

function framed(dir: string, { names, stats, invalid }: DirListing, problems: WalkEvent[]): Frame {
  for (const b of invalid) problems.push(notUtf8(dir, b));
  const order = names.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  return { dir, names: order.map((i) => names[i]!), next: 0, stats, order };
}

/** The full paths of a listed frame's directories, in visit order. */
function subdirectories(f: Frame): string[] {
  const out: string[] = [];
  f.prefix ??= path.join(f.dir, 'x').slice(0, -1);
  for (let k = 0; k < f.names.length; k++) {
    const o = f.order![k]! * DIR_FIELDS;
    if (f.stats![o + F_ERRNO] === 0n && (Number(f.stats![o + F_MODE]) & S_IFMT) === S_IFDIR) out.push(f.prefix + f.names[k]!);
  }
  return out;
}

let errnoNames: Map<number, string> | undefined;
/** An fstatat errno from the addon as the error lstatSync would have thrown. */
function statError(errno: number, full: string): NodeJS.ErrnoException {
  errnoNames ??= new Map(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));
  const err: NodeJS.ErrnoException = new Error(`lstat ${full}`);
  err.code = errnoNames.get(errno) ?? `errno ${errno}`;
  err.errno = errno;
  err.syscall = 'lstat';
  return err;
}

/** The fields of entry `i` of an addon listing. */
function statAt(stats: BigUint64Array, i: number): WalkStat {
  const o = i * DIR_FIELDS;
  return {
    mode: stats[o + F_MODE]!,
    uid: stats[o + F_UID]!,
    gid: stats[o + F_GID]!,
    nlink: stats[o + F_NLINK]!,
    size: stats[o + F_SIZE]!,
    dev: stats[o + F_DEV]!,
    ino: stats[o + F_INO]!,
    // The times are signed (before 1970: negative); the listing carries their 64 bits unsigned.
    mtimeNs: BigInt.asIntN(64, stats[o + F_MTIME_NS]!),
    ctimeNs: BigInt.asIntN(64, stats[o + F_CTIME_NS]!),
  };
}

const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } = fs.constants;
const typeOf = (st: WalkStat): number => Number(st.mode) & S_IFMT;

/**
 * Walks one source root. The first event names the root itself with `name` = basename(source).
 * `o.native: false` lists directories with Node's calls even where the addon's listing is there (tests
 * compare the two).
 */
export function* walkSource(source: string, o: { native?: boolean; prefetch?: boolean } = {}): Generator<WalkEvent> {
  const stack: Frame[] = [];
  const problems: WalkEvent[] = [];
  const list = o.native === false ? undefined : nativeListDir();
  // DRIVESEED_WALK=sync: the addon's listing, but no directory listed ahead (A/B benchmarks).
  const listAsync = list && o.prefetch !== false && process.env.DRIVESEED_WALK !== 'sync' ? nativeListDirAsync() : undefined;
  const prefetch = listAsync && new DirPrefetcher(listAsync);

  /** Lists `full` as a frame: from the listing done ahead when there is one (waiting for it if the consumer does), else now. */
  function* listFrame(full: string): Generator<WalkEvent, Frame> {
    const ahead = prefetch?.take(full);
    if (ahead && !ahead.done) yield { kind: 'wait', promise: ahead.settled };
    let frame: Frame;
    if (ahead?.done && ahead.error !== undefined) throw ahead.error;
    if (ahead?.done) frame = framed(full, ahead.listing!, problems);
    else frame = list ? listDirWithStats(list, full, problems) : { dir: full, names: listDir(full, problems), next: 0 };
    if (prefetch && frame.stats) prefetch.ahead(subdirectories(frame));
    return frame;
  }

  /** `pre`: the entry's fields from its directory's listing (an errno, or the fields); else lstat now. */
  function* visit(full: string, name: string, pre?: { stats: BigUint64Array; i: number }): Generator<WalkEvent> {
    let st: WalkStat;
    try {
      if (!pre) st = fs.lstatSync(full, { bigint: true });
      else {
        const errno = Number(pre.stats[pre.i * DIR_FIELDS + F_ERRNO]);
        if (errno !== 0) throw statError(errno, full);
        st = statAt(pre.stats, pre.i);
      }
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
    const type = typeOf(st);
    if (type === S_IFDIR) {
      yield { kind: 'dir', name, path: full, st };
      let frame: Frame = { dir: full, names: [], next: 0 };
      try {
        frame = yield* listFrame(full);
      } catch (err) {
        yield { kind: 'problem', path: full, code: 'DIR_UNREADABLE', message: `Cannot list ${full}: ${errText(err)}; its contents are skipped`, partial: true };
      }
      yield* problems.splice(0);
      stack.push(frame);
    } else if (type === S_IFREG) {
      yield { kind: 'file', name, path: full, st };
    } else if (type === S_IFLNK) {
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
    const at = top.next++;
    const name = top.names[at]!;
    // A listed name is one component, never "." or "..", so joining it needs no normalising.
    top.prefix ??= path.join(top.dir, 'x').slice(0, -1);
    yield* visit(top.prefix + name, name, top.stats && { stats: top.stats, i: top.order![at]! });
  }
}
