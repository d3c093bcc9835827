/**
 * The shape every workflow command has, shared by the CLI and the RPC server (conventions §1, §2).
 *
 *   raw options (strings from commander, or JSON-RPC params)
 *     → cook(raw): validated, typed options — throws DriveseedError(category USAGE) naming the field
 *     → run(options, ctx): the core operation; reports through ctx.reporter; returns a JSON-able result
 *     → renderText(result): the human summary (CLI text mode only)
 */
import type { Reporter } from './reporter';

export interface Prompter {
  /** asks a question and returns the typed answer (trimmed) */
  ask(question: string): Promise<string>;
  /** asks for a secret without echo */
  askSecret(question: string): Promise<string>;
}

export interface CommandContext {
  reporter: Reporter;
  signal: AbortSignal;
  /** undefined in --json and RPC modes: a command that would need to ask fails with a usage error naming the option */
  prompter?: Prompter;
  /** environment for passphrase lookup etc. (process.env in the CLI) */
  env: Record<string, string | undefined>;
}

export interface CommandSpec<Raw, Options, Result> {
  /** CLI name ("stage", "job create") and RPC method ("stage", "job.create") */
  name: string;
  rpcMethod: string;
  summary: string;
  cook(raw: Raw, ctx: Pick<CommandContext, 'env'>): Options | Promise<Options>;
  run(options: Options, ctx: CommandContext): Promise<Result>;
  renderText?(result: Result): string;
  /** the target paths this call will write, for conflict detection between concurrent RPC requests */
  claims?(options: Options): string[];
}
