/**
 * A Node client for `driveseed rpc` that does exactly what scripts/DriveSeed.psm1 does, so that the
 * tests exercise the exchanges the PowerShell module relies on:
 *  - one server process per session, started with `driveseed rpc`; waits for the `ready` notification
 *  - numeric ids counting up from 1; one pending entry per id
 *  - `$/progress` notifications routed to the pending request by params.id (Write-Progress there)
 *  - an error response becomes an RpcCallError whose fullyQualifiedErrorId is data.code (the
 *    driveseed code), falling back to "JSONRPC<code>" for protocol errors (ErrorRecord there)
 *  - cancel(id) sends the `$/cancelRequest` notification (Ctrl-C there)
 *  - close() ends stdin and waits for the exit (Remove-Module / session end there)
 * It also keeps every stdout line, so tests can check that stdout carries protocol only.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TEST_COMMANDS = path.join(ROOT, 'test', 'support', 'rpc-test-commands.ts');

export interface RpcMessage {
  jsonrpc?: unknown;
  id?: unknown;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

export class RpcCallError extends Error {
  readonly fullyQualifiedErrorId: string;
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RpcCallError';
    this.fullyQualifiedErrorId = typeof data?.code === 'string' ? data.code : `JSONRPC${code}`;
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: RpcCallError): void;
  onProgress?: (p: Record<string, unknown>) => void;
}

export class RpcClient {
  readonly lines: string[] = [];
  readonly messages: RpcMessage[] = [];
  stderr = '';
  ready!: Record<string, unknown>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = '';
  private readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (c: string) => {
      this.buf += c;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((resolve) => proc.on('close', (code) => resolve(code)));
  }

  /** Starts `driveseed rpc` (source through tsx) with the test commands registered. */
  static async start(env: Record<string, string> = {}): Promise<RpcClient> {
    const proc = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(ROOT, 'src', 'cli', 'main.ts'), 'rpc'], {
      cwd: ROOT,
      env: { ...process.env, DRIVESEED_TEST: '1', DRIVESEED_TEST_COMMANDS: TEST_COMMANDS, ...env },
    });
    const client = new RpcClient(proc);
    const ready = await client.waitFor((m) => m.method === 'ready');
    client.ready = ready.params ?? {};
    return client;
  }

  private onLine(line: string): void {
    this.lines.push(line);
    let msg: RpcMessage;
    try {
      msg = JSON.parse(line) as RpcMessage;
    } catch {
      return; // the conformance tests flag non-JSON lines through `lines`
    }
    this.messages.push(msg);
    if (msg.method === '$/progress') {
      const id = msg.params?.id;
      if (typeof id === 'number') this.pending.get(id)?.onProgress?.(msg.params!);
    } else if (msg.method === undefined && typeof msg.id === 'number' && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id)!;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new RpcCallError(msg.error.code, msg.error.message, msg.error.data));
      else p.resolve(msg.result);
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first message (already received or future) that matches. */
  waitFor(pred: (m: RpcMessage) => boolean): Promise<RpcMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.messages.find(pred);
        if (m) resolve(m);
        return m !== undefined;
      };
      if (check()) return;
      const loop = () => {
        if (!check()) this.waiters.push(loop);
      };
      this.waiters.push(loop);
      void this.exited.then(() => {
        if (!check()) reject(new Error(`server exited before the awaited message; stderr:\n${this.stderr}`));
      });
    });
  }

  /** Sends a request; `id` is returned at once so the caller can cancel it. */
  call(method: string, params?: Record<string, unknown>, onProgress?: (p: Record<string, unknown>) => void): { id: number; promise: Promise<unknown> } {
    const id = this.nextId++;
    const promise = new Promise<unknown>((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      if (onProgress) entry.onProgress = onProgress;
      this.pending.set(id, entry);
    });
    const msg: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    this.sendRaw(JSON.stringify(msg));
    return { id, promise };
  }

  request(method: string, params?: Record<string, unknown>, onProgress?: (p: Record<string, unknown>) => void): Promise<unknown> {
    return this.call(method, params, onProgress).promise;
  }

  cancel(id: number): void {
    this.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } }));
  }

  sendRaw(line: string): void {
    this.proc.stdin.write(`${line}\n`);
  }

  /** Ends stdin (EOF) and resolves with the exit code. */
  close(): Promise<number | null> {
    this.proc.stdin.end();
    return this.exited;
  }
}
