/**
 * Option declarations and cook helpers that several commands share. This module is not a command
 * (it exports no CommandSpec), so commands import it and never each other: a flag that two commands
 * take is declared here once, with its one missing-value and invalid-value message.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { usageError } from '../base/errors';
import type { OptionSpec } from '../core/command';

/**
 * `--staging <dir>`: the staging location `stage` wrote. `description` says what this command does
 * with it (it is the --help line); `required: false` for the commands that can find it themselves.
 */
export function stagingOption(description = 'the staging location', required = true): OptionSpec {
  return { flags: '--staging <dir>', name: 'staging', description, type: 'string', ...(required ? { required: true } : {}) };
}

/**
 * The absolute staging path, or the usage error MISSING_OPTION naming --staging. `why` is appended
 * to the message when the command needs the staging location for something the user may not expect
 * (backup: its settings name the cloud repository).
 */
export function cookStaging(value: string | undefined, why?: string): string {
  if (!value) throw usageError('MISSING_OPTION', `Give the staging location with --staging <dir>${why ? `; ${why}` : ''}.`, { field: 'staging' });
  return path.resolve(value);
}

export const passphraseOptions: OptionSpec[] = [
  {
    flags: '--passphrase-file <file>',
    name: 'passphraseFile',
    description: 'file whose first line is the repository passphrase (else $DRIVESEED_PASSPHRASE, else a prompt)',
    type: 'string',
  },
  {
    flags: '--passphrase <passphrase>',
    name: 'passphrase',
    description: 'the repository passphrase (RPC only; never on a command line)',
    type: 'string',
    rpcOnly: true,
  },
];

/** Integer option in [min, max], or a usage error naming the flag and the range. */
export function intOption(value: number | undefined, flag: string, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw usageError('INVALID_OPTION', `Invalid ${flag} ${value}: expected a whole number from ${min} to ${max}.`, { field, value });
  }
  return value;
}

/** Default for --threads: every CPU the process may use (compression and encryption scale with cores). */
export const defaultThreads = (): number => Math.max(1, os.availableParallelism());

/** Emulator URL: an http(s) URL (the emulator listens on 127.0.0.1 over http). */
export function cookEmulatorUrl(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw usageError('INVALID_OPTION', `Invalid --emulator "${v}": give the emulator's ARM endpoint, such as http://127.0.0.1:7080`, {
      field: 'emulator',
      value: v,
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw usageError('INVALID_OPTION', `Invalid --emulator "${v}": expected an http:// or https:// URL`, { field: 'emulator', value: v });
  return v.replace(/\/+$/, '');
}

/** --log-level Error|Verbose (case-insensitive); Error is the service's default. */
export function cookLogLevel(v: string | undefined): 'Error' | 'Verbose' {
  if (v === undefined || /^error$/i.test(v)) return 'Error';
  if (/^verbose$/i.test(v)) return 'Verbose';
  throw usageError('INVALID_OPTION', `Invalid --log-level "${v}": expected Error or Verbose`, { field: 'logLevel', value: v });
}
