/**
 * The interactive Prompter of the CLI text mode: questions on stderr, answers from stdin. It exists
 * only when stdin and stderr are terminals and --json is off; otherwise ctx.prompter is undefined and
 * a command that needs an answer fails with PROMPT_REQUIRED naming the option (askOrFail).
 */
import * as readline from 'node:readline';
import { Writable } from 'node:stream';
import type { Prompter } from '../core/command';
import { cancelledError } from '../base/errors';

export function terminalPrompter(signal: AbortSignal): Prompter | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return {
    ask: (q) => question(q, false, signal),
    askSecret: (q) => question(q, true, signal),
  };
}

function question(q: string, secret: boolean, signal: AbortSignal): Promise<string> {
  let muted = false;
  // A secret's keystrokes are swallowed: the prompt is written, the echo is not.
  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
  return new Promise<string>((resolve, reject) => {
    const onAbort = () => {
      rl.close();
      reject(cancelledError());
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    rl.question(`${q.trimEnd()} `, (answer) => {
      signal.removeEventListener('abort', onAbort);
      if (secret) process.stderr.write('\n');
      rl.close();
      resolve(answer.trim());
    });
    muted = secret;
  });
}
