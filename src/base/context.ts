/**
 * What every operation is given to run with: where to report, when to stop, how to ask, and the
 * environment. These are plain interfaces at the bottom of the layers because code in every layer
 * takes them (prep asks before formatting, cloud reports upload progress); the front ends
 * (src/cli, src/rpc) supply the implementations.
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
