/**
 * The source walker's directory listing through the addon (binding.d.ts "listDir"): names and lstat
 * fields of a whole directory in one call, about 2.4× cheaper per entry than readdirSync plus one
 * lstatSync per entry. Absent on Windows, from an addon built before it existed, and when
 * DRIVESEED_WALK=node asks for Node's calls (A/B benchmarks, and a way around the addon if it ever
 * disagrees with Node); the walker then uses readdirSync and lstatSync.
 */
import { loadBinding } from './load';

export interface DirListing {
  names: string[];
  /** DIR_FIELDS values per name: see the F_* offsets */
  stats: BigUint64Array;
  /** raw names that are not valid UTF-8 */
  invalid: Buffer[];
}

/** Offsets into a listing's per-entry fields. */
export const F_ERRNO = 0;
export const F_MODE = 1;
export const F_UID = 2;
export const F_GID = 3;
export const F_NLINK = 4;
export const F_SIZE = 5;
export const F_DEV = 6;
export const F_INO = 7;
export const F_MTIME_NS = 8;
export const F_CTIME_NS = 9;
export const DIR_FIELDS = 10;

let lister: ((dir: string) => DirListing) | null | undefined;
let asyncLister: ((dir: string) => Promise<DirListing>) | null | undefined;

/** The addon's directory listing, or undefined where the walker must use Node's calls. */
export function nativeListDir(): ((dir: string) => DirListing) | undefined {
  if (lister === undefined) {
    lister = null;
    if (process.env.DRIVESEED_WALK !== 'node') {
      try {
        const b = loadBinding();
        if (typeof b.listDir === 'function' && b.listDirFields === DIR_FIELDS) lister = b.listDir;
      } catch {
        /* no addon: stage cannot run anyway, and the count walk still works with Node's calls */
      }
    }
  }
  return lister ?? undefined;
}

/** The addon's listing on the libuv pool (the same result as nativeListDir's), or undefined where there is none. */
export function nativeListDirAsync(): ((dir: string) => Promise<DirListing>) | undefined {
  if (asyncLister === undefined) {
    asyncLister = null;
    if (nativeListDir()) {
      const b = loadBinding();
      if (typeof b.listDirAsync === 'function') asyncLister = b.listDirAsync;
    }
  }
  return asyncLister ?? undefined;
}
