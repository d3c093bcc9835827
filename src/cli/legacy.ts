/**
 * The command-line syntax of Microsoft's AzureOfflineBackupDiskPrep, kept so that old runbooks work:
 *
 *   s:<staging> [p:<publishsettings>]        → prep --staging <staging> [--publish-settings <file>]
 *   u: [s:<staging>] [p:<publishsettings>]   → ship [--staging <staging>] [--publish-settings <file>]
 *
 * Switch letters are case-insensitive; a value may itself contain ':' (s:D:\Staging). The program's
 * global options ({@link GLOBAL_OPTIONS}) may come before the legacy words (`driveseed --json u:`) and
 * stay in front; other tokens (--json, --yes, …) after the first legacy word pass through unchanged
 * after the rewritten ones. Anything else is not legacy syntax and is returned untouched.
 */
import { usageError } from '../base/errors';

const SWITCH = /^([sSpPuU]):(.*)$/s;

/**
 * The options of the program itself (src/cli/program.ts), which may precede a command and so also the
 * legacy words. Flags without a value; test/cli-legacy.test.ts holds this list to the program's.
 */
export const GLOBAL_OPTIONS: readonly string[] = ['--json', '--verbose'];

/** Rewrites `args` (argv without node and script) when its first word after the global options is a legacy switch. */
export function rewriteLegacyArgv(args: readonly string[]): string[] {
  let lead = 0;
  while (lead < args.length && GLOBAL_OPTIONS.includes(args[lead]!)) lead++;
  const first = args[lead];
  if (first === undefined || !SWITCH.test(first)) return [...args];
  return [...args.slice(0, lead), ...rewriteLegacyWords(args.slice(lead))];
}

/** `args` starts with a legacy switch: the modern command and its options, then the other tokens. */
function rewriteLegacyWords(args: readonly string[]): string[] {
  let command: 'prep' | 'ship' = 'prep';
  let staging: string | undefined;
  let publish: string | undefined;
  const rest: string[] = [];
  args.forEach((tok, i) => {
    const m = SWITCH.exec(tok);
    if (!m || tok.startsWith('-')) {
      rest.push(tok);
      return;
    }
    const key = m[1]!.toLowerCase();
    const value = m[2]!;
    if (key === 'u') {
      if (i !== 0 || value !== '') {
        throw usageError('LEGACY_SYNTAX', `Legacy switch "${tok}": u: takes no value and must come first (u: [s:<staging>] [p:<file>])`, { token: tok });
      }
      command = 'ship';
    } else if (value === '') {
      throw usageError('LEGACY_SYNTAX', `Legacy switch "${tok}" needs a value: ${key}:<${key === 's' ? 'staging directory' : 'publish settings file'}>`, {
        token: tok,
      });
    } else if (key === 's') {
      if (staging !== undefined)
        throw usageError('LEGACY_SYNTAX', `Legacy switch s: given twice ("s:${staging}" and "${tok}"); give one staging location`, { token: tok });
      staging = value;
    } else {
      if (publish !== undefined)
        throw usageError('LEGACY_SYNTAX', `Legacy switch p: given twice ("p:${publish}" and "${tok}"); give one publish settings file`, { token: tok });
      publish = value;
    }
  });
  if (command === 'prep' && staging === undefined) {
    throw usageError('LEGACY_SYNTAX', 'Legacy syntax needs the staging location first: s:<staging> [p:<publishsettings file>]', {});
  }
  const out: string[] = [command];
  if (staging !== undefined) out.push(...option('--staging', staging));
  if (publish !== undefined) out.push(...option('--publish-settings', publish));
  return out.concat(rest);
}

/**
 * `--flag value`, or `--flag=value` for a value that starts with "-": the parser would take
 * `--staging --json` as --staging without a value followed by the global --json.
 */
function option(flag: string, value: string): string[] {
  return value.startsWith('-') ? [`${flag}=${value}`] : [flag, value];
}
