/**
 * The tree stream (docs/format.md §Trees): a snapshot's whole tree as one stream of JSON lines in
 * depth-first order, names sorted within each directory. The stream is chunked, deduplicated,
 * compressed and encrypted like file data (an unchanged subtree gives unchanged bytes, so an
 * unchanged re-stage stores almost nothing new), and it is written and read as a stream: memory is
 * bounded by the path depth, never by the number of files.
 *
 *   {"t":"tree","v":1}                                   first line
 *   {"t":"d","n":name,"m":mode,"u":uid,"g":gid,"mt":ns}  a directory; its entries follow until
 *   {"t":"e"}                                            the end of that directory
 *   {"t":"f",…,"s":size,"c":[[id,raw],…],"h":[[off,len],…],"k":link,"ct":ns,"i":ino}   a regular file
 *   {"t":"l",…,"tg":target}                              a symbolic link
 *   {"t":"h","n":name,"k":link}                          another name of file record with that "k"
 */
import * as fs from 'node:fs';
import { corruptError, repoIoError } from './errors';

export interface MetaFields {
  /** one path component */
  n: string;
  /** st_mode permission and type bits */
  m: number;
  u: number;
  g: number;
  /** mtime in nanoseconds since the epoch, as a decimal string */
  mt: string;
}
export interface DirRecord extends MetaFields {
  t: 'd';
}
export interface EndRecord {
  t: 'e';
}
export interface FileRecord extends MetaFields {
  t: 'f';
  /** logical size: content plus holes */
  s: number;
  /** chunks in order: [id hex, raw length] */
  c: Array<[string, number]>;
  /** holes (not stored, read back as zeros): [offset, length] */
  h?: Array<[number, number]>;
  /** hard-link key: present when the file has more than one name */
  k?: number;
  /** ctime in nanoseconds, decimal (the next stage's unchanged-file test; not restored) */
  ct?: string;
  /** inode number, decimal (the next stage's unchanged-file test; not restored) */
  i?: string;
}
export interface SymlinkRecord extends MetaFields {
  t: 'l';
  tg: string;
}
export interface HardlinkRecord {
  t: 'h';
  n: string;
  k: number;
}
export type TreeRecord = DirRecord | EndRecord | FileRecord | SymlinkRecord | HardlinkRecord;

export const TREE_HEADER = '{"t":"tree","v":1}';
/** Deepest directory nesting accepted when reading (Linux PATH_MAX allows about 2048). */
export const MAX_DEPTH = 4096;

/**
 * Why a name from a snapshot may not become a path component, or undefined when it may. Restore
 * refuses such entries, so a tampered snapshot cannot address anything outside the restore target.
 */
export function badName(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'the name is not a string';
  if (name === '' || name === '.' || name === '..') return `the name ${JSON.stringify(name)} is reserved`;
  if (name.includes('/')) return 'the name contains "/"';
  if (name.includes('\0')) return 'the name contains NUL';
  if (process.platform === 'win32' && /[\\:]/.test(name)) return 'the name contains "\\" or ":"';
  return undefined;
}

