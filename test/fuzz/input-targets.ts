/**
 * Fuzz targets over the other inputs a user or a client hands driveseed: the return-address file,
 * the legacy s:/p:/u: command line, the JSON-RPC line framer, the RPC server on arbitrary lines and
 * the JSON-RPC params of every command.
 */
import fc from 'fast-check';
import { GLOBAL_OPTIONS, rewriteLegacyArgv } from '../../src/cli/legacy';
import { buildProgram, type Selection } from '../../src/cli/program';
import { allCommands } from '../../src/commands/index';
import { versionCommand } from '../../src/commands/version';
import { validateReturnInfo } from '../../src/core/job-inputs';
import { ParamsError, paramsToRaw } from '../../src/rpc/params';
import { RpcServer } from '../../src/rpc/server';
import { LineSplitter } from '../../src/rpc/stdio';
import { jsonMutations, mutations, type Target, text, typedOnly } from './harness';
import { seed } from './seeds';

const SWITCH = /^([sSpPuU]):(.*)$/s;
const SECRET = 'S3cr3t-fuzz-marker';

/** The legacy words of an input, and what the real program makes of the rewritten command line. */
async function legacyCheck(argv: string[]): Promise<void> {
  const out = typedOnly('rewriteLegacyArgv', () => rewriteLegacyArgv(argv));
  if (out === undefined) return;
  if (!Array.isArray(out) || out.some((x) => typeof x !== 'string')) throw new Error('rewriteLegacyArgv returned something other than an argv');
  let lead = 0;
  while (lead < argv.length && GLOBAL_OPTIONS.includes(argv[lead]!)) lead++;
  if (argv[lead] === undefined || !SWITCH.test(argv[lead]!)) {
    if (JSON.stringify(out) !== JSON.stringify(argv)) throw new Error(`a command line that is not legacy syntax was changed: ${JSON.stringify(out)}`);
    return;
  }
  const words = argv.slice(lead);
  const rest = words.filter((w) => !SWITCH.test(w));
  const value = (k: string) => words.map((w) => SWITCH.exec(w)).find((m) => m && m[1]!.toLowerCase() === k)?.[2];
  const want = {
    command: words.some((w) => /^u:$/i.test(w)) ? 'ship' : 'prep',
    staging: value('s'),
    publishSettings: value('p'),
  };
  if (
    JSON.stringify(out.slice(out.length - rest.length)) !== JSON.stringify(rest) ||
    JSON.stringify(out.slice(0, lead)) !== JSON.stringify(argv.slice(0, lead))
  )
    throw new Error(`the other tokens did not pass through unchanged: ${JSON.stringify(out)}`);
  // What the program parses from the rewritten words (the passed-through tokens are the user's own).
  const rewritten = out.slice(0, out.length - rest.length);
  let sel: Selection | undefined;
  const program = buildProgram(allCommands(), { select: (s) => (sel = s as Selection), writeOut: () => {}, writeErr: () => {} });
  try {
    await program.parseAsync(rewritten, { from: 'user' });
  } catch (e) {
    throw new Error(`the program refuses the rewritten command line ${JSON.stringify(rewritten)}: ${(e as Error).message}`);
  }
  const got = { command: sel?.spec.name, staging: sel?.raw.staging, publishSettings: sel?.raw.publishSettings };
  if (JSON.stringify(got) !== JSON.stringify(want))
    throw new Error(`${JSON.stringify(argv)} → ${JSON.stringify(rewritten)} parses as ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  for (const g of argv.slice(0, lead)) if (program.opts()[g.slice(2)] !== true) throw new Error(`global option ${g} was lost`);
}

/** A value of each JSON type, and a secret-looking string (which must never appear in an error). */
const paramValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, '', SECRET, [], [SECRET], [1], {}, { a: SECRET }, '/st', ['a', 'b']),
  fc.jsonValue({ maxDepth: 2 }),
);

export const INPUT_TARGETS: Record<string, Target> = {
  'return-address': {
    about: 'return address and shipping reader (validateReturnInfo over parsed JSON): required fields present, trimmed, non-empty strings',
    arb: () => fc.oneof(mutations(seed().returnInfo), jsonMutations(seed().returnInfo), fc.json()),
    check: (i) => {
      let v: unknown;
      try {
        v = JSON.parse(text(i));
      } catch {
        return; // the file reader turns a JSON syntax error into its own code before this point
      }
      const r = typedOnly('validateReturnInfo', () => validateReturnInfo(v, 'fuzz.json'));
      if (!r) return;
      const a = r.returnAddress as unknown as Record<string, unknown>;
      const s = r.returnShipping as unknown as Record<string, unknown>;
      for (const k of ['recipientName', 'streetAddress1', 'city', 'postalCode', 'countryOrRegion', 'phone', 'email'])
        if (typeof a[k] !== 'string' || a[k] === '' || (a[k] as string).trim() !== a[k])
          throw new Error(`accepted returnAddress.${k} = ${JSON.stringify(a[k])}`);
      for (const k of ['carrierName', 'carrierAccountNumber'])
        if (typeof s[k] !== 'string' || s[k] === '' || (s[k] as string).trim() !== s[k])
          throw new Error(`accepted returnShipping.${k} = ${JSON.stringify(s[k])}`);
    },
  },
  legacy: {
    about: 'the legacy s:/p:/u: rewriter (rewriteLegacyArgv): LEGACY_SYNTAX, or an argv the real program parses into prep/ship with the given values',
    arb: () => {
      const value = fc.oneof(
        fc.constantFrom('/st', 'D:\\Staging', 'a.publishsettings', '--json', '--verbose', '--yes', '-', '--', '-h', '--help', 's:x', 'u:', ' ', '='),
        fc.string({ maxLength: 8 }),
      );
      const token = fc.oneof(
        fc.tuple(fc.constantFrom('s:', 'S:', 'p:', 'P:', 'u:', 'U:'), fc.oneof(fc.constant(''), value)).map(([k, v]) => k + v),
        fc.constantFrom('--json', '--verbose', '--yes', 'prep', 'ship', '-', '--'),
        fc.string({ maxLength: 8 }),
      );
      return fc.array(token, { maxLength: 6 }).map((a) => a.join('\0'));
    },
    check: (i) => legacyCheck(text(i) === '' ? [] : text(i).split('\0')),
  },
  'rpc-framer': {
    about:
      'the JSON-RPC line framer (LineSplitter) on bytes (invalid UTF-8 included) in any chunking: the same lines as split whole; over-long lines reported and skipped',
    binary: true,
    arb: () =>
      fc
        .record({
          lines: fc.array(
            fc.oneof(
              fc.uint8Array({ maxLength: 40 }),
              fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s, 'utf8')),
            ),
            { maxLength: 8 },
          ),
          cuts: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }),
          last: fc.boolean(),
        })
        .map(({ lines, cuts, last }) => {
          const body = Buffer.concat(lines.flatMap((l, k) => (k === 0 ? [Buffer.from(l)] : [Buffer.from([10]), Buffer.from(l)])));
          // input layout: [number of cuts] [cuts...] [body (+ "\n")]
          return Buffer.concat([Buffer.from([cuts.length, ...cuts]), body, Buffer.from(last ? [10] : [])]);
        }),
    check: (i) => {
      const input = Buffer.from(i);
      const n = input[0] ?? 0;
      const cuts = [...input.subarray(1, 1 + n)];
      const bytes = input.subarray(1 + n);
      const MAX = 32;
      const expected: string[] = [];
      let tooLong = 0;
      const parts: Buffer[] = [];
      for (let from = 0; from <= bytes.length; ) {
        const nl = bytes.indexOf(10, from);
        parts.push(bytes.subarray(from, nl < 0 ? bytes.length : nl));
        if (nl < 0) break;
        from = nl + 1;
      }
      if (parts.length && parts[parts.length - 1]!.length === 0) parts.pop();
      for (const p of parts) {
        if (p.length > MAX) tooLong++;
        else if (p.length > 0) expected.push(p.toString('utf8'));
      }
      const got: string[] = [];
      let gotTooLong = 0;
      const s = new LineSplitter(
        MAX,
        (l) => got.push(l),
        () => gotTooLong++,
      );
      const at = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
      let from = 0;
      for (const c of [...at, bytes.length]) {
        s.push(bytes.subarray(from, c));
        from = c;
      }
      s.end();
      const gotNonEmpty = got.filter((l) => l.length > 0);
      if (JSON.stringify(gotNonEmpty) !== JSON.stringify(expected) || gotTooLong !== tooLong)
        throw new Error(`LineSplitter gave ${JSON.stringify(got)} (${gotTooLong} too long), expected ${JSON.stringify(expected)} (${tooLong})`);
    },
  },
  'rpc-server': {
    about: 'the JSON-RPC server on arbitrary lines: every reply is a well-formed JSON-RPC 2.0 message, every request with an id gets exactly one',
    arb: () =>
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.json(),
        fc
          .record({
            jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('1.0'), fc.integer()),
            id: fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), fc.double(), fc.boolean(), fc.constant(undefined)),
            method: fc.oneof(
              fc.constantFrom('version', 'cancel', '$/cancelRequest', 'rpc.discover', 'nope', '', '__proto__', 'constructor', 'toString'),
              fc.integer(),
            ),
            params: fc.oneof(fc.constant(undefined), fc.jsonValue(), fc.record({ id: fc.integer() })),
          })
          .map((r) => JSON.stringify(r)),
      ),
    check: async (i) => {
      const sent: string[] = [];
      const server = new RpcServer({ commands: [versionCommand], env: {}, send: (m) => sent.push(m) });
      const line = text(i).split('\n')[0]!;
      try {
        server.handleLine(line);
      } catch (e) {
        throw new Error(`handleLine threw ${(e as Error).name}: ${(e as Error).message}`);
      }
      await server.shutdown();
      for (const m of sent) {
        const msg = JSON.parse(m) as Record<string, unknown>;
        if (msg.jsonrpc !== '2.0') throw new Error(`reply without jsonrpc 2.0: ${m.slice(0, 200)}`);
        if ('error' in msg) {
          const err = msg.error as Record<string, unknown>;
          if (!Number.isInteger(err.code) || typeof err.message !== 'string') throw new Error(`malformed error object: ${m.slice(0, 200)}`);
        }
      }
      let req: unknown;
      try {
        req = JSON.parse(line);
      } catch {
        req = undefined;
      }
      const isRequest = (r: unknown) =>
        typeof r === 'object' &&
        r !== null &&
        !Array.isArray(r) &&
        'id' in r &&
        (typeof (r as { id: unknown }).id === 'string' || Number.isFinite((r as { id: unknown }).id));
      const replies = sent.filter((m) => 'result' in JSON.parse(m) || 'error' in JSON.parse(m));
      if (line.trim() !== '' && req === undefined && replies.length !== 1) throw new Error(`a line that is not JSON got ${replies.length} replies`);
      if (isRequest(req) && replies.length !== 1) throw new Error(`a request with an id got ${replies.length} replies: ${line.slice(0, 200)}`);
    },
  },
  'rpc-params': {
    about:
      'JSON-RPC params of every command (paramsToRaw): only declared fields with their declared types, or ParamsError naming the field, never echoing a value',
    arb: () => {
      const specs = allCommands();
      return fc
        .record({
          command: fc.nat(specs.length - 1),
          shape: fc.oneof(
            { weight: 1, arbitrary: paramValue.map((v) => ({ whole: v })) },
            {
              weight: 6,
              arbitrary: fc.array(fc.tuple(fc.oneof(fc.nat(40), fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor')), paramValue), {
                maxLength: 6,
              }),
            },
          ),
        })
        .map(({ command, shape }) => {
          const spec = specs[command]!;
          const names = [...(spec.options ?? []).map((o) => o.name), ...(spec.args ?? []).map((a) => a.name), spec.destructive?.confirmParam].filter(
            (n): n is string => typeof n === 'string',
          );
          if ('whole' in shape) return JSON.stringify({ method: spec.rpcMethod, params: shape.whole });
          const params: Record<string, unknown> = {};
          for (const [k, v] of shape) {
            const key = typeof k === 'number' ? (names[k % Math.max(1, names.length)] ?? 'x') : k;
            // defineProperty: a key named __proto__ becomes an own property, as JSON.parse makes it
            if (!Object.hasOwn(params, key)) Object.defineProperty(params, key, { value: v, enumerable: true, writable: true, configurable: true });
          }
          return JSON.stringify({ method: spec.rpcMethod, params });
        });
    },
    check: (i) => {
      const { method, params } = JSON.parse(text(i)) as { method: string; params: unknown };
      const spec = allCommands().find((s) => s.rpcMethod === method);
      if (!spec) return; // a command that has gone since the input was saved
      let raw: Record<string, unknown>;
      try {
        raw = paramsToRaw(spec, params);
      } catch (e) {
        if (!(e instanceof ParamsError)) throw new Error(`paramsToRaw threw ${(e as Error).name}: ${(e as Error).message}`);
        if (e.message.includes(SECRET)) throw new Error(`a param value reached the error message: ${e.message}`);
        return;
      }
      const types = new Map<string, string>();
      for (const o of spec.options ?? []) if (!o.cliOnly) types.set(o.name, o.type);
      for (const a of spec.args ?? []) types.set(a.name, a.variadic ? 'string[]' : 'string');
      for (const [k, v] of Object.entries(raw)) {
        if (k === spec.destructive?.confirmParam && !types.has(k)) continue;
        const t = types.get(k);
        const ok =
          t === 'string'
            ? typeof v === 'string'
            : t === 'number'
              ? typeof v === 'number' && Number.isFinite(v)
              : t === 'boolean'
                ? typeof v === 'boolean'
                : t === 'string[]'
                  ? Array.isArray(v) && v.every((x) => typeof x === 'string')
                  : false;
        if (!ok) throw new Error(`paramsToRaw passed ${k} = ${JSON.stringify(v)} (declared ${t ?? 'not at all'}) for ${method}`);
      }
    },
  },
};
