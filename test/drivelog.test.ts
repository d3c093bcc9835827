import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc64 } from '../src/azure/crc64';
import { CopyLogWriter, DriveLogWriter, parseDriveLog, serializeDriveLog, toErrorLog, type DriveLog, type DriveLogBlob } from '../src/azure/drivelog';
import { DriveseedError } from '../src/base/errors';
import { tmpDir } from './helpers';

const H = 'D41D8CD98F00B204E9800998ECF8427E';
const verbose: DriveLog = {
  driveId: '9WM35C2V',
  status: 'CompletedWithErrors',
  blobs: [
    {
      status: 'Completed',
      blobPath: 'seed/a & b.pack',
      filePath: '\\a & b.pack',
      length: 5,
      lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
      importDisposition: { value: 'rename', status: 'Created' },
      blocks: [{ offset: 0, length: 5, hash: H, status: 'Completed' }],
    },
    {
      status: 'CompletedWithErrors',
      blobPath: 'seed/c.pack',
      filePath: '\\c.pack',
      length: 30,
      blocks: [
        { offset: 0, length: 10, hash: H, id: 'AAAAAA==', status: 'Uncommitted' },
        { offset: 10, length: 10, hash: H, id: 'AQAAAA==', status: 'Corrupted' },
        { offset: 20, length: 10, hash: H, id: 'AgAAAA==', status: 'Cancelled' },
      ],
    },
    { status: 'FileNotFound', blobPath: 'seed/d.pack', filePath: '\\d.pack', length: 7 },
  ],
};

test('serialize → parse round trip, with the documented element order', () => {
  const xml = serializeDriveLog(verbose);
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<DriveLog Version="2014-11-01">\n  <DriveId>9WM35C2V</DriveId>'));
  assert.match(
    xml,
    /<Blob Status="CompletedWithErrors">\s*<BlobPath>seed\/c\.pack<\/BlobPath>\s*<FilePath>\\c\.pack<\/FilePath>\s*<Length>30<\/Length>\s*<BlockList>/,
  );
  assert.match(xml, /<Block Offset="10" Length="10" Id="AQAAAA==" Hash="D41D8CD98F00B204E9800998ECF8427E" Status="Corrupted" \/>/);
  assert.match(xml, /<\/Blob>\n {2}<Status>CompletedWithErrors<\/Status>\n<\/DriveLog>\n$/);
  assert.equal(parseDriveLog(xml), { ...verbose, format: '2014-11-01' });
});

test('error log keeps only failed blobs and their failed blocks', () => {
  const e = toErrorLog(verbose);
  assert.equal(
    e.blobs.map((b) => b.blobPath),
    ['seed/c.pack', 'seed/d.pack'],
  );
  assert.equal(
    e.blobs[0]!.blocks!.map((k) => k.status),
    ['Uncommitted', 'Corrupted', 'Cancelled'],
  );
  assert.is(e.status, 'CompletedWithErrors');
});

