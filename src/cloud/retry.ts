/**
 * Retries of transient storage failures with exponential backoff and full jitter, a per-attempt
 * timeout, the service's Retry-After honoured (up to 60 s), and the caller's AbortSignal honoured
 * between and during attempts. The SDK's own retry policy is switched off in our clients (client.ts)
 * so that this is the one place that decides.
 */
import { cancelledError } from '../base/errors';
import { storageFailure } from './errors';

export interface RetryOptions {
  /** attempts in all, including the first; default 6 (about 30 s of backoff in the worst case) */
  attempts?: number;
  /** first backoff ceiling in ms; doubles per attempt; default 250 */
  baseDelayMs?: number;
  /** backoff ceiling; default 8000 */
  maxDelayMs?: number;
  /** per-attempt timeout in ms; a timed-out attempt counts as transient; default 120 000 (a 4 MiB block at 0.3 Mbit/s) */
  attemptTimeoutMs?: number;
  /** called before each retry sleep (for warnings and counters) */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
  'ATTEMPT_TIMEOUT',
  'SHORT_READ',
  // Azurite's in-memory store when full is not transient; listed here only to say so: MemoryExtentStoreAtSizeLimit
]);

/** True for failures that a later identical request may not meet: 408, 429, 5xx, resets, timeouts. */
export function isTransient(err: unknown): boolean {
  const f = storageFailure(err);
  if (f.statusCode !== undefined && f.statusCode !== 0) {
    return f.statusCode === 408 || f.statusCode === 429 || f.statusCode >= 500;
  }
  if (f.code && TRANSIENT_CODES.has(f.code)) return true;
  // The SDK's body stream (RetriableReadableStream) reports a connection lost mid-body as an AbortError;
  // withRetry has already told a real abort (the caller's signal, the attempt timeout) apart.
  if (err instanceof Error && err.name === 'AbortError') return true;
  // core-rest-pipeline wraps socket errors as RestError without statusCode; its message keeps the errno.
  const msg = err instanceof Error ? err.message : '';
  return /ECONNRESET|socket hang up|ETIMEDOUT|EPIPE|other side closed/i.test(msg);
}

/** The longest Retry-After we wait for; a longer one counts as this (the attempts still run out). */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long a refusal asked to be left alone, in ms: `retry-after-ms`/`x-ms-retry-after-ms`, or
 * `Retry-After` in seconds or as an HTTP date (RFC 9110, section 10.2.3), which the service may send
 * with 503 ServerBusy and 429. Undefined without one.
 */
export function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { response?: { headers?: { get?: (name: string) => string | undefined } } } | undefined)?.response?.headers;
  if (typeof headers?.get !== 'function') return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = Number(headers.get(name));
    if (headers.get(name) && Number.isFinite(v) && v >= 0) return Math.min(v, MAX_RETRY_AFTER_MS);
  }
  const raw = headers.get('retry-after')?.trim();
  if (!raw) return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS) : undefined;
}

class AttemptTimeout extends Error {
  readonly code = 'ATTEMPT_TIMEOUT';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, fails with a non-transient error, runs out of attempts, or `signal`
 * aborts. `fn` gets a signal that aborts on the caller's signal or on the attempt timeout; it must
 * pass it to the SDK call. On final failure it throws the last error with `attempts` set on it.
 * When the caller's signal aborts, it throws `signal.reason` if that is an Error (so a LEASE_LOST
 * reason surfaces as itself), else CANCELLED.
 */
export async function withRetry<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal | undefined, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 250;
  const cap = options.maxDelayMs ?? 8000;
  const timeoutMs = options.attemptTimeoutMs ?? 120_000;
  const abortReason = () => (signal?.reason instanceof Error ? signal.reason : cancelledError());
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason();
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(new AttemptTimeout(timeoutMs)), timeoutMs);
    try {
      return await fn(ctl.signal);
    } catch (err) {
      if (signal?.aborted) throw abortReason();
      const error = ctl.signal.reason instanceof AttemptTimeout ? ctl.signal.reason : err;
      if (attempt >= attempts || !isTransient(error)) {
        if (error && typeof error === 'object') (error as { attempts?: number }).attempts = attempt;
        throw error;
      }
      // Full jitter, but never sooner than the service asked (Retry-After).
      const delayMs = Math.max(Math.round(Math.random() * Math.min(cap, base * 2 ** (attempt - 1))), retryAfterMs(error) ?? 0);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal).catch(() => {
        throw abortReason();
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** A counting semaphore: the cap on blocks in flight (and so on memory) shared by every transfer of a backend. */
export class Semaphore {
  private waiters: Array<() => void> = [];
  private free: number;
  constructor(readonly size: number) {
    this.free = size;
  }
  async acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : cancelledError();
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== grant);
        reject(signal?.reason instanceof Error ? signal.reason : cancelledError());
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
  /** slots currently taken (for counters and tests) */
  get inUse(): number {
    return this.size - this.free;
  }
}
