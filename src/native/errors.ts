/**
 * Typed errors for failures that come out of the native data plane (CONTRIBUTING.md, "Errors"). The native
 * error object's code, syscall, errno, path and offset are kept as data; the stack is the JS call
 * site that started the operation, not the native thread.
 */
import type { NativeErrorShape } from './binding';

export class DataPlaneError extends Error {
  /** errno name (EBUSY, ENOSPC, …) or a driveseed code (ERR_CANCELLED, ERR_AUTH, …) — see binding.d.ts */
  readonly code: string;
  readonly syscall?: string;
  readonly errno?: number;
  readonly path?: string;
  readonly offset?: number;

  constructor(source: NativeErrorShape, callSite?: Error) {
    super(source.message);
    this.name = 'DataPlaneError';
    this.code = source.code ?? 'ERR_INTERNAL';
    if (source.syscall !== undefined) this.syscall = source.syscall;
    if (source.errno !== undefined) this.errno = source.errno;
    if (source.path !== undefined) this.path = source.path;
    if (source.offset !== undefined) this.offset = source.offset;
    if (callSite?.stack) this.stack = `${this.name}: ${this.message}\n${callSite.stack.split('\n').slice(1).join('\n')}`;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, syscall: this.syscall, errno: this.errno, path: this.path, offset: this.offset };
  }
}

/** Re-throws native operational errors as DataPlaneError; TypeErrors (argument contract) pass through unchanged. */
export function wrapNativeError(err: unknown, callSite?: Error): never {
  if (err instanceof TypeError) throw err;
  const e = err as NativeErrorShape;
  if (e && typeof e === 'object' && typeof e.code === 'string') throw new DataPlaneError(e, callSite);
  throw err;
}

export function isCancelled(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { code?: unknown }).code === 'ERR_CANCELLED';
}
