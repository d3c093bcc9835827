/**
 * driveseed's JSON-RPC 2.0 server (docs/protocol.md), independent of the transport: feed it lines
 * with handleLine(), it writes whole messages through `send` (one JSON text per call, no newline).
 *
 * Contract in short:
 *  - methods: every registry command's rpcMethod; params are named and validated from the command's
 *    declarations (-32602 with data.field naming the field)
 *  - `$/progress` notifications {id, type, …} for a running request, in the order the command reported
 *  - `$/cancelRequest` {id}: aborts that request's signal; it then answers with error code 130
 *    (data.code CANCELLED)
 *  - requests run concurrently; one whose claims() overlap a running request's fails with TARGET_BUSY
 *  - destructive commands need their confirm param to name the targets exactly
 *    (TARGET_NOT_CONFIRMED, the code prep's own confirmation uses)
 *  - application errors use the CLI exit code of their category as error.code (1, 4, 5, 6, 70, 130),
 *    outside JSON-RPC's reserved range; data = {code, category, details, errno?, path?, syscall?}
 *  - never prompts: ctx.prompter is undefined
 */
import * as path from 'node:path';
import type { CommandContext, CommandSpec } from '../core/command';
import { DriveseedError } from '../base/errors';
import type { Progress, Reporter } from '../base/reporter';
import { Secret, sanitize } from '../base/secret';
import { baseVersions } from '../core/version';
import { describeError, type ErrorInfo } from '../commands/exit';
import { confirmMatches, ParamsError, paramsToRaw } from './params';

/** JSON-RPC 2.0 reserved error codes (§5.1). */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

export type RpcId = string | number;

export interface RpcServerOptions {
  commands: CommandSpec<any, any, any>[];
  env: Record<string, string | undefined>;
  /** writes one complete message (the framer adds the newline) */
  send(message: string): void;
}

interface Running {
  id: RpcId;
  method: string;
  controller: AbortController;
  /** normalised absolute paths this request writes */
  claims: string[];
  done: Promise<void>;
}

// Same pace as the --json output: a few progress notifications a second per request and phase.
const PROGRESS_INTERVAL_MS = 250;

