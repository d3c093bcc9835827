/**
 * Fuzz targets for the TypeScript readers of untrusted input, as fast-check properties. One target
 * = an arbitrary (random input, and mutations of a valid document) and a check. The contract every
 * reader must keep: it returns a well-formed value or throws a DriveseedError with a code (the RPC
 * server: answers with a well-formed JSON-RPC message); never a TypeError, RangeError or other
 * stray exception, never a hang. test/fuzz-parsers.test.ts runs each briefly in CI and replays the
 * committed regressions; scripts/fuzz-ts.mjs runs them for as long as asked.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { CopyLogWriter, type DriveLog, DriveLogWriter, parseDriveLog, serializeDriveLog } from '../../src/azure/drivelog';
import { type DriveManifest, parseManifestText, writeManifest } from '../../src/azure/manifest';
import { parseXmlTree, XmlSyntaxError } from '../../src/azure/xml';
import { DriveseedError } from '../../src/base/errors';
import { rewriteLegacyArgv } from '../../src/cli/legacy';
import { versionCommand } from '../../src/commands/version';
import { summariseDriveLog } from '../../src/core/copy-log-summary';
import { parsePublishSettings, validateReturnInfo } from '../../src/core/job-inputs';
import { RpcServer } from '../../src/rpc/server';
import { LineSplitter } from '../../src/rpc/stdio';
import { ChunkIndex } from '../../src/repo/chunk-index';
import { parseConfig } from '../../src/repo/config';
import { RepoKeys, decodeMetadata, encodeMetadata } from '../../src/repo/crypto';
import { decodeIndex } from '../../src/repo/index-file';
import { decodeSnapshot } from '../../src/repo/snapshot';
import { badName, validRecord } from '../../src/repo/tree';

export interface Target {
  /** what it reads, for reports */
  about: string;
  /** input generator; every input is a string or a Uint8Array, so a failing one can be kept as a file */
  arb: () => fc.Arbitrary<string | Uint8Array>;
  /** throws when the contract is broken */
  check: (input: string | Uint8Array) => void | Promise<void>;
}

/** The reader may return or throw a DriveseedError; anything else breaks the contract. */
function typedOnly(what: string, fn: () => unknown, also: (e: unknown) => boolean = () => false): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof DriveseedError && typeof e.code === 'string' && e.code.length > 0) return;
    if (also(e)) return;
    const err = e as Error;
    throw new Error(`${what} threw ${err?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 300)}`);
  }
}

const text = (i: string | Uint8Array): string => (typeof i === 'string' ? i : Buffer.from(i).toString('utf8'));

/** Random edits of a valid document: cut, duplicate, delete, insert markup or noise. */
function mutations(seed: string): fc.Arbitrary<string> {
  const pieces = [
    'null',
    '[]',
    '{}',
    '0',
    'true',
    '<',
    '>',
    '</',
    '/>',
    '&',
    '&amp;',
    '&#x0;',
    '&#1114112;',
    '&lt;',
    '"',
    "'",
    '=',
    '<!--',
    '-->',
    '<![CDATA[',
    ']]>',
    '\0',
    '\uffff',
    '\ud800',
    '-1',
    '1e309',
    'NaN',
    ' ',
  ];
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), s: fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 12 })) }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = seed;
    for (const e of edits) {
      const at = s.length === 0 ? 0 : e.at % s.length;
      if (e.kind === 'cut') s = s.slice(0, at);
      else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
      else if (e.kind === 'insert') s = s.slice(0, at) + e.s + s.slice(at);
      else s = s.slice(0, at) + s.slice(at, at + e.len) + s.slice(at);
    }
    return s;
  });
}

/** A JSON document with some of its values (at any depth) replaced by arbitrary JSON values, or deleted. */
function jsonMutations(seedJson: string): fc.Arbitrary<string> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    paths.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...at, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(JSON.parse(seedJson), []);
  const edit = fc.record({
    at: fc.nat(),
    del: fc.boolean(),
    value: fc.oneof(fc.constantFrom(null, -1, 1e308, '', [], {}, [null], '..', 'a'.repeat(64)), fc.jsonValue({ maxDepth: 2 })),
  });
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const doc = JSON.parse(seedJson) as unknown;
    let root = doc;
    for (const e of edits) {
      const p = paths[e.at % paths.length]!;
      if (p.length === 0) {
        root = structuredClone(e.value);
        continue;
      }
      let parent = root as Record<string | number, unknown> | null;
      for (const k of p.slice(0, -1)) parent = parent && typeof parent === 'object' ? (parent[k] as Record<string | number, unknown>) : null;
      if (!parent || typeof parent !== 'object') continue;
      const last = p[p.length - 1]!;
      if (Array.isArray(parent) !== (typeof last === 'number')) continue; // an earlier edit changed the shape here
      if (e.del && !Array.isArray(parent)) delete parent[last];
      else parent[last] = structuredClone(e.value);
    }
    return JSON.stringify(root);
  });
}

