/**
 * The command registry: every workflow command, for both the CLI (src/cli/main.ts) and the RPC
 * server (src/rpc/server.ts). The product registry holds real commands only; tests add their own
 * through the `extraCommands` parameters of the front ends, never here.
 *
 * HOW TO ADD A COMMAND: create src/commands/<file>.ts exporting one or more CommandSpec values
 * (made with defineCommand from src/core/command.ts), then add ONE import line below, in
 * alphabetical order:
 *
 *     import * as <file> from './<file>';
 *
 * and the same name inside the `modules` list. Every exported CommandSpec of the module is registered;
 * names and rpcMethods must be unique (checked at start-up, a duplicate throws).
 */
import { type CommandSpec, isCommandSpec } from '../core/command';
import * as backup from './backup';
import * as check from './check';
import * as complete from './complete';
import * as drives from './drives';
import * as emulator from './emulator';
import * as job from './job';
import * as keys from './keys';
import * as prep from './prep';
import * as repair from './repair';
import * as restore from './restore';
import * as ship from './ship';
import * as snapshots from './snapshots';
import * as stage from './stage';
import * as verify from './verify';
import * as status from './status';
import * as version from './version';

const modules: Record<string, unknown>[] = [
  backup,
  check,
  complete,
  drives,
  emulator,
  job,
  keys,
  prep,
  repair,
  restore,
  ship,
  snapshots,
  stage,
  status,
  verify,
  version,
];

function collect(mods: Record<string, unknown>[]): CommandSpec<any, any, any>[] {
  const out: CommandSpec<any, any, any>[] = [];
  const seen = new Set<string>();
  for (const mod of mods) {
    for (const value of Object.values(mod)) {
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

export const commands: CommandSpec<any, any, any>[] = collect(modules);
