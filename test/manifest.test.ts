import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ManifestParser,
  ManifestWriter,
  MAX_BLOCK_LENGTH,
  manifestFileHash,
  parseManifestFile,
  parseManifestText,
  readManifest,
  writeManifest,
  type DriveManifest,
  type ManifestBlob,
} from '../src/azure/manifest';
import { DriveseedError } from '../src/base/errors';
import { tmpDir } from './helpers';

const dir = tmpDir('driveseed-manifest-');
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

const H = 'D41D8CD98F00B204E9800998ECF8427E';

function blob(name: string, sizes: number[]): ManifestBlob {
  let off = 0;
  const blocks = sizes.map((len) => {
    const b = { offset: off, length: len, hash: H };
    off += len;
    return b;
  });
  return { blobPath: `seed/${name}`, filePath: `\\data\\${name.split('/').join('\\')}`, length: off, blocks };
}

const hex = fc.stringMatching(/^[0-9A-F]{32}$/);
const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_ .&'()-]{0,15}$/).filter((s) => !s.endsWith('.') && s !== '.' && s !== '..');
const arbBlob: fc.Arbitrary<ManifestBlob> = fc
  .record({
    container: fc.stringMatching(/^[a-z0-9]{3,12}$/),
    segs: fc.array(segment, { minLength: 1, maxLength: 3 }),
    sizes: fc.array(fc.integer({ min: 1, max: MAX_BLOCK_LENGTH }), { minLength: 0, maxLength: 6 }),
    hashes: fc.array(hex, { minLength: 6, maxLength: 6 }),
    withIds: fc.boolean(),
    disposition: fc.constantFrom(undefined, 'rename', 'no-overwrite', 'overwrite'),
  })
  .map(({ container, segs, sizes, hashes, withIds, disposition }) => {
    let off = 0;
    const blocks = sizes.map((length, i) => {
      const b: ManifestBlob['blocks'][number] = { offset: off, length, hash: hashes[i]! };
      if (withIds) b.id = Buffer.from(`block-${String(i).padStart(6, '0')}`).toString('base64');
      off += length;
      return b;
    });
    const b: ManifestBlob = { blobPath: `${container}/${segs.join('/')}`, filePath: `\\${segs.join('\\')}`, length: off, blocks };
    if (disposition) b.importDisposition = disposition as ManifestBlob['importDisposition'];
    return b;
  });
