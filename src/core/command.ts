/**
 * The shape every workflow command has, shared by the CLI and the RPC server (CONTRIBUTING.md, "Commands: options are cooked once").
 * One declaration drives both front ends:
 *
 *   options / args (declared here, once)
 *     → the CLI builds its commander command from them (flags, help, required options)
 *     → the RPC server validates params from them (unknown field, wrong type, missing required
 *       field: JSON-RPC error -32602 whose message and data.details.field name the field)
 *   raw options (commander's values or the JSON-RPC params — the same camelCase names, and values
 *   already of the declared JS type: the front ends coerce/check types before cook is called)
 *     → cook(raw): validated, typed options — throws usageError() naming the option
 *       (message with the CLI flag, e.g. "--target", and details.field = the camelCase name)
 *     → run(options, ctx): the core operation; reports through ctx.reporter; returns a JSON-able result
 *     → renderText(result): the human summary (CLI text mode only)
 */
import type { CommandContext } from '../base/context';
import { type ExitCategory, usageError } from '../base/errors';

// The context types live in the base layer (lower layers take them too); re-exported here because
// they are part of a command's contract.
export type { CommandContext, Prompter } from '../base/context';

/**
 * The JS type a raw value has when cook() sees it.
 *  - 'string':   CLI `--x <v>`; RPC a JSON string
 *  - 'number':   CLI `--x <n>` parsed with Number() (a non-finite value is a usage error naming the flag); RPC a JSON number
 *  - 'boolean':  CLI `--x` (true when given) or `--no-x` (name 'x', default true); RPC a JSON boolean
 *  - 'string[]': CLI `--x <v...>` (repeatable or space-separated); RPC a JSON array of strings
 */
export type OptionType = 'string' | 'number' | 'boolean' | 'string[]';

export interface OptionSpec {
  /** commander flags: '--staging <dir>', '-y, --yes', '--no-verify', '--target <t...>' */
  flags: string;
  /** camelCase name: commander's attribute name for `flags`, and the JSON-RPC param name */
  name: string;
  /** one line for --help and docs/protocol.md */
  description: string;
  type: OptionType;
  /** a missing value is a usage error before cook() runs (CLI: commander's message; RPC: -32602) */
  required?: boolean;
  /** applied by both front ends when the option is absent (say why in a comment where it is declared) */
  defaultValue?: string | number | boolean | string[];
  /** only on the command line (e.g. --yes, which RPC replaces with the confirm param) */
  cliOnly?: boolean;
  /** only over RPC (e.g. a passphrase param, which the CLI never takes from argv) */
  rpcOnly?: boolean;
}

/** A positional argument: in raw options under `name` (a variadic one as string[]). */
export interface ArgSpec {
  /** camelCase name: the raw option / JSON-RPC param that carries it ("sources") */
  name: string;
  /** shown in usage: "source" gives `<source...>` for a variadic required arg */
  label: string;
  description: string;
  variadic?: boolean;
  required?: boolean;
}

export interface DestructiveSpec<Options> {
  /**
   * The RPC param that must equal the target exactly (for several targets: a string[] equal to
   * targets(), same order). The RPC server refuses the call with TARGET_REFUSED / TARGET_NOT_CONFIRMED
   * when it does not match; the CLI leaves confirmation to the command (prompt or --yes).
   */
  confirmParam: string;
  /** what would be destroyed, as the user named it (device paths, volume paths) */
  targets(options: Options): string[];
}

export interface CommandSpec<Raw, Options, Result> {
  /** CLI name ("stage", "job create") and RPC method ("stage", "job.create") */
  name: string;
  rpcMethod: string;
  summary: string;
  /** declared options; both front ends derive from these (empty list when none) */
  options?: OptionSpec[];
  /** positional arguments, in order (CLI only positions them; RPC takes them as named params) */
  args?: ArgSpec[];
  /** present on commands that erase data (prep with --format, …) */
  destructive?: DestructiveSpec<Options>;
  cook(raw: Raw, ctx: Pick<CommandContext, 'env'>): Options | Promise<Options>;
  run(options: Options, ctx: CommandContext): Promise<Result>;
  renderText?(result: Result): string;
  /**
   * For a result that completed with caveats: PARTIAL (some files skipped, see the warnings) or
   * VERIFY_FAILED (a check found damage and the result lists it). The CLI prints the result and exits
   * with that category's code; RPC returns the result unchanged (the caveat is in its fields).
   * Undefined or 'OK' means success.
   */
  exitCategory?(result: Result): ExitCategory | undefined;
  /**
   * True only for a command whose result deliberately carries secrets (the BitLocker key list): the
   * front ends then serialise Secret values with reveal() and skip the sanitizer for that result.
   */
  returnsSecrets?: boolean;
  /** the target paths this call will write, for conflict detection between concurrent RPC requests */
  claims?(options: Options): string[];
}

/** Identity helper that lets TypeScript infer Raw/Options/Result from the object literal. */
export function defineCommand<Raw, Options, Result>(spec: CommandSpec<Raw, Options, Result>): CommandSpec<Raw, Options, Result> {
  return spec;
}

/** The CLI spelling of a declared option ("--staging"), for messages; falls back to the camelCase name. */
export function flagOf(spec: Pick<CommandSpec<unknown, unknown, unknown>, 'options' | 'args'>, name: string): string {
  const opt = spec.options?.find((o) => o.name === name);
  if (opt) {
    const long = opt.flags.split(/[ ,|]+/).find((f) => f.startsWith('--'));
    if (long) return long;
  }
  const arg = spec.args?.find((a) => a.name === name);
  if (arg) return `<${arg.label}${arg.variadic ? '...' : ''}>`;
  return name;
}

/** Recognises a CommandSpec among a module's exports (used by the registry). */
export function isCommandSpec(value: unknown): value is CommandSpec<unknown, unknown, unknown> {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.name === 'string' && typeof v.rpcMethod === 'string' && typeof v.cook === 'function' && typeof v.run === 'function';
}

/**
 * Asks through ctx.prompter, or — in --json and RPC modes, or without a terminal — fails with a
 * usage error (code PROMPT_REQUIRED) that names the option that answers the question.
 * `flag` is the CLI spelling ("--carrier"); `field` the camelCase param name ("carrier").
 */
export async function askOrFail(
  ctx: Pick<CommandContext, 'prompter'>,
  q: { question: string; flag: string; field: string; secret?: boolean },
): Promise<string> {
  if (!ctx.prompter) {
    throw usageError(
      'PROMPT_REQUIRED',
      `driveseed would ask "${q.question}", but cannot prompt here (--json, RPC or no terminal); pass ${q.flag} (RPC param "${q.field}")`,
      { field: q.field, flag: q.flag },
    );
  }
  return q.secret ? ctx.prompter.askSecret(q.question) : ctx.prompter.ask(q.question);
}
