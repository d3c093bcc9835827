/**
 * Keeps stdout protocol-only in --json and rpc modes (CONTRIBUTING.md, "Machine interfaces"): console.log/info/debug/warn
 * and any other process.stdout.write (a dependency's, a stray print) go to stderr from here on;
 * the returned function is the only way left to write to stdout, and only the framer holds it.
 */
let original: ((s: string, cb?: () => void) => boolean) | undefined;

/** Idempotent: a second call returns the same original writer. */
export function guardStdout(): (s: string, cb?: () => void) => boolean {
  if (original) return original;
  const stdout = process.stdout;
  original = stdout.write.bind(stdout) as (s: string, cb?: () => void) => boolean;
  const toStderr = (...args: unknown[]) => process.stderr.write(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.warn = toStderr;
  stdout.write = ((chunk: unknown, ...rest: unknown[]) => (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest)) as typeof stdout.write;
  return original;
}

/** The real stdout writer, guarded or not (for the final flush). */
export function rawStdoutWrite(s: string, cb?: () => void): boolean {
  return original ? original(s, cb) : process.stdout.write(s, cb);
}
