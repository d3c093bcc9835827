/**
 * Fuzz targets over the repository metadata readers: config, index and snapshot on tampered
 * ciphertext and on authentically sealed tampered JSON (the structure checks behind the
 * encryption), and the tree stream reader with its record validation. Besides the contract (a
 * value or REPO_CORRUPT / REPO_VERSION), each checks that what a reader accepts is what the code
 * after it can use: a config the data plane takes, an index the chunk index loads, a snapshot
 * whose fields the next stage and restore read.
 */
import fc from 'fast-check';
import { checkChunkerParams } from '../../src/native/pipeline';
import { ChunkIndex } from '../../src/repo/chunk-index';
import { parseConfig } from '../../src/repo/config';
import { decodeIndex } from '../../src/repo/index-file';
import { decodeSnapshot } from '../../src/repo/snapshot';
import { badName, readTree, TREE_HEADER, validRecord } from '../../src/repo/tree';
import { byteMutations, chunked, jsonMutations, mutations, outcome, type Target, text, typedOnly } from './harness';
import { KEYS, plainOf, resealed, seed } from './seeds';

const MiB = 1024 * 1024;
const safeNat = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

function configUsable(c: ReturnType<typeof parseConfig>): string | undefined {
  if (!((c.version === 1 && c.chunkIds === undefined) || (c.version === 2 && c.chunkIds === 'blake3')))
    return `version ${JSON.stringify(c.version)}, chunkIds ${JSON.stringify(c.chunkIds)}`;
  try {
    checkChunkerParams(c.chunker);
  } catch (e) {
    return (e as Error).message;
  }
  if (!(c.packSize >= MiB && c.packSize <= 4096 * MiB)) return `packSize ${c.packSize}`;
  if (!(c.blockSize >= 4096 && c.blockSize <= 1024 * MiB)) return `blockSize ${c.blockSize}`;
  return undefined;
}

function indexUsable(doc: ReturnType<typeof decodeIndex>): string | undefined {
  for (const p of doc.packs) {
    if (!safeNat(p.size)) return `pack size ${p.size}`;
    // Not the hex of each chunk id: decodeIndex checks entries for shape only (64 characters), as a
    // hex check would add about half of JSON.parse's time for an index of millions of entries, and
    // the document is authenticated (only a key holder's writer makes one).
    for (const e of p.entries) if (e[0].length !== 64) return `chunk id ${JSON.stringify(e[0])}`;
  }
  return undefined;
}

/** The fields the code after decodeSnapshot reads without checking: the next stage (time, summary.durationMs), restore and `snapshots`. */
function snapshotUsable(d: ReturnType<typeof decodeSnapshot>): string | undefined {
  if (!Number.isFinite(Date.parse(d.time))) return `time ${JSON.stringify(d.time)}`;
  if (typeof d.host !== 'string') return `host ${JSON.stringify(d.host)}`;
  if (!d.sources.every((s) => typeof s === 'string')) return `sources ${JSON.stringify(d.sources)}`;
  const s = d.summary as unknown as Record<string, unknown> | null;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return `summary ${JSON.stringify(s)}`;
  for (const k of ['files', 'bytes', 'durationMs']) if (!Number.isSafeInteger(s[k])) return `summary.${k} ${JSON.stringify(s[k])}`;
  return undefined;
}

function accepted<T>(what: string, v: T | undefined, usable: (v: T) => string | undefined): void {
  if (v === undefined) return;
  const why = usable(v);
  if (why) throw new Error(`${what} accepted a document the code after it cannot use: ${why}`);
}

const TREE = [
  TREE_HEADER,
  JSON.stringify({ t: 'd', n: 'src', m: 0o40755, u: 0, g: 0, mt: '1764928800000000000' }),
  JSON.stringify({
    t: 'f',
    n: 'a.txt',
    m: 0o100644,
    u: 0,
    g: 0,
    mt: '1764928800000000000',
    s: 5,
    c: [['c'.repeat(64), 5]],
    h: [[5, 4096]],
    k: 1,
    ct: '1',
    i: '2',
  }),
  JSON.stringify({ t: 'l', n: 'l', m: 0o120777, u: 0, g: 0, mt: '1', tg: '../x' }),
  JSON.stringify({ t: 'h', n: 'b.txt', k: 1 }),
  JSON.stringify({ t: 'e' }),
  '',
].join('\n');

/** readTree over `bufs` (as the tree's chunks): what it yields, every record checked, or its error. */
async function treeOf(bufs: Buffer[]): Promise<string> {
  const size = bufs.reduce((a, b) => a + b.length, 0);
  const ref = { chunks: bufs.map((b, k) => [String(k), b.length] as [string, number]), size };
  const out: unknown[] = [];
  try {
    for await (const r of readTree(ref, (id) => bufs[Number(id)]!, 'fuzz tree')) out.push(r);
  } catch (e) {
    return outcome(() => {
      throw e;
    });
  }
  for (const r of out) {
    const rec = (r as { rec: unknown }).rec;
    if (!validRecord(rec)) throw new Error(`readTree yielded a record validRecord refuses: ${JSON.stringify(rec)}`);
    const name = (rec as { n?: unknown }).n;
    const why = name === undefined ? undefined : badName(name);
    if (why !== undefined && typeof why !== 'string') throw new Error('badName returned neither a reason nor undefined');
  }
  return `value ${JSON.stringify(out)}`;
}

