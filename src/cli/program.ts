/**
 * Builds the commander program from the command registry (src/commands/index.ts): one
 * subcommand per CommandSpec ("job create" becomes `job` → `create`), its options and positional
 * arguments from the spec's declarations. Parsing only selects the command and collects raw options;
 * running it is main.ts's job.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CommandSpec, OptionSpec } from '../core/command';

export interface Selection {
  spec: CommandSpec<any, any, any>;
  /** commander's option values plus positional arguments under their declared names */
  raw: Record<string, unknown>;
}

export interface ProgramHooks {
  /** called with the selected command; `rpc` is the built-in server command */
  select(sel: Selection | { rpc: true }): void;
  writeOut(s: string): void;
  writeErr(s: string): void;
}

function parseNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`Expected a number for ${flag} but received "${value}".`);
    return n;
  };
}

function commanderOption(o: OptionSpec): Option {
  const opt = new Option(o.flags, o.description);
  if (o.type === 'number') opt.argParser(parseNumber(opt.long ?? o.name));
  if (o.defaultValue !== undefined) opt.default(o.defaultValue);
  if (o.required) opt.makeOptionMandatory();
  return opt;
}

export function buildProgram(specs: CommandSpec<any, any, any>[], hooks: ProgramHooks): Command {
  const program = new Command('driveseed');
  program
    .description('Offline seeding for Azure: stage backups, prepare Import/Export disks, track the job, continue incrementally.')
    .option('--json', 'machine output: one JSON object per line on stdout (docs/json-output.md)')
    .option('--verbose', 'text mode: also show structured events')
    .exitOverride()
    .configureOutput({ writeOut: hooks.writeOut, writeErr: hooks.writeErr, outputError: () => {} })
    .showSuggestionAfterError(true);

  const groups = new Map<string, Command>();
  for (const spec of specs) {
    const words = spec.name.split(' ');
    let parent = program;
    for (const w of words.slice(0, -1)) {
      let g = groups.get(w);
      if (!g) {
        g = parent.command(w).description(`${w} commands`);
        groups.set(w, g);
      }
      parent = g;
    }
    const cmd = parent.command(words[words.length - 1]!).description(spec.summary);
    for (const a of spec.args ?? []) {
      const label = `${a.label}${a.variadic ? '...' : ''}`;
      cmd.argument(a.required ? `<${label}>` : `[${label}]`, a.description);
    }
    for (const o of spec.options ?? []) if (!o.rpcOnly) cmd.addOption(commanderOption(o));
    cmd.action((...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      const raw: Record<string, unknown> = { ...self.opts() };
      (spec.args ?? []).forEach((a, i) => {
        const v = actionArgs[i];
        if (v !== undefined) raw[a.name] = v;
      });
      hooks.select({ spec, raw });
    });
  }

  program
    .command('rpc')
    .description('JSON-RPC 2.0 server on stdin/stdout, one message per line (docs/protocol.md)')
    .action(() => hooks.select({ rpc: true }));
  return program;
}
