/**
 * The driveseed command line: `driveseed [--json] <command> …`, built from the command registry.
 *
 * Output contract (docs/json-output.md, docs/exit-codes.md):
 *  - text mode: progress, info and warnings on stderr; the result (renderText) on stdout
 *  - --json: stdout carries one JSON object per line and nothing else, ending with a `result` or an
 *    `error` line; no prompts (ctx.prompter is undefined)
 *  - exit code from ExitCode via describeError(); SIGINT aborts the command's signal (exit 130 once it
 *    has wound down), a second SIGINT exits at once with 130
 *  - `driveseed rpc` hands stdin/stdout to the JSON-RPC server (src/rpc/server.ts)
 */
import { CommanderError } from 'commander';
import type { CommandContext, CommandSpec } from '../core/command';
import { usageError } from '../base/errors';
import { ExitCode } from '../base/errors';
import { sanitize } from '../base/secret';
import { commandsFor } from '../commands';
import { describeError, errorPayload, type ErrorInfo } from '../commands/exit';
import { testCommandsFromEnv } from './extra-commands';
import { guardStdout, rawStdoutWrite } from '../rpc/stdout-guard';
import { JsonLinesReporter, jsonLine } from './json-reporter';
import { GLOBAL_OPTIONS, rewriteLegacyArgv } from './legacy';
import { buildProgram, type Selection } from './program';
import { terminalPrompter } from './prompter';
import { TextReporter } from './text-reporter';

export interface MainOptions {
  env?: Record<string, string | undefined>;
  /** in-process tests: commands added to the registry */
  extraCommands?: CommandSpec<any, any, any>[];
}

/** Commander error codes → driveseed's stable usage codes (docs/exit-codes.md). */
const COMMANDER_CODES: Record<string, string> = {
  'commander.unknownOption': 'UNKNOWN_OPTION',
  'commander.unknownCommand': 'UNKNOWN_COMMAND',
  'commander.missingArgument': 'MISSING_ARGUMENT',
  'commander.missingMandatoryOptionValue': 'MISSING_OPTION',
  'commander.optionMissingArgument': 'OPTION_MISSING_VALUE',
  'commander.invalidArgument': 'INVALID_ARGUMENT',
  'commander.excessArguments': 'EXCESS_ARGUMENTS',
  'commander.conflictingOption': 'CONFLICTING_OPTIONS',
  'commander.help': 'NO_COMMAND',
};

/** Runs the CLI with `args` (argv without node and script) and resolves to the exit code. */
export async function main(args: string[] = process.argv.slice(2), opts: MainOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const json = args.includes('--json');
  // In --json mode only the JSON lines may reach stdout (the guard moves stray console output to stderr).
  const out: (s: string) => unknown = json ? guardStdout() : (s: string) => process.stdout.write(s);
  const err = (s: string) => process.stderr.write(s);
  const jsonOut = new JsonLinesReporter({ write: out });

  const fail = (info: ErrorInfo): number => {
    if (json) jsonOut.error(errorPayload(info));
    else err(`error: ${sanitize(info.message)} [${info.code}]\n`);
    if (info.stack && env.DRIVESEED_DEBUG === '1') err(`${info.stack}\n`);
    return info.exitCode;
  };

  let specs: CommandSpec<any, any, any>[];
  let argv: string[];
  try {
    argv = rewriteLegacyArgv(args);
    // Only the named command's modules load (src/commands/index.ts); --help, rpc and the rest load all.
    specs = [...commandsFor(argv.find((a) => !GLOBAL_OPTIONS.includes(a))), ...testCommandsFromEnv(env), ...(opts.extraCommands ?? [])];
  } catch (e) {
    return fail(describeError(e));
  }

  let selected: Selection | { rpc: true } | undefined;
  let helpText = '';
  const program = buildProgram(specs, {
    select: (s) => (selected = s),
    // --help output is asked for: stdout in text mode; stderr in --json mode, which keeps stdout protocol-only.
    writeOut: (s) => (json ? err(s) : out(s)),
    writeErr: (s) => {
      helpText += s;
    },
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) return fail(describeError(e));
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return ExitCode.OK;
    if (e.code === 'commander.help') {
      // no command given: the help goes to stderr, and it is a usage error
      if (!json) err(helpText);
      return fail(describeError(usageError('NO_COMMAND', 'No command given; run `driveseed --help` for the list of commands', {})));
    }
    const message = e.message.replace(/^error:\s*/, '');
    return fail(describeError(usageError(COMMANDER_CODES[e.code] ?? 'USAGE', `${message} (see driveseed --help)`, { commander: e.code })));
  }

  if (!selected) return fail(describeError(usageError('NO_COMMAND', 'No command given; run `driveseed --help` for the list of commands', {})));
  if ('rpc' in selected) {
    // The server (and its modules) load only for `driveseed rpc`.
    const { serveStdio } = require('../rpc/stdio') as typeof import('../rpc/stdio');
    return serveStdio({ commands: specs, env });
  }
  return runSelected(selected, { json, verbose: args.includes('--verbose'), env, jsonOut, fail, out });
}

