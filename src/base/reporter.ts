/**
 * The one channel through which the core reports (CONTRIBUTING.md, "Reporting"). The core never prints: it calls a
 * Reporter, and the front ends render it — text on a terminal (src/cli/text-reporter.ts), JSON lines
 * (src/cli/json-reporter.ts), JSON-RPC notifications (src/rpc/). Reporter methods must not throw.
 */

export interface Progress {
  /** short stable name of the phase: "scan", "stage", "write", "verify", "upload", "restore", … */
  phase: string;
  bytesDone: number;
  bytesTotal?: number;
  itemsDone?: number;
  itemsTotal?: number;
  /** bytes per second over the recent window */
  rate?: number;
  /** seconds remaining, when bytesTotal is known */
  etaSeconds?: number;
  /** the file, pack or drive being worked on */
  current?: string;
}

export interface Reporter {
  /** frequent; renderers may throttle further */
  progress(p: Progress): void;
  /** something the user should know that did not stop the work (a skipped file, an old job) */
  warning(code: string, message: string, details?: Record<string, unknown>): void;
  /** a human sentence about what is happening ("Formatting /dev/loop3 as NTFS") */
  info(message: string, details?: Record<string, unknown>): void;
  /** a structured fact for machines and humans: "plan", "drive", "snapshot", "job", … */
  event(type: string, data: Record<string, unknown>): void;
}

export const silentReporter: Reporter = {
  progress() {},
  warning() {},
  info() {},
  event() {},
};

/** Computes rate and ETA from successive byte counts (sliding window of ~5 s). */
export class RateMeter {
  private samples: Array<[number, number]> = [];
  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = () => Date.now(),
  ) {}
  sample(bytesDone: number, bytesTotal?: number): { rate: number; etaSeconds?: number } {
    const t = this.now();
    this.samples.push([t, bytesDone]);
    while (this.samples.length > 2 && t - this.samples[0]![0] > this.windowMs) this.samples.shift();
    const [t0, b0] = this.samples[0]!;
    const dt = (t - t0) / 1000;
    const rate = dt > 0 ? (bytesDone - b0) / dt : 0;
    const etaSeconds = bytesTotal !== undefined && rate > 0 ? Math.max(0, (bytesTotal - bytesDone) / rate) : undefined;
    return etaSeconds === undefined ? { rate } : { rate, etaSeconds };
  }
}