/** Bytes flipped, cut or appended. */
function byteMutations(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      cut: fc.option(fc.nat()),
      tail: fc.uint8Array({ maxLength: 32 }),
    })
    .map(({ flips, cut, tail }) => {
      let b = Buffer.from(seed);
      for (const [at, x] of flips) if (b.length > 0) b[at % b.length]! ^= x;
      if (cut !== null && b.length > 0) b = b.subarray(0, cut % b.length);
      return Buffer.concat([b, tail]);
    });
}

// ---- seed documents, made by the product's own writers ---------------------------------------

const H = 'D41D8CD98F00B204E9800998ECF8427E';
const MANIFEST: DriveManifest = {
  driveId: 'WD-WCC4E1234567',
  clientCreator: 'driveseed fuzz',
  blobLists: [
    {
      id: 'session#1-0',
      blobs: [
        {
          blobPath: 'seed/data/ab/abcdef',
          filePath: '\\data\\ab\\abcdef',
          length: 5 * 1024 * 1024,
          importDisposition: 'overwrite',
          blocks: [
            { offset: 0, length: 4 * 1024 * 1024, hash: H },
            { offset: 4 * 1024 * 1024, length: 1024 * 1024, hash: H },
          ],
        },
        { blobPath: 'seed/config', filePath: '\\config', length: 0, blocks: [] },
      ],
    },
  ],
};

const LOG: DriveLog = {
  driveId: 'WD-WCC4E1234567',
  status: 'CompletedWithErrors',
  blobs: [
    {
      status: 'CompletedWithErrors',
      blobPath: 'seed/data/ab/abcdef',
      filePath: '\\data\\ab\\abcdef',
      length: 5 * 1024 * 1024,
      lastModified: 'Sat, 05 Dec 2026 10:00:00 GMT',
      importDisposition: { value: 'overwrite', status: 'Created' },
      blocks: [
        { offset: 0, length: 4 * 1024 * 1024, hash: H, status: 'Completed' },
        { offset: 4 * 1024 * 1024, length: 1024 * 1024, hash: H, status: 'IOFailed' },
      ],
    },
    { status: 'Completed', blobPath: 'seed/config', filePath: '\\config', length: 0, crc64: '0123456789ABCDEF' },
  ],
};

interface Seeds {
  manifest: string;
  classicLog: string;
  copyLog: string;
  copyLogVerbose: string;
  publishSettings: string;
  returnInfo: string;
  config: string;
  index: Uint8Array;
  snapshot: Uint8Array;
}

export const KEYS = new RepoKeys(Buffer.alloc(32, 7), Buffer.alloc(32, 9));
let seeds: Seeds | undefined;
const work = () => fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-fuzz-'));

