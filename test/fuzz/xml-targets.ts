/**
 * Fuzz targets over the XML readers: DriveManifest.xml, the shared tokenizer, the classic DriveLog
 * and the 2021-08-01 copy log (with the failure summary built from them), and .publishsettings.
 * Besides the contract (a value or a DriveseedError), each checks what a returned value promises:
 * the manifest writer accepts what the reader accepted and reads back the same, any chunking of a
 * streamed document gives the same result, a DriveLog read back from its own serialisation is the same.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { parseDriveLog, serializeDriveLog } from '../../src/azure/drivelog';
import { type DriveManifest, ManifestParser, parseManifestText, readManifest, writeManifest } from '../../src/azure/manifest';
import { parseXmlTree, XmlSyntaxError, XmlTokenizer, type XmlEvent } from '../../src/azure/xml';
import { summariseDriveLog } from '../../src/core/copy-log-summary';
import { parsePublishSettings } from '../../src/core/job-inputs';
import { byteMutations, chunked, chunksOf, mutations, outcome, sameJson, scratch, type Target, text, typedOnly } from './harness';
import { seed, type Seeds } from './seeds';

/** An input from the seed document `key`, mutated, or random text. */
function docs(key: keyof Seeds & string, random: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 300 })): () => fc.Arbitrary<string> {
  return () => fc.oneof({ weight: 4, arbitrary: mutations(seed()[key] as string) }, { weight: 1, arbitrary: random });
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
        '&#x0;',
        '&#xDFFF;',
        '&bogus;',
        '<!--x-->',
        '<?xml version="1.0"?>',
        '<![CDATA[x]]>',
        'text',
        '"',
        '<__proto__>',
        '<constructor/>',
        '<d toString="1" __proto__="2">',
      ),
      fc.string({ maxLength: 5 }),
    ),
    { maxLength: 40 },
  )
  .map((p) => p.join(''));

/** Nesting up to 20,000 deep (the tokenizer and tree builder keep explicit stacks, not the call stack), and long attributes. */
const deepOrHuge = fc.oneof(
  fc.integer({ min: 1, max: 20_000 }).map((n) => `${'<a>'.repeat(n)}x${'</a>'.repeat(n)}`),
  fc.integer({ min: 1, max: 200_000 }).map((n) => `<a x="${'&amp;'.repeat(n >> 3)}${'y'.repeat(n)}"/>`),
  fc.integer({ min: 1, max: 50_000 }).map((n) => `<a ${'x'.repeat(n)}=${' '.repeat(n)}/>`),
);

const SCRATCH_MANIFEST = () => path.join(scratch(), 'roundtrip', 'DriveManifest.xml');

/** Events with adjacent text merged: how the tokenizer splits text is not part of its promise. */
function normalised(evs: XmlEvent[]): XmlEvent[] {
  const out: XmlEvent[] = [];
  for (const e of evs) {
    const last = out[out.length - 1];
    if (e.type === 'text' && last?.type === 'text') out[out.length - 1] = { ...last, text: last.text + e.text };
    else out.push(e.type === 'open' ? { ...e, attrs: { ...e.attrs } } : e);
  }
  return out.filter((e) => e.type !== 'text' || e.text !== '');
}

function tokens(chunks: string[]): string {
  const t = new XmlTokenizer();
  const evs: XmlEvent[] = [];
  try {
    for (const c of chunks) evs.push(...t.feed(c));
    evs.push(...t.end());
  } catch (e) {
    if (e instanceof XmlSyntaxError) return `error ${e.message}`;
    throw new Error(`XmlTokenizer threw ${(e as Error).name}: ${(e as Error).message}`);
  }
  return JSON.stringify(normalised(evs));
}

