/**
 * driveseed as a library (package.json "main"). The same core the CLI and the RPC server use:
 * commands are CommandSpecs — cook() the raw options, run() them with a Reporter and an AbortSignal.
 *
 *   import { commands, silentReporter } from 'driveseed';
 *   const drives = commands.find((c) => c.rpcMethod === 'drives.list')!;
 *   const result = await drives.run(await drives.cook({}, { env: process.env }), {
 *     reporter: silentReporter, signal: new AbortController().signal, env: process.env });
 *
 * The native addon is loaded lazily, on the first data-plane call.
 */
import { allCommands } from './commands';

/** Every registered command. */
export const commands = allCommands();
export type { ArgSpec, CommandContext, CommandSpec, DestructiveSpec, OptionSpec, OptionType, Prompter } from './core/command';
export { askOrFail, defineCommand, flagOf } from './core/command';
export { DriveseedError, ExitCode, type ExitCategory, cancelledError, usageError } from './base/errors';
export { type Progress, RateMeter, type Reporter, silentReporter } from './base/reporter';
export { Secret, sanitize } from './base/secret';
export { type DiskInfo, type PartitionInfo, listDisks } from './core/drives';
export { PROTOCOL_VERSION, type VersionInfo, versionInfo } from './core/version';
export { DataPlaneError } from './native/errors';
export { describeError, type ErrorInfo } from './commands/exit';
export { RpcServer, type RpcServerOptions } from './rpc/server';
