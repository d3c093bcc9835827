/**
 * One mapping from any thrown value to driveseed's error description, used by the CLI (exit code,
 * text and JSON error line) and the RPC server (application error). docs/exit-codes.md is the
 * written form of this file and of ExitCode; a test holds them together.
 */
import { DriveseedError, ExitCode, type ExitCategory } from '../base/errors';
import { sanitize } from '../base/secret';
import { DataPlaneError } from '../native/errors';

export interface ErrorInfo {
  /** stable string code: a DriveseedError code, a native code (ENOSPC, ERR_AUTH, …) or INTERNAL */
  code: string;
  category: ExitCategory;
  exitCode: number;
  /** one or more lines, sanitized; never a stack */
  message: string;
  details?: Record<string, unknown>;
  /** native (DataPlaneError) facts, when known */
  errno?: number;
  path?: string;
  syscall?: string;
  /** only for INTERNAL: the stack, for DRIVESEED_DEBUG=1 */
  stack?: string;
}

/** Native codes that are not operational failures of the ordinary kind. */
const NATIVE_CATEGORY: Record<string, ExitCategory> = {
  ERR_CANCELLED: 'CANCELLED',
  ERR_LOCKED: 'TARGET_REFUSED',
};

export function describeError(err: unknown): ErrorInfo {
  if (err instanceof DriveseedError) {
    return withDetails({ code: err.code, category: err.category, exitCode: ExitCode[err.category], message: sanitize(err.message) }, err.details);
  }
  if (err instanceof DataPlaneError) {
    const category = NATIVE_CATEGORY[err.code] ?? 'FAILED';
    // One cancellation code for scripts to match, whichever layer noticed the abort first; the
    // native spelling stays in details.nativeCode.
    const code = category === 'CANCELLED' ? 'CANCELLED' : err.code;
    const info: ErrorInfo = { code, category, exitCode: ExitCode[category], message: sanitize(err.message) };
    if (err.errno !== undefined) info.errno = err.errno;
    if (err.path !== undefined) info.path = sanitize(err.path);
    if (err.syscall !== undefined) info.syscall = err.syscall;
    const details: Record<string, unknown> = {};
    if (err.offset !== undefined) details.offset = err.offset;
    if (code !== err.code) details.nativeCode = err.code;
    if (Object.keys(details).length > 0) info.details = details;
    return info;
  }
  const e = err as { name?: unknown; code?: unknown; message?: unknown; stack?: unknown } | null;
  if (e && typeof e === 'object') {
    // NativeLoadError (src/native/load.ts): the addon is missing or does not load; its message says how to build it.
    if (e.code === 'ERR_NATIVE_LOAD') {
      return { code: 'NATIVE_LOAD', category: 'FAILED', exitCode: ExitCode.FAILED, message: sanitize(String(e.message)) };
    }
    // An AbortSignal-driven rejection from Node APIs (fs, timers, fetch) once the user cancelled.
    if (e.name === 'AbortError' || e.code === 'ABORT_ERR') {
      return { code: 'CANCELLED', category: 'CANCELLED', exitCode: ExitCode.CANCELLED, message: 'The operation was cancelled' };
    }
  }
  const first = sanitize(String(e && typeof e === 'object' ? e.message : err).split('\n')[0] ?? '');
  const info: ErrorInfo = {
    code: 'INTERNAL',
    category: 'INTERNAL',
    exitCode: ExitCode.INTERNAL,
    message: `Internal error: ${first} — this is a bug in driveseed; rerun with DRIVESEED_DEBUG=1 and report the output`,
  };
  if (e && typeof e === 'object' && typeof e.stack === 'string') info.stack = sanitize(e.stack);
  return info;
}

function withDetails(info: ErrorInfo, details: Record<string, unknown> | undefined): ErrorInfo {
  if (details && Object.keys(details).length > 0) info.details = JSON.parse(sanitize(JSON.stringify(details))) as Record<string, unknown>;
  return info;
}

/** The `{code, message, details}` object of a JSON `error` line. */
export function errorPayload(info: ErrorInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { code: info.code, category: info.category, exitCode: info.exitCode, message: info.message };
  const details: Record<string, unknown> = { ...(info.details ?? {}) };
  if (info.errno !== undefined) details.errno = info.errno;
  if (info.path !== undefined) details.path = info.path;
  if (info.syscall !== undefined) details.syscall = info.syscall;
  out.details = details;
  return out;
}
