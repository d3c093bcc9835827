/**
 * Where the repository passphrase comes from (never argv): `--passphrase-file`, the environment
 * variable DRIVESEED_PASSPHRASE, or a prompt without echo (twice when a repository is created).
 * Over RPC a `passphrase` param may carry it. It is held in a Secret from the moment it is read.
 */
import * as fs from 'node:fs';
import { DriveseedError, usageError } from '../base/errors';
import type { CommandContext } from './command';
import { Secret } from '../base/secret';

export const PASSPHRASE_ENV = 'DRIVESEED_PASSPHRASE';

/** A cooked passphrase source: the secret itself, or a prompt to run later (run() has the prompter). */
export type PassphraseSource =
  | { kind: 'file'; file: string; secret: Secret }
  | { kind: 'env'; secret: Secret }
  | { kind: 'param'; secret: Secret }
  | { kind: 'prompt' };

/** Cook step: reads --passphrase-file or the environment; otherwise defers to a prompt. */
export function cookPassphrase(raw: { passphraseFile?: string; passphrase?: string }, env: Record<string, string | undefined>): PassphraseSource {
  if (raw.passphraseFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(raw.passphraseFile, 'utf8');
    } catch (err) {
      throw usageError(
        'INVALID_OPTION',
        `Cannot read --passphrase-file ${raw.passphraseFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Give a readable file whose first line is the passphrase.`,
        {
          field: 'passphraseFile',
        },
      );
    }
    // The first line, without its line ending: `echo secret > file` must give "secret".
    const first = text.split(/\r?\n/)[0] ?? '';
    if (!first)
      throw usageError('INVALID_OPTION', `--passphrase-file ${raw.passphraseFile} is empty; put the passphrase on its first line.`, {
        field: 'passphraseFile',
      });
    return { kind: 'file', file: raw.passphraseFile, secret: new Secret(first) };
  }
  if (typeof raw.passphrase === 'string') {
    if (!raw.passphrase) throw usageError('INVALID_OPTION', 'The passphrase param is empty.', { field: 'passphrase' });
    return { kind: 'param', secret: new Secret(raw.passphrase) };
  }
  const fromEnv = env[PASSPHRASE_ENV];
  if (fromEnv) return { kind: 'env', secret: new Secret(fromEnv) };
  return { kind: 'prompt' };
}

/**
 * Run step: the passphrase, prompting when needed. `confirm` asks twice (a new repository) and
 * fails when the two differ. Without a prompter (--json, RPC) a missing passphrase is a usage error.
 */
export async function resolvePassphrase(source: PassphraseSource, ctx: Pick<CommandContext, 'prompter'>, confirm: boolean): Promise<Secret> {
  if (source.kind !== 'prompt') return source.secret;
  if (!ctx.prompter) {
    throw usageError(
      'PASSPHRASE_REQUIRED',
      `A passphrase is needed and there is no terminal to ask on: give --passphrase-file <file> or set ${PASSPHRASE_ENV}.`,
      { field: 'passphraseFile' },
    );
  }
  const first = new Secret(await ctx.prompter.askSecret(confirm ? 'New repository passphrase: ' : 'Repository passphrase: '));
  if (!first.reveal()) throw usageError('PASSPHRASE_EMPTY', 'The passphrase is empty; type one, or give --passphrase-file.', { field: 'passphraseFile' });
  if (confirm) {
    const again = await ctx.prompter.askSecret('Repeat the passphrase: ');
    if (again !== first.reveal()) {
      throw new DriveseedError('PASSPHRASE_MISMATCH', 'The two passphrases differ; nothing was created. Run the command again.', { category: 'USAGE' });
    }
  }
  return first;
}
