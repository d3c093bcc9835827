/**
 * A forward-only cursor over a parent snapshot's tree stream, for stage's unchanged-file test.
 *
 * The walker and the tree stream share one order: depth first, names sorted (JS string order) within
 * each directory, the roots in the order of the snapshot's sources. So the walk can look each file up
 * in the parent by advancing this cursor (a merge join): memory is one record and the path depth,
 * whatever the size of the tree, and every parent record is read once.
 */
import type { FileRecord, TreeRecord } from './tree';

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

export class TreeCursor {
  readonly #it: AsyncIterator<{ rec: TreeRecord; depth: number }>;
  /** names of the directories above the current record; [0] is the root's index among the sources */
  readonly #dirs: Array<number | string> = [];
  #roots = 0;
  #cur: { path: Array<number | string>; rec: TreeRecord } | undefined;
  #done = false;

  constructor(records: AsyncIterable<{ rec: TreeRecord; depth: number }>) {
    this.#it = records[Symbol.asyncIterator]();
  }

  async #next(): Promise<void> {
    for (;;) {
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        this.#cur = undefined;
        return;
      }
      const { rec, depth } = r.value;
      if (rec.t === 'e') continue;
      this.#dirs.length = depth;
      // A root (depth 0) is named by its position among the sources, not by its name.
      const name: number | string = depth === 0 ? this.#roots++ : rec.n;
      const p = [...this.#dirs, name];
      if (rec.t === 'd') this.#dirs.push(name);
      this.#cur = { path: p, rec };
      return;
    }
  }

  /**
   * The parent's file record at `path`, or undefined when the parent has none there. Paths must be
   * asked for in walk order; records before `path` are skipped for good.
   */
  async file(path: TreePath): Promise<FileRecord | undefined> {
    if (!this.#cur && !this.#done) await this.#next();
    while (this.#cur && comparePaths(this.#cur.path, path) < 0) await this.#next();
    const c = this.#cur;
    return c && c.rec.t === 'f' && comparePaths(c.path, path) === 0 ? c.rec : undefined;
  }

  /** Stops reading the stream. */
  async close(): Promise<void> {
    this.#done = true;
    this.#cur = undefined;
    await this.#it.return?.();
  }
}
