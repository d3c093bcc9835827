/**
 * The in-memory chunk index: every chunk id of the repository with its pack and location, in
 * compact sorted arrays (about 64 bytes per chunk: 32 id + 24 location + 8 lookup prefix; 1M chunks ≈ 64 MiB, i.e.
 * roughly 1 TiB of unique data at the 1 MiB average chunk size).
 */
import type { IndexDoc } from './index-file';

export interface PackRef {
  name: string;
  path: string;
  size: number;
}

export interface ChunkLocation {
  /** index into ChunkIndex.packs */
  pack: number;
  offset: number;
  length: number;
  rawLength: number;
}

/** Appends ids, sorts once; lookups by binary search. The first location of a duplicated id wins. */
export class ChunkIndex {
  readonly packs: PackRef[] = [];
  readonly #packByName = new Map<string, number>();
  #ids = Buffer.alloc(0);
  #pack = new Uint32Array(0);
  #offset = new Float64Array(0);
  #length = new Float64Array(0);
  #raw = new Uint32Array(0);
  #n = 0;
  #sorted = true;
  /**
   * The first 6 bytes of each sorted id as a number: lookups binary-search this array in JS and compare
   * whole ids only where the prefix matches: one native compare per lookup instead of ~17 (an unchanged
   * re-stage looks up every chunk of every unchanged file).
   */
  #prefix = new Float64Array(0);

  get size(): number {
    return this.#n;
  }

  /** Adds every pack and entry of an index document. */
  addIndex(doc: IndexDoc): void {
    for (const p of doc.packs) {
      let pi = this.#packByName.get(p.name);
      if (pi === undefined) {
        pi = this.packs.length;
        this.packs.push({ name: p.name, path: p.path, size: p.size });
        this.#packByName.set(p.name, pi);
      }
      this.#reserve(this.#n + p.entries.length);
      for (const [id, offset, length, rawLength] of p.entries) {
        const i = this.#n++;
        this.#ids.write(id, i * 32, 32, 'hex');
        this.#pack[i] = pi;
        this.#offset[i] = offset;
        this.#length[i] = length;
        this.#raw[i] = rawLength;
      }
      this.#sorted = false;
    }
  }

  #reserve(n: number): void {
    if (n <= this.#pack.length) return;
    const cap = Math.max(n, Math.ceil(this.#pack.length * 1.5), 1024);
    const ids = Buffer.alloc(cap * 32);
    this.#ids.copy(ids, 0, 0, this.#n * 32);
    this.#ids = ids;
    const grow = <T extends Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.#n));
      return b;
    };
    this.#pack = grow(this.#pack, (c) => new Uint32Array(c));
    this.#offset = grow(this.#offset, (c) => new Float64Array(c));
    this.#length = grow(this.#length, (c) => new Float64Array(c));
    this.#raw = grow(this.#raw, (c) => new Uint32Array(c));
  }

  // Entries [0, #sortedN) are sorted and unique; appended ones are sorted on their own and merged in,
  // so a stage that adds a batch at a time pays O(n) per batch, not O(n log n).
  #sortedN = 0;

  #sort(): void {
    if (this.#sorted) return;
    const ids = this.#ids;
    const s = this.#sortedN;
    const n = this.#n;
    const key = (i: number) => ids.readUIntBE(i * 32, 6);
    const tail = Array.from({ length: n - s }, (_, i) => s + i);
    const keys = new Float64Array(n);
    for (let i = s; i < n; i++) keys[i] = key(i);
    tail.sort((a, b) => keys[a]! - keys[b]! || ids.compare(ids, b * 32, b * 32 + 32, a * 32, a * 32 + 32) || a - b);
    const nIds = Buffer.alloc(n * 32);
    const nPack = new Uint32Array(n);
    const nOff = new Float64Array(n);
    const nLen = new Float64Array(n);
    const nRaw = new Uint32Array(n);
    let m = 0;
    const take = (i: number) => {
      if (m > 0 && ids.compare(nIds, (m - 1) * 32, m * 32, i * 32, i * 32 + 32) === 0) return; // duplicate id: first wins
      ids.copy(nIds, m * 32, i * 32, i * 32 + 32);
      nPack[m] = this.#pack[i]!;
      nOff[m] = this.#offset[i]!;
      nLen[m] = this.#length[i]!;
      nRaw[m] = this.#raw[i]!;
      m++;
    };
    let a = 0;
    let b = 0;
    while (a < s || b < tail.length) {
      if (b >= tail.length) take(a++);
      else if (a >= s) take(tail[b++]!);
      else if (ids.compare(ids, tail[b]! * 32, tail[b]! * 32 + 32, a * 32, a * 32 + 32) <= 0) take(a++);
      else take(tail[b++]!);
    }
    this.#ids = nIds;
    this.#pack = nPack;
    this.#offset = nOff;
    this.#length = nLen;
    this.#raw = nRaw;
    this.#n = m;
    this.#sortedN = m;
    this.#sorted = true;
    const prefix = new Float64Array(m);
    for (let i = 0; i < m; i++) prefix[i] = nIds.readUIntBE(i * 32, 6);
    this.#prefix = prefix;
  }

  /** Location of a chunk, or undefined when the repository does not hold it. */
  lookup(id: Uint8Array): ChunkLocation | undefined {
    this.#sort();
    if (id.length !== 32) return undefined;
    const want = Buffer.from(id.buffer, id.byteOffset, id.length);
    const key = want.readUIntBE(0, 6);
    const i = this.#indexOf(want, key, this.#lowerBound(key));
    return i < 0 ? undefined : { pack: this.#pack[i]!, offset: this.#offset[i]!, length: this.#length[i]!, rawLength: this.#raw[i]! };
  }

  /**
   * Whether the repository holds the chunk with this id (64 lowercase hex digits, as tree records
   * carry it). Same search as lookup(), without a Buffer or a location object per call: an unchanged
   * re-stage asks this for every chunk of every unchanged file.
   */
  hasHex(id: string): boolean {
    this.#sort();
    if (id.length !== 64) return false;
    const key = Number.parseInt(id.slice(0, 12), 16);
    if (!(key >= 0)) return false;
    const lo = this.#lowerBound(key);
    if (lo >= this.#n || this.#prefix[lo] !== key) return false;
    const want = this.#scratch;
    if (want.write(id, 0, 32, 'hex') !== 32) return false;
    return this.#indexOf(want, key, lo) >= 0;
  }

  /** The first sorted entry whose 6-byte prefix is not below key. */
  #lowerBound(key: number): number {
    const prefix = this.#prefix;
    let lo = 0;
    let hi = this.#n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (prefix[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The entry holding the 32-byte id `want` among the (almost always single) entries from lo with its prefix key, or -1. */
  #indexOf(want: Buffer, key: number, lo: number): number {
    for (let i = lo; i < this.#n && this.#prefix[i] === key; i++) {
      const c = this.#ids.compare(want, 0, 32, i * 32, i * 32 + 32);
      if (c === 0) return i;
      if (c > 0) break; // ids[i] > want: sorted, so no later entry matches
    }
    return -1;
  }

  readonly #scratch = Buffer.alloc(32);

  /** The sorted concatenation of all 32-byte ids (packJob's `known`). Shares memory with the index. */
  knownBuffer(): Buffer {
    this.#sort();
    return this.#ids.subarray(0, this.#n * 32);
  }
}
