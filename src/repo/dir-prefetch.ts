/**
 * Lists the directories the source walker will visit next on the libuv pool (the addon's
 * listDirAsync), while the walker works through the current one: readdir and fstatat, most of a
 * directory's cost, then run beside the walk instead of on its critical path.
 *
 * The walk is depth first, so the directories to come are a stack: a listed directory's
 * subdirectories (in visit order) go on top of those of its parent that are still to come. At most
 * MAX_IN_FLIGHT listings run at once and at most MAX_HELD entries wait in listings done ahead, so
 * memory stays bounded by a few directories whatever the tree. A directory that was not listed ahead
 * (or whose listing is not back when the walk reaches it, with a consumer that cannot wait) is listed
 * on the spot, as without this.
 */
import type { DirListing } from '../native/dir';

const MAX_IN_FLIGHT = 2;
const MAX_HELD = 16_384;

interface Ahead {
  done: boolean;
  listing?: DirListing;
  error?: unknown;
  /** settles (never rejects) when the listing is done */
  settled: Promise<void>;
}

export class DirPrefetcher {
  readonly #list: (dir: string) => Promise<DirListing>;
  /** directories still to come, in visit order: the top array first, each from its `next` */
  readonly #todo: Array<{ dirs: string[]; next: number }> = [];
  readonly #started = new Map<string, Ahead>();
  #inFlight = 0;
  #held = 0;

  constructor(list: (dir: string) => Promise<DirListing>) {
    this.#list = list;
  }

  /** `dirs` (full paths, in visit order) are visited next, before any directory given earlier. */
  ahead(dirs: string[]): void {
    if (dirs.length) this.#todo.push({ dirs, next: 0 });
    this.#pump();
  }

  /**
   * The walk has reached `dir`: its listing done ahead (maybe still running: await `settled`), or
   * undefined when it was not started (list it now).
   */
  take(dir: string): Ahead | undefined {
    const a = this.#started.get(dir);
    if (a) {
      this.#started.delete(dir);
      if (a.done && a.listing) this.#held -= a.listing.names.length;
    } else {
      // Not started: it is among the next to come (the walk visits in the order given); skip to after it.
      const top = this.#top();
      if (top) {
        const k = top.dirs.indexOf(dir, top.next);
        if (k >= 0) top.next = k + 1;
      }
    }
    this.#pump();
    return a;
  }

  #top(): { dirs: string[]; next: number } | undefined {
    while (this.#todo.length) {
      const t = this.#todo[this.#todo.length - 1]!;
      if (t.next < t.dirs.length) return t;
      this.#todo.pop();
    }
    return undefined;
  }

  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#held < MAX_HELD) {
      const top = this.#top();
      if (!top) return;
      const dir = top.dirs[top.next++]!;
      this.#inFlight++;
      const a: Ahead = { done: false, settled: Promise.resolve() };
      a.settled = this.#list(dir)
        .then(
          (listing) => {
            a.listing = listing;
            a.done = true;
            if (this.#started.get(dir) === a) this.#held += listing.names.length;
          },
          (err) => {
            a.error = err;
            a.done = true;
          },
        )
        .then(() => {
          this.#inFlight--;
          this.#pump();
        });
      this.#started.set(dir, a);
    }
  }
}