/** Builds the valid documents the mutations start from (once per process). */
export async function seedDocuments(): Promise<Seeds> {
  if (seeds) return seeds;
  const dir = work();
  try {
    const m = path.join(dir, 'DriveManifest.xml');
    await writeManifest(m, MANIFEST);
    const copy = async (verbose: boolean) => {
      const f = path.join(dir, `copy-${verbose}.xml`);
      const w = await CopyLogWriter.create(f, LOG.driveId, { verbose });
      for (const b of LOG.blobs) await w.addBlob(b);
      await w.finish('CompletedWithErrors', ['ManifestFileHashMismatch']);
      return fs.readFileSync(f, 'utf8');
    };
    const classic = path.join(dir, 'classic.xml');
    const dw = await DriveLogWriter.create(classic, LOG.driveId);
    for (const b of LOG.blobs) await dw.addBlob(b);
    await dw.finish(LOG.status);
    seeds = {
      manifest: fs.readFileSync(m, 'utf8'),
      classicLog: fs.readFileSync(classic, 'utf8'),
      copyLog: await copy(false),
      copyLogVerbose: await copy(true),
      publishSettings:
        '<?xml version="1.0" encoding="utf-8"?>\n<PublishData><PublishProfile SchemaVersion="2.0" PublishMethod="AzureServiceManagementAPI"><Subscription ServiceManagementUrl="https://management.core.windows.net" Id="00000000-0000-0000-0000-000000000001" Name="Prod" ManagementCertificate="MIIK" /></PublishProfile></PublishData>\n',
      returnInfo: JSON.stringify({
        returnAddress: {
          recipientName: 'Ops',
          streetAddress1: '1 Main St',
          city: 'Springfield',
          postalCode: '12345',
          countryOrRegion: 'US',
          phone: '5550100',
          email: 'ops@example.com',
        },
        returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123' },
      }),
      config: JSON.stringify({
        format: 'driveseed-repository',
        version: 1,
        id: '0123456789abcdef0123456789abcdef',
        created: '2026-12-05T10:00:00.000Z',
        kdf: { name: 'scrypt', N: 16384, r: 8, p: 1, salt: Buffer.alloc(32, 1).toString('base64') },
        keys: Buffer.alloc(92, 2).toString('base64'),
        chunker: { min: 524288, avg: 1048576, max: 8388608 },
        compression: { level: 3 },
        blockSize: 4194304,
        packSize: 67108864,
      }),
      index: encodeMetadata(KEYS, 'index', {
        version: 1,
        created: '2026-12-05T10:00:00.000Z',
        packs: [
          { name: 'a'.repeat(64), path: `data/aa/${'a'.repeat(64)}`, size: 1000, blockSize: 4194304, blockMd5: [H], entries: [['b'.repeat(64), 0, 900, 2000]] },
        ],
      }).bytes,
      snapshot: encodeMetadata(KEYS, 'snapshot', {
        version: 1,
        time: '2026-12-05T10:00:00.000Z',
        host: 'h',
        sources: ['/src'],
        job: 'j',
        tree: { size: 100, chunks: [['c'.repeat(64), 100]] },
        summary: { files: 1, dirs: 1, bytes: 5 },
      }).bytes,
    };
    return seeds;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The JSON inside a seed index or snapshot. */
function plainOf(kind: 'index' | 'snapshot'): string {
  return JSON.stringify(decodeMetadata(KEYS, kind, seeds![kind]));
}

/** `json` sealed as the repository seals metadata, so the decoder gets past authentication; text that is not JSON is sealed as a string. */
function resealed(kind: 'index' | 'snapshot', json: string): Uint8Array {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    doc = json;
  }
  return encodeMetadata(KEYS, kind, doc).bytes;
}

/** An input from the seed document `key`, mutated, or random text. */
function docs(key: keyof Seeds & string, random: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 300 })): () => fc.Arbitrary<string> {
  return () => fc.oneof({ weight: 4, arbitrary: mutations(seeds![key] as string) }, { weight: 1, arbitrary: random });
}

const xmlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '<a>',
        '</a>',
        '<b x="1">',
        '</b>',
        '<c/>',
        '&amp;',
        '&#65;',
        '&bogus;',
        '<!--x-->',
        '<?xml version="1.0"?>',
        '<![CDATA[x]]>',
        'text',
        '"',
      ),
      fc.string({ maxLength: 5 }),
    ),
    {
      maxLength: 40,
    },
  )
  .map((p) => p.join(''));

function deepNesting(): fc.Arbitrary<string> {
  return fc.integer({ min: 1, max: 20_000 }).map((n) => `${'<a>'.repeat(n)}x${'</a>'.repeat(n)}`);
}

