/**
 * driveseed's error model. Every failure a user can cause or meet is a DriveseedError with a stable
 * string `code` (documented in docs/exit-codes.md) and an exit category; the CLI maps the category
 * to the process exit code, the JSON mode prints `{type:"error", code, message, details}`, and the
 * RPC server maps it to an application error. Messages name the thing and the fix, and never carry
 * secrets.
 */

export const ExitCode = {
  /** everything done */
  OK: 0,
  /** the operation failed for an operational reason (I/O error, disk full, wrong passphrase, lock held) */
  FAILED: 1,
  /** bad command line / RPC params / configuration: nothing was done */
  USAGE: 2,
  /** done, but some items were skipped (unreadable files); see the warnings */
  PARTIAL: 3,
  /** a check or verification found damaged or missing data */
  VERIFY_FAILED: 4,
  /** a target disk or volume was refused (system disk, mounted, busy, given twice, not confirmed) */
  TARGET_REFUSED: 5,
  /** Azure or the emulator returned an error or could not be reached */
  AZURE: 6,
  /** cancelled by the user (Ctrl-C, $/cancelRequest, AbortSignal) */
  CANCELLED: 130,
  /** a bug in driveseed; please report it with the --json error output */
  INTERNAL: 70,
} as const;
export type ExitCategory = keyof typeof ExitCode;

export interface DriveseedErrorOptions {
  category: ExitCategory;
  /** structured facts for machines (ids, paths, offsets); never secrets */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class DriveseedError extends Error {
  readonly code: string;
  readonly category: ExitCategory;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, options: DriveseedErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DriveseedError';
    this.code = code;
    this.category = options.category;
    if (options.details) this.details = options.details;
  }

  get exitCode(): number {
    return ExitCode[this.category];
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, category: this.category, details: this.details };
  }
}

/** Bad input: an option, a param or a configuration value. `field` names it (e.g. "--target" or "target"). */
export function usageError(code: string, message: string, details?: Record<string, unknown>): DriveseedError {
  return new DriveseedError(code, message, { category: 'USAGE', details });
}

export function cancelledError(): DriveseedError {
  return new DriveseedError('CANCELLED', 'The operation was cancelled; what was written so far is consistent and a rerun resumes it', {
    category: 'CANCELLED',
  });
}