/** Tree streams: the valid one mutated as text, or its records mutated as JSON. */
function trees(): fc.Arbitrary<string> {
  const records = JSON.stringify(
    TREE.split('\n')
      .slice(1, -1)
      .map((l) => JSON.parse(l) as unknown),
  );
  const asStream = (j: string) => {
    const recs = JSON.parse(j) as unknown;
    return [TREE_HEADER, ...(Array.isArray(recs) ? recs.map((r) => JSON.stringify(r)) : [j]), ''].join('\n');
  };
  return fc.oneof({ weight: 3, arbitrary: mutations(TREE) }, { weight: 2, arbitrary: jsonMutations(records).map(asStream) });
}

export const REPO_TARGETS: Record<string, Target> = {
  'repo-config': {
    about: 'repository config reader (parseConfig): REPO_CORRUPT / REPO_VERSION, or a config whose chunker, pack and block sizes the data plane takes',
    arb: () => fc.oneof(mutations(seed().config), jsonMutations(seed().config), fc.json()),
    check: (i) =>
      accepted(
        'parseConfig',
        typedOnly('parseConfig', () => parseConfig(text(i), 'config')),
        configUsable,
      ),
  },
  'repo-index': {
    about: 'index decoder (decodeIndex) on tampered ciphertext: REPO_CORRUPT',
    binary: true,
    arb: () => fc.oneof({ weight: 4, arbitrary: byteMutations(seed().index) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) }),
    check: (i) =>
      accepted(
        'decodeIndex',
        typedOnly('decodeIndex', () => decodeIndex(KEYS, 'fuzz', i as Uint8Array)),
        indexUsable,
      ),
  },
  'repo-snapshot': {
    about: 'snapshot decoder (decodeSnapshot) on tampered ciphertext: REPO_CORRUPT',
    binary: true,
    arb: () => fc.oneof({ weight: 4, arbitrary: byteMutations(seed().snapshot) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) }),
    check: (i) =>
      accepted(
        'decodeSnapshot',
        typedOnly('decodeSnapshot', () => decodeSnapshot(KEYS, 'fuzz', i as Uint8Array)),
        snapshotUsable,
      ),
  },
  'repo-index-resealed': {
    about: 'index decoder on authentic ciphertext of tampered JSON: REPO_CORRUPT, or an index the chunk index loads',
    arb: () =>
      fc.oneof(
        { weight: 3, arbitrary: jsonMutations(plainOf('index')) },
        { weight: 1, arbitrary: mutations(plainOf('index')) },
        { weight: 1, arbitrary: fc.json() },
      ),
    check: (i) => {
      const doc = typedOnly('decodeIndex', () => decodeIndex(KEYS, 'fuzz', resealed('index', text(i))));
      accepted('decodeIndex', doc, indexUsable);
      if (doc) typedOnly('ChunkIndex.addIndex', () => new ChunkIndex().addIndex(doc));
    },
  },
  'repo-snapshot-resealed': {
    about:
      'snapshot decoder on authentic ciphertext of tampered JSON: REPO_CORRUPT, or a snapshot whose time, host, sources and summary the commands after it read',
    arb: () =>
      fc.oneof(
        { weight: 3, arbitrary: jsonMutations(plainOf('snapshot')) },
        { weight: 1, arbitrary: mutations(plainOf('snapshot')) },
        { weight: 1, arbitrary: fc.json() },
      ),
    check: (i) =>
      accepted(
        'decodeSnapshot',
        typedOnly('decodeSnapshot', () => decodeSnapshot(KEYS, 'fuzz', resealed('snapshot', text(i)))),
        snapshotUsable,
      ),
  },
  'repo-tree': {
    about:
      'tree stream reader (readTree, validRecord, badName) on tampered streams cut into any chunks: the same records or the same REPO_CORRUPT; every record valid',
    arb: () => chunked(trees()),
    check: async (i) => {
      const { text: t, cuts } = JSON.parse(text(i)) as { text: string; cuts: number[] };
      const bytes = Buffer.from(t, 'utf8');
      const at = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
      const parts: Buffer[] = [];
      let from = 0;
      for (const c of [...at, bytes.length]) {
        parts.push(bytes.subarray(from, c));
        from = c;
      }
      const whole = await treeOf([bytes]);
      const split = await treeOf(parts);
      if (whole !== split)
        throw new Error(`chunked ${JSON.stringify(parts.map((c) => c.length))}:\n  whole: ${whole.slice(0, 300)}\n  parts: ${split.slice(0, 300)}`);
    },
  },
};