test('parses the documented sample shape (service log with Id-less blocks)', () => {
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<DriveLog Version="2014-11-01">
  <DriveId>9WM35C2V</DriveId>
  <Blob Status="CompletedWithErrors">
    <BlobPath>pictures/wild/desert.jpg</BlobPath>
    <FilePath>\\Users\\Me\\Pictures\\wild\\desert.jpg</FilePath>
    <Length>98304</Length>
    <ImportDisposition Status="Overwritten">overwrite</ImportDisposition>
    <BlockList>
      <Block Offset="0" Length="65536" Id="AAAAAA==" Hash="9C8AE96A25D2EC5DC3DE1D2C4E2DE0CD" Status="Corrupted"/>
      <Block Offset="65536" Length="32768" Id="AQAAAA==" Hash="B8EEF14CD83DA1E1CF9A94AF2E0A3A5C" Status="Cancelled"/>
    </BlockList>
  </Blob>
  <Status>CompletedWithErrors</Status>
</DriveLog>`;
  const log = parseDriveLog(xml);
  assert.is(log.blobs[0]!.blocks![0]!.status, 'Corrupted');
  assert.is(log.blobs[0]!.importDisposition!.status, 'Overwritten');
});

function refuses(xml: string, re: RegExp): void {
  try {
    parseDriveLog(xml);
  } catch (e) {
    assert.instance(e, DriveseedError);
    assert.is((e as DriveseedError).code, 'DRIVELOG_INVALID');
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('accepted');
}

test('refuses unknown statuses, misplaced elements and wrong versions', () => {
  refuses('<DriveLog Version="2014-11-01"><DriveId>x</DriveId><Status>Fine</Status></DriveLog>', /<Status> .*"Fine" is not one of/);
  refuses('<DriveLog Version="2010-01-01"><DriveId>x</DriveId><Status>Completed</Status></DriveLog>', /Version "2010-01-01"/);
  assert.is(
    parseDriveLog('<DriveLog Version="2018-10-01"><DriveId>x</DriveId><Status>Completed</Status></DriveLog>').format,
    '2018-10-01',
    'later classic jobs wrote 2018-10-01, same grammar',
  );
  refuses('<DriveLog Version="2014-11-01"><Status>Completed</Status><DriveId>x</DriveId></DriveLog>', /<DriveId> must come first/);
  refuses(
    '<DriveLog Version="2014-11-01"><DriveId>x</DriveId><Blob Status="Completed"><BlobPath>a/b</BlobPath><FilePath>\\b</FilePath></Blob><Status>Completed</Status></DriveLog>',
    /<Length> is missing/,
  );
  refuses(
    '<DriveLog Version="2014-11-01"><DriveId>x</DriveId><Blob Status="Completed"><BlobPath>a/b</BlobPath><FilePath>\\b</FilePath><Length>1</Length><BlockList><Block Offset="0" Length="1" Status="Good"/></BlockList></Blob><Status>Completed</Status></DriveLog>',
    /<Block> .*"Good"/,
  );
  refuses('<DriveLog Version="2014-11-01"><DriveId>x</DriveId>', /malformed XML/);
});

test('DriveLogWriter streams the same bytes as serializeDriveLog; errorOnly gives the error log', async () => {
  const dir = tmpDir('driveseed-drivelog-');
  try {
    const v = await DriveLogWriter.create(path.join(dir, 'v.xml'), verbose.driveId);
    const e = await DriveLogWriter.create(path.join(dir, 'e.xml'), verbose.driveId, { errorOnly: true });
    for (const b of verbose.blobs) {
      await v.addBlob(b);
      await e.addBlob(b);
    }
    await v.finish(verbose.status);
    await e.finish(verbose.status);
    assert.is(fs.readFileSync(path.join(dir, 'v.xml'), 'utf8'), serializeDriveLog(verbose));
    assert.is(fs.readFileSync(path.join(dir, 'e.xml'), 'utf8'), serializeDriveLog(toErrorLog(verbose)));
    assert.is(e.blobCount, 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('DriveLogWriter: a log of 400 blobs × 1000 blocks goes to the file in flushes and parses back', async () => {
  const dir = tmpDir('driveseed-drivelog-');
  try {
    const w = await DriveLogWriter.create(path.join(dir, 'big.xml'), 'BIG-1');
    const file = path.join(dir, 'big.xml');
    let sizeMidway = 0;
    for (let i = 0; i < 400; i++) {
      const blocks = Array.from({ length: 1000 }, (_, j) => ({ offset: j * 4096, length: 4096, hash: H, status: 'Committed' as const }));
      const b: DriveLogBlob = { status: 'Completed', blobPath: `seed/${i}.pack`, filePath: `\\${i}.pack`, length: 1000 * 4096, blocks };
      await w.addBlob(b);
      if (i === 199) sizeMidway = fs.statSync(file).size;
    }
    const size = await w.finish('Completed');
    // The writer does not hold the document: half of it is on disk before the end.
    assert.ok(sizeMidway > size / 3, `only ${sizeMidway} of ${size} bytes written midway`);
    const log = parseDriveLog(fs.readFileSync(file, 'utf8'));
    assert.is(log.blobs.length, 400);
    assert.is(log.blobs[399]!.blocks!.length, 1000);
    assert.is(log.blobs[399]!.blobPath, 'seed/399.pack');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('DriveLogWriter.abort removes the file', async () => {
  const dir = tmpDir('driveseed-drivelog-');
  try {
    const w = await DriveLogWriter.create(path.join(dir, 'x.xml'), 'X');
    await w.addBlob(verbose.blobs[0]!);
    await w.abort();
    assert.is(fs.existsSync(path.join(dir, 'x.xml')), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('2021-08-01: CopyLogWriter writes ErroredEntity lines and the summary; the verbose log has every file with its CRC-64; both parse back', async () => {
  const dir = tmpDir();
  const blobs: DriveLogBlob[] = [
    { status: 'Completed', blobPath: 'seed/a.pack', filePath: '\\a.pack', length: 9, crc64: crc64(Buffer.from('123456789')) },
    { ...verbose.blobs[1]!, errorMessage: 'block at offset 10 (length 10): the MD5 of the data on the disk does not match the manifest' },
    verbose.blobs[2]!,
  ];
  const copy = await CopyLogWriter.create(path.join(dir, 'copy.xml'), 'SER1');
  const verb = await CopyLogWriter.create(path.join(dir, 'verbose.xml'), 'SER1', { verbose: true });
  for (const b of blobs) {
    await copy.addBlob(b);
    await verb.addBlob(b);
  }
  await copy.finish('CompletedWithErrors');
  await verb.finish('CompletedWithErrors');
  const text = fs.readFileSync(copy.file, 'utf8');
  assert.ok(
    text.startsWith(
      '<?xml version="1.0" encoding="utf-8"?>\n<ErroredEntity CloudFormat="BlockBlob" Path="seed/c.pack"><Category>UploadErrorDataValidationError</Category>',
    ),
  );
  assert.match(
    text,
    /<CopyLog Summary="Summary"><DriveLogVersion>2021-08-01<\/DriveLogVersion><DriveId>SER1<\/DriveId><Status>CompletedWithErrors<\/Status><TotalFiles_Blobs>3<\/TotalFiles_Blobs><FilesErrored>2<\/FilesErrored>/,
  );
  assert.match(text, /<CopyErrors><UploadErrorDataValidationError Count="1" Description="[^"]+"\/><UploadErrorWin32 Count="1"/);
  const log = parseDriveLog(text);
  assert.equal([log.format, log.driveId, log.status, log.totalFiles, log.filesErrored], ['2021-08-01', 'SER1', 'CompletedWithErrors', 3, 2]);
  assert.equal(
    log.blobs.map((b) => [b.blobPath, b.status, b.category, b.errorCode]),
    [
      ['seed/c.pack', 'Failed', 'UploadErrorDataValidationError', 'CompletedWithErrors'],
      ['seed/d.pack', 'Failed', 'UploadErrorWin32', 'FileNotFound'],
    ],
  );
  assert.match(log.blobs[0]!.errorMessage!, /offset 10/);
  const v = parseDriveLog(fs.readFileSync(verb.file, 'utf8'));
  assert.equal(
    v.blobs.map((b) => [b.blobPath, b.status, b.length, b.crc64]),
    [
      ['seed/a.pack', 'Completed', 9, 'AE8B14860A799888'],
      ['seed/c.pack', 'Failed', 0, undefined],
      ['seed/d.pack', 'Failed', 0, undefined],
    ],
  );
  assert.equal(
    toErrorLog(v).blobs.map((b) => b.blobPath),
    ['seed/c.pack', 'seed/d.pack'],
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('2021-08-01: the documented sample shape parses; a log without its summary or of another version is refused', () => {
  const sample = `<?xml version="1.0" encoding="utf-8"?>
<ErroredEntity CloudFormat="BlockBlob" Path="iso/ubuntu.iso"><Category>UploadErrorCloudHttp</Category><ErrorCode>400</ErrorCode><ErrorMessage>UnsupportedBlobType</ErrorMessage><Type>File</Type></ErroredEntity>
<CopyLog Summary="Summary"><DriveLogVersion>2021-08-01</DriveLogVersion><DriveId>18041C582D58</DriveId><Status>CompletedWithErrors</Status><TotalFiles_Blobs>5</TotalFiles_Blobs><FilesErrored>1</FilesErrored><Summary><ValidationErrors><None Count="5" /></ValidationErrors><CopyErrors><UploadErrorCloudHttp Count="1" Description="Unsupported blob type" /></CopyErrors></Summary></CopyLog>`;
  const log = parseDriveLog(sample);
  assert.equal(
    [log.driveId, log.totalFiles, log.blobs[0]!.category, log.blobs[0]!.errorMessage],
    ['18041C582D58', 5, 'UploadErrorCloudHttp', 'UnsupportedBlobType'],
  );
  const refuses = (xml: string, re: RegExp) =>
    assert.throws(
      () => parseDriveLog(xml),
      (e: DriveseedError) => e.code === 'DRIVELOG_INVALID' && re.test(e.message),
    );
  refuses('<ErroredEntity CloudFormat="BlockBlob" Path="a/b"><Category>X</Category></ErroredEntity>', /CopyLog Summary.*missing/);
  refuses(
    '<CopyLog Summary="Summary"><DriveLogVersion>2030-01-01</DriveLogVersion><DriveId>x</DriveId><Status>Completed</Status></CopyLog>',
    /DriveLogVersion "2030-01-01"/,
  );
  refuses(
    '<File CloudFormat="BlockBlob" Path="a" Size="1" crc64="zz"></File><CopyLog Summary="Summary"><DriveLogVersion>2021-08-01</DriveLogVersion><DriveId>x</DriveId><Status>Completed</Status></CopyLog>',
    /crc64 "zz"/,
  );
  refuses(
    '<CopyLog Summary="Summary"><DriveLogVersion>2021-08-01</DriveLogVersion><DriveId>x</DriveId><Status>Completed</Status></CopyLog><Other/>',
    /only <ErroredEntity>/,
  );
});

test('CRC-64 (Azure Storage, CRC-64/NVME): check value and incremental updates', () => {
  assert.is(crc64(Buffer.from('123456789')), 'AE8B14860A799888');
  assert.is(crc64(Buffer.alloc(0)), '0000000000000000');
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
  const { Crc64 } = require('../src/azure/crc64') as typeof import('../src/azure/crc64');
  assert.is(new Crc64().update(data.subarray(0, 333)).update(data.subarray(333)).hex(), crc64(data));
});

test.run();
