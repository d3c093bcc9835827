/**
 * A fault-injecting HTTP reverse proxy on 127.0.0.1 for the network-fault tests
 * (test/network-faults*.test.ts): it sits in front of a blob endpoint (Azurite) and forwards every
 * request unchanged, except those a scripted rule matches, which it fails in one of these ways:
 *
 *  - `drop`: RST the client connection (socket.resetAndDestroy) `before` forwarding, `after-request`
 *    (Azurite applied the request, the client never hears back), or `mid-response` (after the
 *    headers and half the body);
 *  - `throttle`: forward, then send the response body at `bytesPerSecond`;
 *  - `stall`: forward, then hold the response `ms` before the headers or halfway through the body;
 *  - `status`: answer 500/503 itself, with Azure's XML error body, `x-ms-error-code` and optionally
 *    `Retry-After`, without forwarding (the request body is read and discarded first);
 *  - `action`: run a callback (e.g. break or steal the repository lease on Azurite directly), then
 *    forward as usual;
 *  - `rewrite`: forward, then answer with the whole response body passed through a function (e.g.
 *    the emulator's account info, so that driveseed is sent to this proxy for blobs).
 *
 * A rule matches on method, the URL path and the query (strings are substrings, or RegExps), and
 * fires on its `nth` matching request (1-based) and the `times - 1` matching requests after it.
 * The proxy records every request (method, path, query, status, which rule fired) and every fault
 * fired, so a test asserts that its fault really happened: `expectFired(rule)` throws when it did not.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { kind: 'drop'; when: 'before' | 'after-request' | 'mid-response' }
  | { kind: 'throttle'; bytesPerSecond: number }
  | { kind: 'stall'; ms: number; at?: 'headers' | 'mid-body' }
  | { kind: 'status'; status: 500 | 503; code: 'ServerBusy' | 'InternalError' | 'OperationTimedOut'; retryAfterSeconds?: number }
  | { kind: 'action'; label: string; run: (req: RecordedRequest) => Promise<void> }
  | { kind: 'rewrite'; body: (body: Buffer) => Buffer };

export interface FaultRule {
  /** for messages and records */
  name: string;
  method?: string;
  /** substring of, or pattern on, the decoded URL path (`/devstoreaccount1/<container>/data/…`) */
  path?: string | RegExp;
  /** substring of, or pattern on, the query string without '?' (`comp=block&blockid=…`) */
  query?: string | RegExp;
  /** the matching request on which the fault first fires (1-based); default 1 */
  nth?: number;
  /** how many consecutive matching requests it fires on from the nth; default 1; Infinity for all */
  times?: number;
  fault: Fault;
}

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  query: string;
  /** the status the client got; undefined when the connection was dropped before a response */
  status?: number;
  /** the rule that fired on this request */
  fault?: string;
  at: number;
}

export interface FiredFault {
  rule: string;
  kind: Fault['kind'];
  seq: number;
  method: string;
  path: string;
  query: string;
  at: number;
}

interface ArmedRule extends FaultRule {
  matched: number;
  fired: number;
}

/** Azure's error body (https://learn.microsoft.com/rest/api/storageservices/status-and-error-codes2). */
function azureErrorBody(code: string): string {
  const text =
    code === 'ServerBusy'
      ? 'The server is busy.'
      : code === 'OperationTimedOut'
        ? 'The operation could not be completed within the permitted time.'
        : 'The server encountered an internal error. Please retry the request.';
  return `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${text}\nRequestId:00000000-0000-0000-0000-000000000000\nTime:${new Date().toISOString()}</Message></Error>`;
}

