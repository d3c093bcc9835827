/**
 * A forward-only cursor over a parent snapshot's tree stream, for stage's unchanged-file test.
 *
 * The walker and the tree stream share one order: depth first, names sorted (JS string order) within
 * each directory, the roots in the order of the snapshot's sources. So the walk can look each file up
 * in the parent by advancing this cursor (a merge join): memory is one record and the path depth,
 * whatever the size of the tree, and every parent record is read once.
 */
import type { FileRecord, LazyTreeLine } from './tree';

/** A path as the walk sees it: the source's index among the sources, then the names below it. */
export type TreePath = [number, ...string[]];

/** Orders paths the way the walk and the tree stream visit them (a parent before its children). */
export function comparePaths(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** A parent file record the cursor found: its line as stored, and the record parsed on demand. */
export interface ParentFile {
  text: string;
  record(): FileRecord;
}

/** Compares the paths prefix ‖ last, as comparePaths does, without building them. */
function compareSplit(
  aPrefix: readonly (number | string)[],
  aLen: number,
  aLast: number | string,
  bPrefix: readonly (number | string)[],
  bLast: number | string,
): number {
  const bLen = bPrefix.length;
  const n = Math.min(aLen, bLen);
  for (let i = 0; i < n; i++) {
    const x = aPrefix[i]!;
    const y = bPrefix[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  // One prefix is a prefix of the other: compare the next component of each.
  const x = aLen > n ? aPrefix[n]! : aLast;
  const y = bLen > n ? bPrefix[n]! : bLast;
  if (x !== y) return x < y ? -1 : 1;
  return aLen - bLen;
}

export class TreeCursor {
  readonly #it: AsyncIterator<LazyTreeLine[]>;
  /** names of the directories above the current record; [0] is the root's index among the sources */
  readonly #dirs: Array<number | string> = [];
  #roots = 0;
  /** records of the last chunk read, and the next one to take */
  #buf: LazyTreeLine[] = [];
  #at = 0;
  /** the current record: its path is #dirs[0, #depth) ‖ #name */
  #cur: LazyTreeLine | undefined;
  #depth = 0;
  #name: number | string = 0;
  #done = false;

  /** `chunks`: a tree stream as readTreeChunks gives it (an array of records per chunk). */
  constructor(chunks: AsyncIterable<LazyTreeLine[]>) {
    this.#it = chunks[Symbol.asyncIterator]();
  }

  /** Moves to the next record that is not an end-of-directory; false when the buffer is empty (call #fill). */
  #step(): boolean {
    while (this.#at < this.#buf.length) {
      const r = this.#buf[this.#at++]!;
      const { t, depth } = r;
      if (t === 'e') continue;
      this.#dirs.length = depth;
      // A root (depth 0) is named by its position among the sources, not by its name.
      const name: number | string = depth === 0 ? this.#roots++ : r.n;
      this.#cur = r;
      this.#depth = depth;
      this.#name = name;
      if (t === 'd') this.#dirs.push(name);
      return true;
    }
    return false;
  }

  async #fill(): Promise<void> {
    const r = await this.#it.next();
    if (r.done) {
      this.#done = true;
      this.#cur = undefined;
      return;
    }
    this.#buf = r.value;
    this.#at = 0;
  }

  /** Whether the current record lies before prefix ‖ last in walk order. */
  #before(prefix: readonly (number | string)[], last: number | string): boolean {
    return compareSplit(this.#dirs, this.#depth, this.#name, prefix, last) < 0;
  }

  /**
   * The parent's file record at the path prefix ‖ last, or undefined when the parent has none
   * there. Paths must be asked for in walk order; records before the path are skipped for good.
   * Answers without a promise while the records it needs are already read (most calls).
   */
  file(prefix: readonly (number | string)[], last: number | string): ParentFile | undefined | Promise<ParentFile | undefined> {
    for (;;) {
      if (this.#done) return undefined;
      if (!this.#cur || this.#before(prefix, last)) {
        if (this.#step()) continue;
        return this.#fill().then(() => this.file(prefix, last));
      }
      const c = this.#cur;
      if (c.t !== 'f' || compareSplit(this.#dirs, this.#depth, this.#name, prefix, last) !== 0) return undefined;
      return { text: c.text, record: c.record as () => FileRecord };
    }
  }

  /** Stops reading the stream. */
  async close(): Promise<void> {
    this.#done = true;
    this.#cur = undefined;
    await this.#it.return?.();
  }
}