function serialise(obj: unknown, revealSecrets = false): string {
  // JSON.stringify calls a Secret's toJSON ("[redacted]") before the replacer sees the value, so the
  // replacer looks at the holder's own property to find the Secret.
  const text = JSON.stringify(obj, function (this: Record<string, unknown>, k: string, v: unknown) {
    const own = this[k];
    if (own instanceof Secret) return revealSecrets ? own.reveal() : '[redacted]';
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
  return revealSecrets ? text : sanitize(text);
}

function isId(v: unknown): v is RpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** a and b overlap when equal or one is inside the other (paths already absolute and normalised) */
function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  return long.startsWith(short.endsWith(path.sep) ? short : short + path.sep);
}

export class RpcServer {
  private readonly methods = new Map<string, CommandSpec<any, any, any>>();
  private readonly running = new Map<RpcId, Running>();

  constructor(private readonly opts: RpcServerOptions) {
    for (const c of opts.commands) this.methods.set(c.rpcMethod, c);
  }

  /** the `ready` notification, sent once before anything else */
  ready(): void {
    this.notify('ready', { ...baseVersions(), methods: [...this.methods.keys()].sort() });
  }

  /** number of requests still running */
  get pending(): number {
    return this.running.size;
  }

  handleLine(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      // Not V8's message: it can quote the input ("Unexpected token 'h', "hunter2…" is not valid
      // JSON"), and the line may carry a passphrase. The position is enough to find the fault.
      const at = /at position (\d+)/.exec((e as Error).message)?.[1];
      this.reply(null, {
        code: RpcErrorCode.PARSE_ERROR,
        message: `Parse error: the line is not valid JSON${at ? ` (at position ${at})` : ''}; send one JSON-RPC message per line`,
      });
      return;
    }
    this.handleMessage(msg);
  }

  /** A line longer than the framer's limit was dropped (src/rpc/stdio.ts): -32600, id null. */
  lineTooLong(maxBytes: number): void {
    this.reply(null, {
      code: RpcErrorCode.INVALID_REQUEST,
      message: `Invalid Request: a line longer than ${maxBytes} bytes was discarded unread; send one JSON-RPC message per line, each under the limit`,
      data: { maxLineBytes: maxBytes },
    });
  }

  /** Cancels every running request and resolves when all have answered (EOF on stdin). */
  async shutdown(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.controller.abort();
    await Promise.all(all.map((r) => r.done));
  }

  private handleMessage(msg: unknown): void {
    if (Array.isArray(msg)) {
      this.reply(null, { code: RpcErrorCode.INVALID_REQUEST, message: 'Invalid Request: batches (arrays) are not supported; send one request per line' });
      return;
    }
    if (!msg || typeof msg !== 'object') {
      this.reply(null, { code: RpcErrorCode.INVALID_REQUEST, message: 'Invalid Request: a message must be a JSON object' });
      return;
    }
    const m = msg as Record<string, unknown>;
    const hasId = 'id' in m;
    const id = isId(m.id) ? m.id : null;
    if (m.jsonrpc !== '2.0') {
      this.reply(id, { code: RpcErrorCode.INVALID_REQUEST, message: 'Invalid Request: "jsonrpc" must be "2.0"' });
      return;
    }
    if (typeof m.method !== 'string') {
      // a response from the client, or garbage: driveseed sends no requests, so neither is expected
      this.reply(id, { code: RpcErrorCode.INVALID_REQUEST, message: 'Invalid Request: "method" must be a string' });
      return;
    }
    if (hasId && !isId(m.id)) {
      this.reply(null, { code: RpcErrorCode.INVALID_REQUEST, message: 'Invalid Request: "id" must be a string or a number' });
      return;
    }
    if (m.method === '$/cancelRequest') {
      // An unknown, finished or malformed id is ignored (nothing to cancel); only a request gets an answer.
      const p = m.params;
      const target = p && typeof p === 'object' && !Array.isArray(p) ? (p as { id?: unknown }).id : undefined;
      const r = isId(target) ? this.running.get(target) : undefined;
      r?.controller.abort();
      if (hasId) this.reply(id, undefined, { cancelled: r !== undefined });
      return;
    }
    if (!hasId && m.method.startsWith('$/')) {
      // Protocol notifications driveseed does not implement ($/setTrace, …) may be ignored (LSP base protocol).
      return;
    }
    if (!hasId) {
      // A method call sent as a notification could not report its outcome: refused (docs/protocol.md).
      this.reply(null, {
        code: RpcErrorCode.INVALID_REQUEST,
        message: `Invalid Request: ${JSON.stringify(m.method.length > 100 ? `${m.method.slice(0, 100)}…` : m.method)} was sent without an id; driveseed methods must be requests with an id (only $/cancelRequest is a notification)`,
      });
      return;
    }
    const spec = this.methods.get(m.method);
    if (!spec) {
      this.reply(id, {
        code: RpcErrorCode.METHOD_NOT_FOUND,
        message: `Method not found: ${JSON.stringify(m.method.length > 100 ? `${m.method.slice(0, 100)}…` : m.method)} (see the "methods" list in the ready notification)`,
      });
      return;
    }
    if (this.running.has(id!)) {
      this.reply(id, { code: RpcErrorCode.INVALID_REQUEST, message: `Invalid Request: id ${JSON.stringify(id)} is already used by a running request` });
      return;
    }
    this.start(id!, spec, m.params);
  }

  private start(id: RpcId, spec: CommandSpec<any, any, any>, params: unknown): void {
    const controller = new AbortController();
    const entry: Running = { id, method: spec.rpcMethod, controller, claims: [], done: Promise.resolve() };
    // Registered synchronously, so that a $/cancelRequest on the next line already finds it.
    this.running.set(id, entry);
    entry.done = this.execute(entry, spec, params).finally(() => this.running.delete(id));
  }

  private async execute(entry: Running, spec: CommandSpec<any, any, any>, params: unknown): Promise<void> {
    const { id, controller } = entry;
    let raw: Record<string, unknown>;
    try {
      raw = paramsToRaw(spec, params);
    } catch (e) {
      if (!(e instanceof ParamsError)) throw e;
      return this.reply(id, {
        code: RpcErrorCode.INVALID_PARAMS,
        message: `Invalid params: ${e.message}`,
        data: { code: 'INVALID_PARAMS', category: 'USAGE', details: { field: e.field } },
      });
    }
    try {
      const options = await spec.cook(raw, { env: this.opts.env });
      if (spec.destructive) {
        const targets = spec.destructive.targets(options);
        const confirm = raw[spec.destructive.confirmParam];
        if (!confirmMatches(targets, confirm)) {
          const want = targets.length === 1 ? JSON.stringify(targets[0]) : JSON.stringify(targets);
          throw appError(
            'TARGET_NOT_CONFIRMED',
            'TARGET_REFUSED',
            `"${spec.rpcMethod}" erases ${targets.join(', ')}; to confirm, pass "${spec.destructive.confirmParam}": ${want} (exactly the target${targets.length > 1 ? 's, in order' : ''})`,
            { field: spec.destructive.confirmParam, targets },
          );
        }
      }
      entry.claims = (spec.claims?.(options) ?? []).map((p) => path.resolve(p));
      for (const other of this.running.values()) {
        if (other === entry) continue;
        for (const mine of entry.claims) {
          const hit = other.claims.find((c) => overlaps(c, mine));
          if (hit !== undefined) {
            throw appError(
              'TARGET_BUSY',
              'TARGET_REFUSED',
              `${mine} is in use by request ${JSON.stringify(other.id)} (${other.method}); wait for it to finish or cancel it`,
              { path: mine, conflictsWith: other.id, method: other.method },
            );
          }
        }
      }
      if (controller.signal.aborted) throw appError('CANCELLED', 'CANCELLED', 'The request was cancelled before it started', {});
      const ctx: CommandContext = { reporter: this.reporterFor(id), signal: controller.signal, env: this.opts.env };
      const result = await spec.run(options, ctx);
      this.reply(id, undefined, result === undefined ? null : result, spec.returnsSecrets === true);
    } catch (e) {
      let info = describeError(e);
      if (controller.signal.aborted && info.category !== 'CANCELLED') {
        info = { ...describeError({ name: 'AbortError' }), details: { cause: { code: info.code, message: info.message } } };
      }
      this.reply(id, errorObject(info));
    }
  }

  private reporterFor(id: RpcId): Reporter {
    let lastAt = -Infinity;
    let lastPhase: string | undefined;
    const send = (type: string, body: Record<string, unknown>) => this.notify('$/progress', { id, type, ...body });
    return {
      progress: (p: Progress) => {
        const t = Date.now();
        const finished = p.bytesTotal !== undefined && p.bytesDone >= p.bytesTotal;
        if (p.phase === lastPhase && !finished && t - lastAt < PROGRESS_INTERVAL_MS) return;
        lastAt = t;
        lastPhase = p.phase;
        send('progress', { ...p });
      },
      warning: (code, message, details) => send('warning', details ? { code, message, details } : { code, message }),
      info: (message, details) => send('info', details ? { message, details } : { message }),
      event: (event, data) => send('event', { event, data }),
    };
  }

  private notify(method: string, params: Record<string, unknown>): void {
    this.opts.send(serialise({ jsonrpc: '2.0', method, params }));
  }

  private reply(id: RpcId | null, error?: { code: number; message: string; data?: unknown }, result?: unknown, revealSecrets = false): void {
    const msg = error ? { jsonrpc: '2.0', id, error } : { jsonrpc: '2.0', id, result: result === undefined ? null : result };
    this.opts.send(serialise(msg, revealSecrets && !error));
  }
}

function appError(code: string, category: 'TARGET_REFUSED' | 'CANCELLED', message: string, details: Record<string, unknown>): DriveseedError {
  return new DriveseedError(code, message, { category, details });
}

/** ErrorInfo → JSON-RPC error object: code = the CLI exit code (USAGE → -32602), data carries driveseed's code. */
export function errorObject(info: ErrorInfo): { code: number; message: string; data: Record<string, unknown> } {
  const data: Record<string, unknown> = { code: info.code, category: info.category, details: info.details ?? {} };
  if (info.errno !== undefined) data.errno = info.errno;
  if (info.path !== undefined) data.path = info.path;
  if (info.syscall !== undefined) data.syscall = info.syscall;
  const code = info.category === 'USAGE' ? RpcErrorCode.INVALID_PARAMS : info.exitCode;
  return { code, message: info.message, data };
}