const arbManifest: fc.Arbitrary<DriveManifest> = fc
  .record({
    driveId: fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/),
    clientCreator: fc.option(
      fc.string({ maxLength: 30 }).filter((s) => !/[\r\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(s) && !/[\ud800-\udfff]/.test(s)),
      { nil: undefined },
    ),
    blobLists: fc.array(
      fc.record({ id: fc.option(fc.stringMatching(/^session#[0-9]-[0-9]$/), { nil: undefined }), blobs: fc.array(arbBlob, { minLength: 1, maxLength: 4 }) }),
      { minLength: 0, maxLength: 3 },
    ),
  })
  .map((m) => {
    const out: DriveManifest = {
      driveId: m.driveId,
      blobLists: m.blobLists.map((l) => (l.id === undefined ? { blobs: l.blobs } : { id: l.id, blobs: l.blobs })),
    };
    if (m.clientCreator !== undefined) out.clientCreator = m.clientCreator;
    return out;
  });

test('property: write → parse gives the same model, and manifestHash is the MD5 of the file bytes', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(arbManifest, async (m) => {
      const file = path.join(dir, `prop-${n++}.xml`);
      const r = await writeManifest(file, m);
      const bytes = fs.readFileSync(file);
      assert.is(r.manifestHash, createHash('md5').update(bytes).digest('hex').toUpperCase());
      assert.is(await manifestFileHash(file), r.manifestHash);
      assert.is(r.bytes, bytes.length);
      assert.not.ok(fs.existsSync(`${file}.tmp`));
      assert.equal(await parseManifestFile(file), m);
      // The same bytes fed one character at a time parse to the same model (tokens split across chunks).
      const p = new ManifestParser();
      const text = bytes.toString('utf8');
      const got: ManifestBlob[] = [];
      for (const ch of text) for (const it of p.feed(ch)) got.push(it.blob);
      for (const it of p.end()) got.push(it.blob);
      assert.equal(
        got,
        m.blobLists.flatMap((l) => l.blobs),
      );
      fs.rmSync(file);
    }),
    { numRuns: 60 },
  );
});

test('writer emits the documented schema with uppercase hex hashes and backslash file paths', async () => {
  const file = path.join(dir, 'doc.xml');
  const b = blob('p/0001.pack', [MAX_BLOCK_LENGTH, 10]);
  b.blocks[0]!.hash = 'abcdef0123456789abcdef0123456789';
  await writeManifest(file, { driveId: 'WD-123', clientCreator: 'driveseed 0.1.0', blobLists: [{ blobs: [b] }] });
  const xml = fs.readFileSync(file, 'utf8');
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<DriveManifest Version="2014-11-01">'));
  assert.match(xml, /<Drive>\s*<DriveId>WD-123<\/DriveId>\s*<ClientCreator>driveseed 0\.1\.0<\/ClientCreator>\s*<BlobList>\s*<Blob>/);
  assert.match(xml, /<BlobPath>seed\/p\/0001\.pack<\/BlobPath>\s*<FilePath>\\data\\p\\0001\.pack<\/FilePath>\s*<Length>4194314<\/Length>/);
  assert.match(xml, /<Block Offset="0" Length="4194304" Hash="ABCDEF0123456789ABCDEF0123456789" \/>/);
  assert.match(xml, /<Block Offset="4194304" Length="10" Hash="D41D8CD98F00B204E9800998ECF8427E" \/>/);
});

test('streaming writer: many blocks are flushed in pieces and read back with readManifest callbacks', async () => {
  const file = path.join(dir, 'big.xml');
  const w = await ManifestWriter.create(file, { driveId: 'BIG1' });
  const blobs = 40;
  for (let i = 0; i < blobs; i++) await w.addBlob(blob(`f${i}`, new Array(1000).fill(MAX_BLOCK_LENGTH)));
  const r = await w.finish();
  assert.is(r.blockCount, 40_000);
  let seen = 0;
  const s = await readManifest(file, { onBlob: () => void seen++ });
  assert.is(seen, blobs);
  assert.is(s.totalBytes, blobs * 1000 * MAX_BLOCK_LENGTH);
  assert.is(s.driveId, 'BIG1');
});

function refuses(xml: string, element: string, text: RegExp): void {
  try {
    parseManifestText(xml);
  } catch (e) {
    assert.instance(e, DriveseedError);
    const err = e as DriveseedError;
    assert.is(err.code, 'MANIFEST_INVALID');
    assert.is(err.details?.element, element, err.message);
    assert.match(err.message, text);
    return;
  }
  assert.unreachable(`accepted: ${xml}`);
}

const head = '<?xml version="1.0" encoding="UTF-8"?><DriveManifest Version="2014-11-01"><Drive><DriveId>D1</DriveId><BlobList>';
const tail = '</BlobList></Drive></DriveManifest>';
const wrap = (blobXml: string) => `${head}${blobXml}${tail}`;
const oneBlob = (blocks: string, length = 10) =>
  wrap(`<Blob><BlobPath>c01/a</BlobPath><FilePath>\\a</FilePath><Length>${length}</Length><BlockList>${blocks}</BlockList></Blob>`);

test('parser refuses: DriveId after BlobList, missing or duplicated DriveId', () => {
  refuses(
    `<DriveManifest Version="2014-11-01"><Drive><BlobList><Blob/></BlobList><DriveId>x</DriveId></Drive></DriveManifest>`,
    'BlobList',
    /DriveId> must come before/,
  );
  refuses(`<DriveManifest Version="2014-11-01"><Drive></Drive></DriveManifest>`, 'Drive', /no <DriveId>/);
  refuses(`<DriveManifest Version="2014-11-01"><Drive><DriveId>a</DriveId><DriveId>b</DriveId></Drive></DriveManifest>`, 'DriveId', /only one/);
  refuses(`<DriveManifest Version="2014-11-01"><Drive><DriveId>a b</DriveId></Drive></DriveManifest>`, 'DriveId', /without whitespace/);
});

test('parser refuses: wrong version, wrong root, secrets on the drive, page blobs, unknown elements', () => {
  refuses(`<DriveManifest Version="2011-10-01"><Drive/></DriveManifest>`, 'DriveManifest', /Version "2011-10-01"/);
  refuses(`<Manifest/>`, 'Manifest', /root element/);
  refuses(
    `<DriveManifest Version="2014-11-01"><Drive><DriveId>a</DriveId><StorageAccountKey>k</StorageAccountKey></Drive></DriveManifest>`,
    'StorageAccountKey',
    /must not be written/,
  );
  refuses(wrap(`<Blob><BlobPath>c01/a</BlobPath><FilePath>\\a</FilePath><Length>0</Length><PageRangeList/></Blob>`), 'PageRangeList', /page blobs/);
  refuses(wrap(`<Blob><BlobPath>c01/a</BlobPath><FilePath>\\a</FilePath><Length>0</Length><BlockList/><Color/></Blob>`), 'Color', /unknown element/);
  refuses(wrap(`<Blob><FilePath>\\a</FilePath><BlobPath>c01/a</BlobPath><Length>0</Length><BlockList/></Blob>`), 'BlobPath', /out of order/);
  refuses(wrap(`<Blob><BlobPath>c01/a</BlobPath><FilePath>\\a</FilePath><Length>0</Length></Blob>`), 'BlockList', /missing/);
});

test('parser refuses: blocks out of order, with gaps, too long, too many, wrong sum, bad hashes', () => {
  refuses(
    oneBlob(`<Block Offset="5" Length="5" Hash="${H}"/><Block Offset="0" Length="5" Hash="${H}"/>`),
    'Block',
    /block 0 of c01\/a has Offset 5.*must be 0/,
  );
  refuses(oneBlob(`<Block Offset="0" Length="4" Hash="${H}"/><Block Offset="5" Length="5" Hash="${H}"/>`), 'Block', /block 1 .*contiguous.*must be 4/);
  refuses(
    oneBlob(`<Block Offset="0" Length="${MAX_BLOCK_LENGTH + 1}" Hash="${H}"/>`, MAX_BLOCK_LENGTH + 1),
    'Block',
    /Length 4194305; it must be 1\.\.4194304/,
  );
  refuses(oneBlob(`<Block Offset="0" Length="4" Hash="${H}"/>`), 'BlockList', /cover 4 bytes but its Length is 10/);
  refuses(oneBlob(`<Block Offset="0" Length="10" Hash="XYZ"/>`), 'Block', /Hash "XYZ"; expected 32 hex/);
  refuses(oneBlob(`<Block Offset="0" Length="10"/>`), 'Block', /missing attribute Hash/);
  refuses(oneBlob(`<Block Offset="-1" Length="10" Hash="${H}"/>`), 'Block', /Offset "-1" is not/);
  refuses(
    oneBlob(`<Block Offset="0" Length="5" Id="AAAA" Hash="${H}"/><Block Offset="5" Length="5" Hash="${H}"/>`),
    'Block',
    /all blocks of a blob or on none/,
  );
  const many = Array.from({ length: 50_001 }, (_, i) => `<Block Offset="${i}" Length="1" Hash="${H}"/>`).join('');
  refuses(oneBlob(many, 50_001), 'BlockList', /50001 blocks; at most 50000/);
});

test('parser refuses: unsafe paths and malformed XML, naming the line', () => {
  refuses(wrap(`<Blob><BlobPath>c01/a</BlobPath><FilePath>\\..\\etc\\passwd</FilePath><Length>0</Length><BlockList/></Blob>`), 'FilePath', /"\.\." segment/);
  refuses(
    wrap(`<Blob><BlobPath>Bad_Container/a</BlobPath><FilePath>\\a</FilePath><Length>0</Length><BlockList/></Blob>`),
    'BlobPath',
    /container "Bad_Container"/,
  );
  refuses(`<DriveManifest Version="2014-11-01">\n<Drive>\n<DriveId>a</DriveId>\n</Driv></DriveManifest>`, 'xml', /<\/Driv> closes <Drive> \(line 4\)/);
  refuses(`<!DOCTYPE x><DriveManifest/>`, 'xml', /DTDs/);
  refuses(`${head}`, 'xml', /document ends inside/);
});

test('writer refuses a blob the parser would refuse, and leaves no file behind', async () => {
  const file = path.join(dir, 'bad.xml');
  const b = blob('x', [10]);
  b.length = 11;
  try {
    await writeManifest(file, { driveId: 'D', blobLists: [{ blobs: [b] }] });
    assert.unreachable('accepted');
  } catch (e) {
    assert.is((e as DriveseedError).code, 'MANIFEST_INVALID');
    assert.match((e as Error).message, /cover 10 bytes but its Length is 11/);
  }
  assert.not.ok(fs.existsSync(file));
  assert.not.ok(fs.existsSync(`${file}.tmp`));
});

test.run();