async function runSelected(
  { spec, raw }: Selection,
  io: {
    json: boolean;
    verbose: boolean;
    env: Record<string, string | undefined>;
    jsonOut: JsonLinesReporter;
    fail(info: ErrorInfo): number;
    out(s: string): unknown;
  },
): Promise<number> {
  const controller = new AbortController();
  const text = new TextReporter(process.stderr, { verbose: io.verbose });
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints > 1) process.exit(ExitCode.CANCELLED);
    if (!io.json) {
      text.close();
      process.stderr.write('Cancelling… (press Ctrl-C again to stop at once)\n');
    }
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const ctx: CommandContext = {
    reporter: io.json ? io.jsonOut : text,
    signal: controller.signal,
    env: io.env,
  };
  if (!io.json) {
    const prompter = terminalPrompter(controller.signal);
    if (prompter) ctx.prompter = prompter;
  }
  // The event loop emptied while the command's promise was still pending: it waited on something that
  // can no longer happen (no timer, socket, child or native job is left to settle it). Node would exit 0
  // without a result; say so and exit INTERNAL instead.
  const onStall = () => {
    text.close();
    exitAfterFlush(
      io.fail({
        code: 'STALLED',
        category: 'INTERNAL',
        exitCode: ExitCode.INTERNAL,
        message: `Internal error: ${spec.name} stopped while waiting on something that can no longer happen — this is a bug in driveseed; please report it (a rerun resumes)`,
      }),
    );
  };
  process.on('beforeExit', onStall);
  try {
    const options = await spec.cook(raw, { env: io.env });
    const result = await spec.run(options, ctx);
    const category = spec.exitCategory?.(result) ?? 'OK';
    // A command declared returnsSecrets (the BitLocker key list) prints its result in clear: that is its purpose.
    const reveal = spec.returnsSecrets === true;
    if (io.json) io.jsonOut.result(result, reveal);
    else {
      text.close();
      const body = spec.renderText ? spec.renderText(result) : JSON.stringify(result, null, 2);
      if (body) io.out(`${reveal ? body : sanitize(body)}\n`);
    }
    return ExitCode[category];
  } catch (e) {
    text.close();
    let info = describeError(e);
    if (controller.signal.aborted && info.category !== 'CANCELLED') {
      // The user cancelled and the command wound down with some other failure: still exit 130, and keep what it said.
      info = { ...describeError({ name: 'AbortError' }), details: { cause: { code: info.code, message: info.message } } };
    }
    return io.fail(info);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('beforeExit', onStall);
  }
}

/** Exits once stdout has taken everything written (a pipe can be asynchronous on some platforms). */
export function exitAfterFlush(code: number): void {
  rawStdoutWrite('', () => process.exit(code));
}

if (require.main === module) {
  main().then(exitAfterFlush, (e: unknown) => {
    // Only a failure of the error path itself lands here.
    process.stderr.write(`${jsonLine({ type: 'error', code: 'INTERNAL', message: String((e as Error)?.message ?? e) })}\n`);
    process.exit(ExitCode.INTERNAL);
  });
}
