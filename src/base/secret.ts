/**
 * Secrets are a type (CONTRIBUTING.md, "Secrets"). Passphrases, BitLocker recovery passwords, storage keys and
 * SAS tokens are held in a Secret, which prints as [redacted] through toString, JSON.stringify and
 * util.inspect. Only reveal() gives the value, and only code that sends it where it must go calls it.
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';
const registry = new Set<string>();

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    if (value.length >= 4) registry.add(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * The backstop: replaces every known secret value, and anything that looks like a SAS signature,
 * account key or BitLocker recovery password, in a line about to be logged or printed.
 */
export function sanitize(text: string): string {
  let out = text;
  for (const v of registry) if (out.includes(v)) out = out.split(v).join(REDACTED);
  return out
    .replace(/([?&]sig=)[^&\s"]+/gi, `$1${REDACTED}`)
    .replace(/(AccountKey=)[^;\s"]+/gi, `$1${REDACTED}`)
    .replace(/\b\d{6}(?:-\d{6}){7}\b/g, REDACTED);
}