function manifestInChunks(chunks: string[]): DriveManifest {
  const parser = new ManifestParser('fuzz.xml');
  const m: DriveManifest = { driveId: '', blobLists: [] };
  const items = chunks.flatMap((c) => parser.feed(c));
  items.push(...parser.end());
  for (const it of items) {
    while (m.blobLists.length <= it.list.index) m.blobLists.push(it.list.id === undefined ? { blobs: [] } : { id: it.list.id, blobs: [] });
    m.blobLists[it.list.index]!.blobs.push(it.blob);
  }
  m.driveId = parser.parsedHeader!.driveId;
  if (parser.parsedHeader!.clientCreator !== undefined) m.clientCreator = parser.parsedHeader!.clientCreator;
  return m;
}

export const XML_TARGETS: Record<string, Target> = {
  manifest: {
    about: 'DriveManifest.xml reader (parseManifestText): a value or MANIFEST_INVALID; what it accepts the writer accepts and reads back equal',
    arb: () => fc.oneof(docs('manifest', xmlish)(), deepOrHuge),
    check: async (i) => {
      const m = typedOnly('parseManifestText', () => parseManifestText(text(i), 'fuzz.xml'));
      if (!m) return;
      const file = SCRATCH_MANIFEST();
      fs.mkdirSync(path.dirname(file), { recursive: true });
      try {
        await writeManifest(file, m);
      } catch (e) {
        throw new Error(`the reader accepted a manifest the writer refuses: ${(e as Error).message}`);
      }
      sameJson(parseManifestText(fs.readFileSync(file, 'utf8'), 'fuzz.xml'), m, 'written back and read again, the manifest differs');
    },
  },
  'manifest-chunked': {
    about: 'streaming manifest reader (ManifestParser.feed) on any chunking: the same blobs, or the same error, as the whole text',
    arb: () => chunked(docs('manifest', xmlish)()),
    check: (i) => {
      const { text: t, chunks } = chunksOf(i);
      // Which of several faults is named first may depend on the chunking (the tokenizer reads a
      // whole chunk before the manifest rules see its elements); the verdict and the code may not.
      const verdict = (s: string) => (s.startsWith('error ') ? s.slice(0, s.indexOf(':')) : s);
      const whole = verdict(outcome(() => manifestInChunks([t])));
      const parts = verdict(outcome(() => manifestInChunks(chunks)));
      if (whole !== parts)
        throw new Error(`chunked ${JSON.stringify(chunks.map((c) => c.length))}:\n  whole: ${whole.slice(0, 300)}\n  parts: ${parts.slice(0, 300)}`);
    },
  },
  'manifest-file': {
    about: 'readManifest on a file of arbitrary bytes (invalid UTF-8 included): the same result as the text reader on the decoded text',
    binary: true,
    arb: () => fc.oneof(byteMutations(Buffer.from(seed().manifest, 'utf8')), fc.uint8Array({ maxLength: 200 })),
    check: async (i) => {
      const file = path.join(scratch(), 'file', 'DriveManifest.xml');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, i);
      let fromFile: string;
      try {
        const s = await readManifest(file);
        fromFile = `value ${JSON.stringify([s.driveId, s.clientCreator, s.blobCount, s.blockCount, s.totalBytes])}`;
      } catch (e) {
        fromFile = outcome(() => {
          throw e;
        });
      }
      const fromText = outcome(() => {
        const m = parseManifestText(Buffer.from(i).toString('utf8'), 'DriveManifest.xml');
        const blobs = m.blobLists.flatMap((l) => l.blobs);
        const blocks = blobs.reduce((a, b) => a + b.blocks.length, 0);
        const bytes = blobs.reduce((a, b) => a + b.length, 0);
        return [m.driveId, m.clientCreator, blobs.length, blocks, bytes];
      });
      if (fromFile !== fromText) throw new Error(`readManifest: ${fromFile.slice(0, 300)}\n  parseManifestText: ${fromText.slice(0, 300)}`);
    },
  },
  xml: {
    about: 'the XML tokenizer and tree builder the manifest and log readers share (parseXmlTree): a tree or XmlSyntaxError',
    arb: () => fc.oneof(xmlish, deepOrHuge, mutations('<?xml version="1.0"?><r a="&lt;1&gt;">t&amp;<c/><d>&#x41;</d></r>')),
    check: (i) => {
      const root = typedOnly(
        'parseXmlTree',
        () => parseXmlTree(text(i)),
        (e) => e instanceof XmlSyntaxError,
      );
      // what it accepts holds only characters XML allows (a document that other XML readers refuse must not pass here)
      const bad = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
      for (const stack = root ? [root] : []; stack.length > 0; ) {
        const n = stack.pop()!;
        for (const v of [n.text, ...Object.values(n.attrs)])
          if (bad.test(v)) throw new Error(`parseXmlTree accepted a character XML does not allow: ${JSON.stringify(v)}`);
        stack.push(...n.children);
      }
    },
  },
  'xml-chunked': {
    about: 'the XML tokenizer on any chunking: the same events (adjacent text merged), or the same error, as the whole text',
    arb: () => chunked(fc.oneof(xmlish, mutations(seed().manifest), mutations(seed().copyLog))),
    check: (i) => {
      const { text: t, chunks } = chunksOf(i);
      const whole = tokens([t]);
      const parts = tokens(chunks);
      if (whole !== parts)
        throw new Error(`chunked ${JSON.stringify(chunks.map((c) => c.length))}:\n  whole: ${whole.slice(0, 300)}\n  parts: ${parts.slice(0, 300)}`);
    },
  },
  'drivelog-classic': {
    about: 'classic DriveLog reader (2014-11-01 / 2018-10-01) and the failure summary built from it; an accepted log serialises and reads back equal',
    arb: docs('classicLog', xmlish),
    check: (i) => {
      const log = typedOnly('parseDriveLog', () => parseDriveLog(text(i)));
      if (!log) return;
      typedOnly('summariseDriveLog', () => summariseDriveLog(log, 'https://example/log.xml'));
      if (log.format === '2021-08-01') return;
      const { format: _f, ...rest } = log;
      let again: unknown;
      try {
        const { format: _g, ...r } = parseDriveLog(serializeDriveLog(log));
        again = r;
      } catch (e) {
        throw new Error(`an accepted DriveLog does not read back from its own serialisation: ${(e as Error).message}`);
      }
      sameJson(again, rest, 'the DriveLog read back from its serialisation differs');
    },
  },
  'copylog-2021': {
    about: '2021-08-01 copy-log reader (error and verbose) and the failure summary built from it',
    arb: () => fc.oneof(docs('copyLog', xmlish)(), docs('copyLogVerbose')()),
    check: (i) => {
      const log = typedOnly('parseDriveLog', () => parseDriveLog(text(i)));
      if (!log) return;
      typedOnly('summariseDriveLog', () => summariseDriveLog(log, 'https://example/log.xml'));
      for (const b of log.blobs) {
        if (typeof b.blobPath !== 'string' || b.blobPath === '') throw new Error(`accepted a blob without a path: ${JSON.stringify(b)}`);
        if (!Number.isSafeInteger(b.length) || b.length < 0) throw new Error(`accepted a blob length ${b.length}`);
        if (b.crc64 !== undefined && !/^[0-9A-F]{16}$/.test(b.crc64)) throw new Error(`accepted crc64 ${b.crc64}`);
      }
    },
  },
  publishsettings: {
    about: '.publishsettings reader (parsePublishSettings): a GUID subscription id or PUBLISH_SETTINGS_INVALID; the certificate never in a message',
    arb: docs('publishSettings', xmlish),
    check: (i) => {
      const f = path.join(scratch(), 'x.publishsettings');
      fs.writeFileSync(f, i);
      const cert = /ManagementCertificate="([^"]{8,})"/.exec(text(i))?.[1];
      try {
        const r = parsePublishSettings(f);
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(r.subscriptionId) || r.subscriptions < 1)
          throw new Error(`accepted ${JSON.stringify(r)}`);
      } catch (e) {
        typedOnly('parsePublishSettings', () => {
          throw e;
        });
        if (cert && (e as Error).message.includes(cert)) throw new Error(`the management certificate reached the error message: ${(e as Error).message}`);
      }
    },
  },
};
