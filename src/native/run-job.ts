/**
 * Runs a native job with an AbortSignal and a progress callback, and turns its failures into
 * DataPlaneError with the caller's stack. Shared by io.ts and pipeline.ts.
 */
import type { CancelToken, NativeProgress } from './binding';
import { wrapNativeError } from './errors';
import { loadBinding } from './load';

export interface JobOptions<E> {
  signal?: AbortSignal;
  /** called on the JS thread at most every 200 ms, with the ordered events since the last call */
  onProgress?: (progress: NativeProgress, events: E[]) => void;
}

export async function runJob<E, R>(
  start: (onProgress: ((p: NativeProgress, e: E[]) => void) | undefined, token: CancelToken) => Promise<R>,
  options: JobOptions<E> = {},
): Promise<R> {
  const callSite = new Error();
  const binding = loadBinding();
  const token = new binding.CancelToken();
  const { signal, onProgress } = options;
  if (signal?.aborted) token.cancel();
  const onAbort = () => token.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  let callbackError: unknown;
  const cb = onProgress
    ? (p: NativeProgress, e: E[]) => {
        try {
          onProgress(p, e);
        } catch (err) {
          // A throwing consumer stops the job; the error is rethrown once the job has settled.
          callbackError ??= err;
          token.cancel();
        }
      }
    : undefined;
  try {
    const result = await start(cb, token);
    if (callbackError) throw callbackError;
    return result;
  } catch (err) {
    if (callbackError) throw callbackError;
    return wrapNativeError(err, callSite);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