export const TARGETS: Record<string, Target> = {
  manifest: {
    about: 'DriveManifest.xml reader (parseManifestText)',
    arb: () => fc.oneof(docs('manifest', xmlish)(), deepNesting()),
    check: (i) => typedOnly('parseManifestText', () => parseManifestText(text(i), 'fuzz.xml')),
  },
  xml: {
    about: 'the XML tokenizer and tree builder the manifest and log readers share (parseXmlTree)',
    arb: () => fc.oneof(xmlish, deepNesting(), mutations('<?xml version="1.0"?><r a="&lt;1&gt;">t&amp;<c/><d>&#x41;</d></r>')),
    check: (i) =>
      typedOnly(
        'parseXmlTree',
        () => parseXmlTree(text(i)),
        (e) => e instanceof XmlSyntaxError,
      ),
  },
  'drivelog-classic': {
    about: 'classic DriveLog reader (2014-11-01 / 2018-10-01), and the failure summary built from it',
    arb: docs('classicLog', xmlish),
    check: (i) =>
      typedOnly('parseDriveLog', () => {
        const log = parseDriveLog(text(i));
        summariseDriveLog(log, 'https://example/log.xml');
        serializeDriveLog(log);
      }),
  },
  'copylog-2021': {
    about: '2021-08-01 copy-log reader (error and verbose), and the failure summary built from it',
    arb: () => fc.oneof(docs('copyLog', xmlish)(), docs('copyLogVerbose')()),
    check: (i) =>
      typedOnly('parseDriveLog', () => {
        const log = parseDriveLog(text(i));
        summariseDriveLog(log, 'https://example/log.xml');
      }),
  },
  publishsettings: {
    about: '.publishsettings reader (parsePublishSettings)',
    arb: docs('publishSettings', xmlish),
    check: (i) => {
      const dir = work();
      try {
        const f = path.join(dir, 'x.publishsettings');
        fs.writeFileSync(f, i);
        typedOnly('parsePublishSettings', () => parsePublishSettings(f));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  'return-address': {
    about: 'return address and shipping reader (validateReturnInfo over parsed JSON)',
    arb: () => fc.oneof(docs('returnInfo')(), jsonMutations(seeds!.returnInfo), fc.json().map(String)),
    check: (i) => {
      let v: unknown;
      try {
        v = JSON.parse(text(i));
      } catch {
        return; // the file reader turns a JSON syntax error into its own code before this point
      }
      typedOnly('validateReturnInfo', () => validateReturnInfo(v, 'fuzz.json'));
    },
  },
  legacy: {
    about: 'the legacy s:/p:/u: argument rewriter (rewriteLegacyArgv)',
    arb: () =>
      fc
        .array(
          fc.oneof(
            fc.constantFrom('s:', 'p:', 'u:', 's:/x', 'p:a.publishsettings', 'u:', '/j:', '/t:1', '--json', 'prep', 'ship', '-', '--', 's:s:'),
            fc.string({ maxLength: 12 }),
          ),
          {
            maxLength: 8,
          },
        )
        .map((a) => a.join('\0')),
    check: (i) => {
      const argv = text(i).split('\0');
      typedOnly('rewriteLegacyArgv', () => {
        const out = rewriteLegacyArgv(argv);
        if (!Array.isArray(out) || out.some((x) => typeof x !== 'string')) throw new Error('rewriteLegacyArgv returned something other than an argv');
      });
    },
  },
  'rpc-framer': {
    about: 'the JSON-RPC line framer (LineSplitter): any chunking gives the same lines; over-long lines reported and skipped',
    arb: () =>
      fc
        .record({
          lines: fc.array(
            fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, '')),
            { maxLength: 8 },
          ),
          cuts: fc.array(fc.nat(), { maxLength: 6 }),
          last: fc.boolean(),
        })
        .map(({ lines, cuts, last }) => JSON.stringify({ text: lines.join('\n') + (last ? '\n' : ''), cuts })),
    check: (i) => {
      const { text: t, cuts } = JSON.parse(text(i)) as { text: string; cuts: number[] };
      const bytes = Buffer.from(t, 'utf8');
      const MAX = 32;
      const expected: string[] = [];
      let tooLong = 0;
      const parts = t.split('\n');
      if (parts.at(-1) === '') parts.pop();
      for (const p of parts) {
        if (Buffer.byteLength(p) > MAX) tooLong++;
        else if (p.length > 0) expected.push(p);
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
    about: 'the JSON-RPC server on arbitrary lines: every reply is a well-formed JSON-RPC 2.0 message, every request gets exactly one',
    arb: () =>
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.json(),
        fc
          .record({
            jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant('1.0'), fc.integer()),
            id: fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), fc.double(), fc.boolean(), fc.constant(undefined)),
            method: fc.oneof(fc.constantFrom('version', 'cancel', '$/cancelRequest', 'rpc.discover', 'nope', ''), fc.integer()),
            params: fc.oneof(
              fc.constant(undefined),
              fc.json().map((j) => JSON.parse(j) as unknown),
              fc.record({ id: fc.integer() }),
            ),
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
  'repo-config': {
    about: 'repository config reader (parseConfig)',
    arb: () => fc.oneof(docs('config', fc.json().map(String))(), jsonMutations(seeds!.config)),
    check: (i) => typedOnly('parseConfig', () => parseConfig(text(i), 'config')),
  },
  'repo-index': {
    about: 'index decoder (decodeIndex) on tampered bytes',
    arb: () => fc.oneof({ weight: 4, arbitrary: byteMutations(seeds!.index) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) }),
    check: (i) => typedOnly('decodeIndex', () => decodeIndex(KEYS, 'fuzz', i as Uint8Array)),
  },
  'repo-snapshot': {
    about: 'snapshot decoder (decodeSnapshot) on tampered bytes',
    arb: () => fc.oneof({ weight: 4, arbitrary: byteMutations(seeds!.snapshot) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) }),
    check: (i) => typedOnly('decodeSnapshot', () => decodeSnapshot(KEYS, 'fuzz', i as Uint8Array)),
  },
  'repo-index-resealed': {
    about: 'index decoder (decodeIndex) on authentic ciphertext of mutated and arbitrary JSON: the structure checks behind the encryption',
    arb: () =>
      fc.oneof(
        { weight: 3, arbitrary: jsonMutations(plainOf('index')) },
        { weight: 1, arbitrary: mutations(plainOf('index')) },
        { weight: 1, arbitrary: fc.json() },
      ),
    // and what reads it next: the chunk index every command builds from the index documents
    check: (i) => typedOnly('decodeIndex', () => new ChunkIndex().addIndex(decodeIndex(KEYS, 'fuzz', resealed('index', text(i))))),
  },
  'repo-snapshot-resealed': {
    about: 'snapshot decoder (decodeSnapshot) on authentic ciphertext of mutated and arbitrary JSON',
    arb: () =>
      fc.oneof(
        { weight: 3, arbitrary: jsonMutations(plainOf('snapshot')) },
        { weight: 1, arbitrary: mutations(plainOf('snapshot')) },
        { weight: 1, arbitrary: fc.json() },
      ),
    check: (i) => typedOnly('decodeSnapshot', () => decodeSnapshot(KEYS, 'fuzz', resealed('snapshot', text(i)))),
  },
  'repo-tree-record': {
    about: 'tree record validation (validRecord, badName) on arbitrary JSON',
    arb: () =>
      fc.oneof(
        fc.json(),
        fc
          .record({
            type: fc.constantFrom('file', 'dir', 'symlink', 'hardlink', 'x'),
            name: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('.', '..', 'a/b', 'a\\b', '', '\0')),
            size: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 3 })),
            chunks: fc.oneof(fc.constant(undefined), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 })),
          })
          .map((r) => JSON.stringify(r)),
      ),
    check: (i) => {
      const v = JSON.parse(text(i)) as unknown;
      typedOnly('validRecord', () => {
        const ok = validRecord(v);
        if (typeof ok !== 'boolean') throw new Error('validRecord returned a non-boolean');
        const name = (v as { name?: unknown } | null)?.name;
        const why = badName(name);
        if (why !== undefined && typeof why !== 'string') throw new Error('badName returned neither a reason nor undefined');
        if (ok && why !== undefined) throw new Error(`validRecord accepted a record whose name is bad (${why})`);
      });
    },
  },
};

