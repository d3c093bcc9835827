/**
 * Test-only commands: when DRIVESEED_TEST=1 (scripts/test.mjs sets it) and DRIVESEED_TEST_COMMANDS
 * names a module, its exported CommandSpecs are added to the registry of this process (CLI and RPC).
 * Without DRIVESEED_TEST=1 the variable is ignored, so no fake command can reach a user.
 */
import * as path from 'node:path';
import { type CommandSpec, isCommandSpec } from '../core/command';

export function testCommandsFromEnv(env: Record<string, string | undefined>): CommandSpec<any, any, any>[] {
  const file = env.DRIVESEED_TEST_COMMANDS;
  if (env.DRIVESEED_TEST !== '1' || !file) return [];
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require(path.resolve(file)) as Record<string, unknown>;
  return Object.values(mod).filter(isCommandSpec) as CommandSpec<any, any, any>[];
}
