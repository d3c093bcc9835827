/**
 * The command registry: every workflow command, for both the CLI (src/cli/main.ts) and the RPC
 * server (src/rpc/server.ts). The product registry holds real commands only; tests add their own
 * through the `extraCommands` parameters of the front ends, never here.
 *
 * Command modules load on demand: `driveseed <cmd>` loads only the modules whose commands start
 * with <cmd> (the CLI's start-up then skips the other commands' core modules: 136 → about 60 modules
 * for `driveseed version`, bench/RESULTS.md); `--help`, `rpc` and anything else load them all.
 *
 * HOW TO ADD A COMMAND: create src/commands/<file>.ts exporting one or more CommandSpec values
 * (made with defineCommand from src/core/command.ts), then add ONE line to `MODULES` below, in
 * alphabetical order:
 *
 *     { words: ['<first word of each command name>'], load: () => require('./<file>') },
 *
 * Every exported CommandSpec of the module is registered; names and rpcMethods must be unique
 * (checked when the registry loads, a duplicate throws), and `words` must be exactly the first words
 * of the module's command names (test/cli-lazy-commands.test.ts).
 */
import { type CommandSpec, isCommandSpec } from '../core/command';

export interface CommandModule {
  /** the first word of each command the module exports ("job" for "job create", "job get", …) */
  words: readonly string[];
  /** the module's exports (require: loaded on first use, then cached by Node) */
  load(): Record<string, unknown>;
}

export const MODULES: readonly CommandModule[] = [
  { words: ['backup'], load: () => require('./backup') },
  { words: ['check'], load: () => require('./check') },
  { words: ['complete'], load: () => require('./complete') },
  { words: ['drives'], load: () => require('./drives') },
  { words: ['emulator'], load: () => require('./emulator') },
  { words: ['job'], load: () => require('./job') },
  { words: ['key-cache'], load: () => require('./key-cache') },
  { words: ['keys'], load: () => require('./keys') },
  { words: ['prep'], load: () => require('./prep') },
  { words: ['repair'], load: () => require('./repair') },
  { words: ['restore'], load: () => require('./restore') },
  { words: ['ship'], load: () => require('./ship') },
  { words: ['snapshots'], load: () => require('./snapshots') },
  { words: ['stage'], load: () => require('./stage') },
  { words: ['status'], load: () => require('./status') },
  { words: ['verify'], load: () => require('./verify') },
  { words: ['version'], load: () => require('./version') },
];

function collect(mods: readonly CommandModule[]): CommandSpec<any, any, any>[] {
  const out: CommandSpec<any, any, any>[] = [];
  const seen = new Set<string>();
  for (const mod of mods) {
    for (const value of Object.values(mod.load())) {
      if (!isCommandSpec(value) || out.includes(value)) continue;
      for (const key of [`cli:${value.name}`, `rpc:${value.rpcMethod}`]) {
        if (seen.has(key)) throw new Error(`duplicate command registration ${key} in src/commands/index.ts`);
        seen.add(key);
      }
      out.push(value);
    }
  }
  return out;
}

let all: CommandSpec<any, any, any>[] | undefined;

/** Every registered command (loads every command module once). */
export function allCommands(): CommandSpec<any, any, any>[] {
  all ??= collect(MODULES);
  return all;
}

/**
 * The commands a command line needs: when `word` (the command line's first word after the global
 * options) starts a registered command, the commands of the modules that declare it; otherwise
 * (none, `--help`, `rpc`, `help`, an unknown word: its suggestions list every command) all of them.
 */
export function commandsFor(word: string | undefined): CommandSpec<any, any, any>[] {
  const mods = word === undefined ? [] : MODULES.filter((m) => m.words.includes(word));
  return mods.length > 0 ? collect(mods) : allCommands();
}