function matches(v: string, m: string | RegExp | undefined): boolean {
  return m === undefined || (typeof m === 'string' ? v.includes(m) : m.test(v));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FaultProxy {
  readonly requests: RecordedRequest[] = [];
  readonly fired: FiredFault[] = [];
  private rules: ArmedRule[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private seq = 0;

  private constructor(
    private readonly server: http.Server,
    readonly upstream: URL,
  ) {}

  /** Starts a proxy for `upstream` (`http://127.0.0.1:<port>`, any path is ignored). */
  static async start(upstream: string): Promise<FaultProxy> {
    const server = http.createServer();
    const proxy = new FaultProxy(server, new URL(upstream));
    server.on('request', (req, res) => void proxy.handle(req, res));
    server.on('connection', (s) => {
      proxy.sockets.add(s);
      s.on('close', () => proxy.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<proxy port>` followed by the upstream's path (e.g. `/devstoreaccount1`) */
  url(pathname = ''): string {
    return `http://127.0.0.1:${this.port}${pathname}`;
  }

  /** Arms rules (in addition to those armed); returns them for expectFired. */
  arm(...rules: FaultRule[]): FaultRule[] {
    for (const r of rules) this.rules.push({ ...r, matched: 0, fired: 0 });
    return rules;
  }

  /** Disarms every rule; the records stay. */
  disarm(): void {
    this.rules = [];
  }

  /** Forgets the records (and disarms). */
  reset(): void {
    this.disarm();
    this.requests.length = 0;
    this.fired.length = 0;
  }

  firedOf(rule: FaultRule | string): FiredFault[] {
    const name = typeof rule === 'string' ? rule : rule.name;
    return this.fired.filter((f) => f.rule === name);
  }

  /** Throws unless `rule` fired at least `min` times (default 1): a test whose fault never fired must fail. */
  expectFired(rule: FaultRule, min = 1): FiredFault[] {
    const f = this.firedOf(rule);
    if (f.length < min) {
      const seen = this.requests.map((r) => `${r.method} ${r.path}?${r.query}`).slice(-40);
      throw new Error(`the fault "${rule.name}" fired ${f.length} times, expected at least ${min}. Last requests:\n${seen.join('\n')}`);
    }
    return f;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private pick(rec: RecordedRequest): ArmedRule | undefined {
    let chosen: ArmedRule | undefined;
    for (const r of this.rules) {
      if (r.method && r.method !== rec.method) continue;
      if (!matches(rec.path, r.path) || !matches(rec.query, r.query)) continue;
      r.matched++;
      const nth = r.nth ?? 1;
      if (!chosen && r.matched >= nth && r.matched < nth + (r.times ?? 1)) chosen = r;
    }
    return chosen;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec: RecordedRequest = {
      seq: ++this.seq,
      method: req.method ?? 'GET',
      path: decodeURIComponent(u.pathname),
      // a SAS signature never reaches a record or a test message
      query: u.search.replace(/^\?/, '').replace(/(^|&)sig=[^&]*/, '$1sig=[redacted]'),
      at: Date.now(),
    };
    this.requests.push(rec);
    const rule = this.pick(rec);
    const fault = rule?.fault;
    if (rule) {
      rule.fired++;
      rec.fault = rule.name;
      this.fired.push({ rule: rule.name, kind: fault!.kind, seq: rec.seq, method: rec.method, path: rec.path, query: rec.query, at: Date.now() });
    }
    const socket = req.socket;
    const rst = () => {
      if (!socket.destroyed) socket.resetAndDestroy();
    };
    try {
      if (fault?.kind === 'drop' && fault.when === 'before') return rst();
      if (fault?.kind === 'status') {
        for await (const _ of req) {
          // the body is discarded: the service answers before using it
        }
        const body = azureErrorBody(fault.code);
        res.writeHead(fault.status, {
          'content-type': 'application/xml',
          'content-length': Buffer.byteLength(body),
          'x-ms-error-code': fault.code,
          'x-ms-request-id': '00000000-0000-0000-0000-000000000000',
          ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
        });
        res.end(body);
        rec.status = fault.status;
        return;
      }
      if (fault?.kind === 'action') await fault.run(rec);
      const up = await this.forward(req);
      if (fault?.kind === 'drop' && fault.when === 'after-request') {
        up.resume();
        return rst();
      }
      rec.status = up.statusCode;
      if (fault?.kind === 'rewrite') {
        const parts: Buffer[] = [];
        for await (const piece of up as AsyncIterable<Buffer>) parts.push(piece);
        const body = fault.body(Buffer.concat(parts));
        const headers = { ...up.headers, 'content-length': String(body.length) };
        delete headers['transfer-encoding'];
        res.writeHead(up.statusCode ?? 502, headers);
        res.end(body);
        return;
      }
      const length = Number(up.headers['content-length'] ?? 0);
      if (fault?.kind === 'stall' && (fault.at ?? 'headers') === 'headers') await sleep(fault.ms);
      res.writeHead(up.statusCode ?? 502, up.headers);
      res.flushHeaders();
      const half = Math.floor(length / 2);
      let sent = 0;
      let stalled = false;
      for await (const piece of up as AsyncIterable<Buffer>) {
        let chunk = piece;
        while (chunk.length > 0) {
          if (socket.destroyed) {
            up.destroy();
            return;
          }
          let n = chunk.length;
          if (fault?.kind === 'throttle') n = Math.min(n, Math.max(1, Math.floor(fault.bytesPerSecond / 20)));
          if ((fault?.kind === 'drop' || (fault?.kind === 'stall' && fault.at === 'mid-body' && !stalled)) && sent < half) n = Math.min(n, half - sent);
          if (sent >= half && half > 0 && fault?.kind === 'drop') {
            up.destroy();
            return rst();
          }
          if (sent >= half && fault?.kind === 'stall' && fault.at === 'mid-body' && !stalled) {
            stalled = true;
            await sleep(fault.ms);
          }
          if (!res.write(chunk.subarray(0, n))) await new Promise<void>((r) => res.once('drain', () => r()));
          sent += n;
          chunk = chunk.subarray(n);
          if (fault?.kind === 'throttle') await sleep(Math.ceil((n / fault.bytesPerSecond) * 1000));
        }
      }
      if (fault?.kind === 'drop') {
        // a body too short to halve (0 or 1 byte): drop after it instead
        return rst();
      }
      res.end();
    } catch {
      rst();
    }
  }

  /** Sends `req` upstream and resolves with the response (body not read). */
  private forward(req: http.IncomingMessage): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: this.upstream.host };
      const out = http.request(
        { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers, agent: this.agent },
        resolve,
      );
      out.on('error', reject);
      req.pipe(out);
      req.on('error', (e) => out.destroy(e));
    });
  }
}