/** Buffered appender of tree records to a file (the temp file stage packs at the end). */
export class TreeWriter {
  #fd: number;
  #parts: string[] = [];
  #pending = 0;
  bytes = 0;
  records = 0;
  constructor(readonly file: string) {
    try {
      this.#fd = fs.openSync(file, 'wx', 0o600);
    } catch (err) {
      throw repoIoError(err, 'create', file);
    }
    this.#push(TREE_HEADER);
  }
  /** Appends `rec`; `text`, when given, is its JSON line already (a parent's line for an unchanged record). */
  write(rec: TreeRecord, text?: string): void {
    this.records++;
    this.#push(text ?? JSON.stringify(rec));
  }
  #push(line: string): void {
    this.#parts.push(line, '\n');
    this.#pending += line.length + 1;
    if (this.#pending >= 1 << 20) this.flush();
  }
  flush(): void {
    if (!this.#parts.length) return;
    const buf = Buffer.from(this.#parts.join(''), 'utf8');
    this.#parts = [];
    this.#pending = 0;
    try {
      fs.writeSync(this.#fd, buf);
    } catch (err) {
      throw repoIoError(err, 'write', this.file);
    }
    this.bytes += buf.length;
  }
  /** Flushes, fsyncs and closes; returns the stream's byte size. */
  close(): number {
    this.flush();
    try {
      fs.fsyncSync(this.#fd);
    } catch (err) {
      throw repoIoError(err, 'write', this.file);
    } finally {
      fs.closeSync(this.#fd);
    }
    return this.bytes;
  }
  abandon(): void {
    try {
      fs.closeSync(this.#fd);
    } catch {
      /* closed */
    }
    fs.rmSync(this.file, { force: true });
  }
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNs = (v: unknown): v is string => typeof v === 'string' && /^-?\d{1,25}$/.test(v);

function checkMeta(r: Record<string, unknown>): boolean {
  return isInt(r.m) && isInt(r.u) && isInt(r.g) && isNs(r.mt) && typeof r.n === 'string';
}

/** Structural validation of one parsed record; names are checked separately with badName(). */
export function validRecord(r: unknown): r is TreeRecord {
  if (!r || typeof r !== 'object') return false;
  const o = r as Record<string, unknown>;
  switch (o.t) {
    case 'e':
      return true;
    case 'd':
      return checkMeta(o);
    case 'l':
      return checkMeta(o) && typeof o.tg === 'string' && !o.tg.includes('\0');
    case 'h':
      return typeof o.n === 'string' && isInt(o.k);
    case 'f':
      return (
        checkMeta(o) &&
        isInt(o.s) &&
        (o.s as number) >= 0 &&
        Array.isArray(o.c) &&
        o.c.every((c) => Array.isArray(c) && typeof c[0] === 'string' && /^[0-9a-f]{64}$/.test(c[0]) && isInt(c[1]) && c[1] >= 0) &&
        (o.h === undefined || (Array.isArray(o.h) && o.h.every((h) => Array.isArray(h) && isInt(h[0]) && isInt(h[1]) && h[0] >= 0 && h[1] > 0))) &&
        (o.k === undefined || isInt(o.k)) &&
        (o.ct === undefined || isNs(o.ct)) &&
        (o.i === undefined || (typeof o.i === 'string' && /^\d{1,20}$/.test(o.i)))
      );
    default:
      return false;
  }
}

/** Where a tree stream lives: its chunks in order and its total size (from the snapshot). */
export interface TreeRef {
  chunks: Array<[string, number]>;
  size: number;
}

/** One record of a tree stream as readTree yields it; `text` is its line as stored (without the newline). */
export interface TreeLine {
  rec: TreeRecord;
  depth: number;
  line: number;
  text: string;
}

/**
 * A record of a tree stream read without parsing it (readTreeChunks): its type and name are taken
 * from the line as this writer lays it out (`{"t":"f","n":"name",…`), falling back to parsing when
 * the line is laid out otherwise or the name has escapes; record() parses and validates the whole
 * line on first use. For a reader that needs most lines only to find its place (stage's parent-tree
 * cursor compares the rest as text).
 */
export interface LazyTreeLine {
  /** the record type: 'd', 'e', 'f', 'l' or 'h' */
  t: TreeRecord['t'];
  /** the entry's name ('' for 'e') */
  n: string;
  depth: number;
  line: number;
  text: string;
  record(): TreeRecord;
}

/**
 * The line-by-line reader behind readTree and readTreeChunks: `lines(data)` parses the records that
 * `data` (the next chunk's plaintext) completes, `lazyLines(data)` gives them unparsed; `end()`
 * checks the stream ended where it should.
 */
function treeLines(tree: TreeRef, where: string) {
  let carry: Buffer = Buffer.alloc(0);
  let line = 0;
  let depth = 0;
  let bytes = 0;
  const parseText = (text: string, at: number): TreeRecord => {
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch {
      throw corruptError(where, `tree stream line ${at} is not JSON`);
    }
    if (!validRecord(rec)) throw corruptError(where, `tree stream line ${at} is not a valid record`);
    return rec;
  };
  /** Moves the depth for a record of type t; returns the record's own depth. */
  const nest = (t: TreeRecord['t'], at: number): number => {
    const d = depth;
    if (t === 'd') {
      if (++depth > MAX_DEPTH) throw corruptError(where, `tree stream nests deeper than ${MAX_DEPTH} directories`);
    } else if (t === 'e') {
      if (depth === 0) throw corruptError(where, `tree stream line ${at} closes a directory that is not open`);
      return --depth;
    }
    return d;
  };
  /** Each complete line of data, as text, after the header (checked). */
  function* texts(data: Buffer): Generator<string> {
    bytes += data.length;
    let buf = carry.length ? Buffer.concat([carry, data]) : data;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      const text = buf.toString('utf8', start, nl);
      start = nl + 1;
      if (++line === 1) {
        if (text !== TREE_HEADER) throw corruptError(where, 'tree stream does not start with a version 1 header');
        continue;
      }
      yield text;
    }
    carry = Buffer.from(buf.subarray(start));
    buf = Buffer.alloc(0);
    if (carry.length > 64 * 1024 * 1024) throw corruptError(where, 'tree stream has a record longer than 64 MiB');
  }
  return {
    *lines(data: Buffer): Generator<TreeLine> {
      for (const text of texts(data)) {
        const rec = parseText(text, line);
        yield { rec, depth: nest(rec.t, line), line, text };
      }
    },
    *lazyLines(data: Buffer): Generator<LazyTreeLine> {
      for (const text of texts(data)) {
        const at = line;
        let parsed: TreeRecord | undefined;
        const record = () => {
          parsed ??= parseText(text, at);
          return parsed;
        };
        let t: TreeRecord['t'];
        let n = '';
        const c = text.charCodeAt(6);
        if (text === '{"t":"e"}') t = 'e';
        else if (text.startsWith('{"t":"') && text.startsWith('","n":"', 7) && (c === 100 || c === 102 || c === 108 || c === 104)) {
          // d, f, l or h, with the name next: the name is plain when no backslash comes before its closing quote
          t = text[6] as TreeRecord['t'];
          const end = text.indexOf('"', 14);
          const esc = text.indexOf('\\', 14);
          n = end > 0 && (esc < 0 || esc > end) ? text.slice(14, end) : (record() as { n: string }).n;
        } else {
          const rec = record();
          t = rec.t;
          n = rec.t === 'e' ? '' : rec.n;
        }
        // A line whose parsed fields disagree with the layout read above (a repeated key) is refused.
        const checked = () => {
          const rec = record();
          if (rec.t !== t || (rec.t !== 'e' && rec.n !== n)) throw corruptError(where, `tree stream line ${at} is not a valid record`);
          return rec;
        };
        yield { t, n, depth: nest(t, at), line: at, text, record: checked };
      }
    },
    end(): void {
      if (carry.length) throw corruptError(where, 'tree stream ends in the middle of a record');
      if (depth !== 0) throw corruptError(where, 'tree stream ends inside a directory');
      if (bytes !== tree.size) throw corruptError(where, `tree stream is ${bytes} bytes, the snapshot says ${tree.size}`);
      if (line === 0) throw corruptError(where, 'tree stream is empty');
    },
  };
}

/**
 * Reads a tree stream chunk by chunk and yields its records with their depth (0 = a source root).
 * `readChunk` returns a chunk's verified plaintext. Throws REPO_CORRUPT (naming `where`) on a
 * malformed stream: bad JSON, bad record, unbalanced nesting, or a size that differs from the snapshot's.
 */
export async function* readTree(
  tree: TreeRef,
  readChunk: (id: string, rawLength: number) => Buffer | Promise<Buffer>,
  where: string,
): AsyncGenerator<TreeLine> {
  const reader = treeLines(tree, where);
  for (const [id, raw] of tree.chunks) yield* reader.lines(await readChunk(id, raw));
  reader.end();
}

/**
 * readTree one chunk at a time and without parsing (LazyTreeLine): the records completed by each
 * chunk of the stream, in order (an array per chunk, empty when a chunk completes none). The stream's
 * framing (header, nesting, size) is checked as readTree checks it; a record's own fields only when
 * record() parses it. For stage's parent-tree cursor, where an await or a JSON.parse per record
 * would cost more than the rest of the record's work.
 */
export async function* readTreeChunks(
  tree: TreeRef,
  readChunk: (id: string, rawLength: number) => Buffer | Promise<Buffer>,
  where: string,
): AsyncGenerator<LazyTreeLine[]> {
  const reader = treeLines(tree, where);
  for (const [id, raw] of tree.chunks) yield [...reader.lazyLines(await readChunk(id, raw))];
  reader.end();
}
