/**
 * Ranged reads of packs into sparse local files: what reading a remote repository's packs as local
 * files (restore --from-cloud, src/core/restore-source.ts) needs from the storage side.
 *
 * Chunks close together are coalesced into ranges of at most MAX_RANGE bytes; RANGES_IN_FLIGHT
 * ranges are fetched at once (a ContainerBackend splits each into 4 MiB parallel ranged reads) and
 * written at the same offsets into the local file that stands for the pack, so nothing else of a
 * pack is fetched. Memory: RANGES_IN_FLIGHT × MAX_RANGE bytes in flight.
 */
import * as fs from 'node:fs';
import type { Backend } from '../repo/backend';

/** Largest coalesced range fetched in one readRange call (memory per range in flight). */
export const MAX_RANGE = 8 * 1024 * 1024;
/** Chunks closer than this are fetched in one range (a few wasted bytes beat another request). */
export const GAP = 256 * 1024;
export const RANGES_IN_FLIGHT = 4;

/** A byte range [start, end) of pack `pack` (the caller's pack number). */
export interface PackRange {
  pack: number;
  start: number;
  end: number;
}

/** Coalesces chunk extents into ranges per pack: neighbours closer than GAP, each range at most MAX_RANGE. */
export function coalesceRanges(chunks: Iterable<{ pack: number; offset: number; length: number }>): PackRange[] {
  const byPack = new Map<number, Array<[number, number]>>();
  for (const c of chunks) {
    let l = byPack.get(c.pack);
    if (!l) byPack.set(c.pack, (l = []));
    l.push([c.offset, c.offset + c.length]);
  }
  const ranges: PackRange[] = [];
  for (const [pack, list] of byPack) {
    list.sort((a, b) => a[0] - b[0]);
    let cur: PackRange | undefined;
    for (const [s, e] of list) {
      if (cur && s <= cur.end + GAP && Math.max(e, cur.end) - cur.start <= MAX_RANGE) cur.end = Math.max(cur.end, e);
      else ranges.push((cur = { pack, start: s, end: e }));
    }
  }
  return ranges;
}

/**
 * Reads each range from the backend object `where(pack).path` and writes it at the same offset into
 * the local file `where(pack).file` (created 0600 when missing, sparse elsewhere). Returns the bytes fetched.
 */
export async function fetchRanges(
  backend: Backend,
  ranges: PackRange[],
  where: (pack: number) => { path: string; file: string },
  signal?: AbortSignal,
): Promise<number> {
  let next = 0;
  let bytesFetched = 0;
  const worker = async () => {
    while (next < ranges.length) {
      const r = ranges[next++]!;
      const { path, file } = where(r.pack);
      const bytes = await backend.readRange(path, r.start, r.end - r.start, signal);
      const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, r.start);
      } finally {
        fs.closeSync(fd);
      }
      bytesFetched += bytes.length;
    }
  };
  await Promise.all(Array.from({ length: Math.min(RANGES_IN_FLIGHT, ranges.length) }, worker));
  return bytesFetched;
}