/** Fresh random bytes for callers that need a seed of their own. */
export const randomSeed = (): number => randomBytes(4).readUInt32LE(0) & 0x7fffffff;

/** The regression inputs kept for a target: test/fuzz/regressions/<target>/*. */
export function regressions(target: string): { file: string; input: Buffer }[] {
  const dir = path.join(__dirname, 'regressions', target);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => ({ file: path.join(dir, f), input: fs.readFileSync(path.join(dir, f)) }));
}

/** The input as its target takes it: binary targets take bytes, the others text. */
export function asInput(target: string, bytes: Buffer): string | Uint8Array {
  return target === 'repo-index' || target === 'repo-snapshot' ? bytes : bytes.toString('utf8');
}

export interface RunReport {
  target: string;
  runs: number;
  failure?: { input: string | Uint8Array; error: string; seed: number };
}

/** Runs one target for `numRuns` inputs or until `ms` has passed, whichever comes first. */
export async function runTarget(name: string, opts: { numRuns?: number; ms?: number; seed?: number }): Promise<RunReport> {
  await seedDocuments();
  const t = TARGETS[name];
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${Object.keys(TARGETS).join(', ')})`);
  const seed = opts.seed ?? randomSeed();
  let runs = 0;
  const details = await fc.check(
    fc.asyncProperty(t.arb(), async (input) => {
      runs++;
      await t.check(input);
    }),
    {
      seed,
      numRuns: opts.numRuns ?? Number.MAX_SAFE_INTEGER,
      ...(opts.ms ? { interruptAfterTimeLimit: opts.ms, markInterruptAsFailure: false } : {}),
    },
  );
  if (details.failed && details.counterexample) {
    const input = details.counterexample[0] as string | Uint8Array;
    return { target: name, runs, failure: { input, error: String((details.errorInstance as Error)?.message ?? details.errorInstance), seed } };
  }
  return { target: name, runs };
}
