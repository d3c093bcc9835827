/**
 * The classic Import/Export copy log (`<DriveLog Version="2014-11-01">`; MicrosoftDocs/azure-docs,
 * articles/storage/common/storage-import-export-file-format-log.md): what the
 * service writes per drive under `<diagnosticsPath>/waies/<job>_<DriveId>_<yyyyMMdd-HHmmss-fff>_error.xml`
 * (and `_verbose.xml` when the job's logLevel is Verbose), and what RepairImport consumes.
 * The emulator writes it; `driveseed status` and `repair` parse it.
 *
 * The error log is the verbose log filtered to non-success entries ({@link toErrorLog}). Block
 * blobs only: page ranges, metadata and properties entries are refused by the parser, since
 * driveseed never writes them.
 */
import { DriveseedError } from '../base/errors';
import { escapeAttr, escapeText, parseXmlTree, XmlSyntaxError, type XmlNode } from './xml';
import { BufferedTextFile } from './text-file';

export const DRIVELOG_VERSION = '2014-11-01';

export const DRIVE_LOG_STATUSES = [
  'Completed', 'CompletedWithWarnings', 'CompletedWithErrors', 'DiskNotFound', 'VolumeNotNtfs', 'DiskOperationFailed',
  'BitLockerVolumeNotFound', 'BitLockerNotActivated', 'BitLockerProtectorNotFound', 'BitLockerKeyInvalid',
  'BitLockerUnlockVolumeFailed', 'BitLockerFailed', 'ManifestNameInvalid', 'ManifestNameTooLong', 'ManifestNotFound',
  'ManifestAccessDenied', 'ManifestCorrupted', 'ManifestFormatInvalid', 'ManifestDriveIdMismatch', 'ReadManifestFailed',
  'BlobListFormatInvalid', 'BlobRequestForbidden', 'InternalError',
] as const;
export type DriveLogStatus = (typeof DRIVE_LOG_STATUSES)[number];

export const BLOB_LOG_STATUSES = [
  'Completed', 'CompletedWithErrors', 'FileNameInvalid', 'FileNameTooLong', 'FileNotFound', 'FileAccessDenied',
  'BlobRequestFailed', 'BlobRequestForbidden', 'RenameFailed', 'BlobUnexpectedChange', 'LeasePresent', 'IOFailed', 'Failed',
] as const;
export type BlobLogStatus = (typeof BLOB_LOG_STATUSES)[number];

export const BLOCK_LOG_STATUSES = [
  'Completed', 'Committed', 'Uncommitted', 'Corrupted', 'FileUnexpectedEnd', 'BlobUnexpectedEnd', 'BlobRequestFailed', 'IOFailed', 'Failed', 'Cancelled',
] as const;
export type BlockLogStatus = (typeof BLOCK_LOG_STATUSES)[number];

export const DISPOSITION_STATUSES = ['Created', 'Renamed', 'Skipped', 'Overwritten', 'Cancelled'] as const;
export type DispositionStatus = (typeof DISPOSITION_STATUSES)[number];

export interface DriveLogBlock {
  offset: number;
  length: number;
  id?: string;
  /** uppercase hex MD5 from the manifest */
  hash?: string;
  status: BlockLogStatus;
}

export interface DriveLogBlob {
  status: BlobLogStatus;
  blobPath: string;
  filePath: string;
  length: number;
  /** RFC 1123 date of the blob after the import */
  lastModified?: string;
  /** the disposition asked for (rename, no-overwrite, overwrite) and what happened */
  importDisposition?: { value: string; status: DispositionStatus };
  blocks?: DriveLogBlock[];
}

export interface DriveLog {
  driveId: string;
  blobs: DriveLogBlob[];
  status: DriveLogStatus;
}

const OK_BLOCK = new Set<BlockLogStatus>(['Completed', 'Committed']);

/** The error log: only blobs that did not complete, with only their blocks that did not complete. */
export function toErrorLog(verbose: DriveLog): DriveLog {
  const blobs: DriveLogBlob[] = [];
  for (const b of verbose.blobs) {
    if (b.status === 'Completed') continue;
    const e: DriveLogBlob = { ...b };
    if (b.blocks) e.blocks = b.blocks.filter((k) => !OK_BLOCK.has(k.status));
    blobs.push(e);
  }
  return { driveId: verbose.driveId, blobs, status: verbose.status };
}

const HEADER = (driveId: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<DriveLog Version="${DRIVELOG_VERSION}">\n  <DriveId>${escapeText(driveId)}</DriveId>\n`;
const TRAILER = (status: DriveLogStatus) => `  <Status>${status}</Status>\n</DriveLog>\n`;

/** One `<Blob>` element of a DriveLog, as text. */
function blobXml(b: DriveLogBlob): string {
  const out: string[] = [`  <Blob Status="${b.status}">\n    <BlobPath>${escapeText(b.blobPath)}</BlobPath>\n    <FilePath>${escapeText(b.filePath)}</FilePath>\n    <Length>${b.length}</Length>\n`];
  if (b.lastModified !== undefined) out.push(`    <LastModified>${escapeText(b.lastModified)}</LastModified>\n`);
  if (b.importDisposition) out.push(`    <ImportDisposition Status="${b.importDisposition.status}">${escapeText(b.importDisposition.value)}</ImportDisposition>\n`);
  if (b.blocks) {
    out.push('    <BlockList>\n');
    for (const k of b.blocks) {
      const id = k.id === undefined ? '' : ` Id="${escapeAttr(k.id)}"`;
      const hash = k.hash === undefined ? '' : ` Hash="${k.hash}"`;
      out.push(`      <Block Offset="${k.offset}" Length="${k.length}"${id}${hash} Status="${k.status}" />\n`);
    }
    out.push('    </BlockList>\n');
  }
  out.push('  </Blob>\n');
  return out.join('');
}

/** The DriveLog XML text (UTF-8, with declaration) of a log held in memory (small logs, tests). */
export function serializeDriveLog(log: DriveLog): string {
  return HEADER(log.driveId) + log.blobs.map(blobXml).join('') + TRAILER(log.status);
}

/**
 * Streams a DriveLog to a file, so that a log of millions of blocks never sits in memory (the
 * emulator writes the verbose log of a whole drive this way and then uploads the file):
 * `const w = await DriveLogWriter.create(file, driveId)`, `await w.addBlob(b)` per blob (with
 * `errorOnly` it keeps only what {@link toErrorLog} keeps), `await w.finish(status)`. The output
 * is byte for byte what serializeDriveLog gives for the same blobs. abort() closes and removes it.
 */
export class DriveLogWriter {
  /** blobs written */
  blobCount = 0;

  private constructor(
    private readonly out: BufferedTextFile,
    private readonly errorOnly: boolean,
  ) {}

  get file(): string {
    return this.out.path;
  }

  static async create(file: string, driveId: string, opts: { errorOnly?: boolean } = {}): Promise<DriveLogWriter> {
    const w = new DriveLogWriter(await BufferedTextFile.create(file, { mode: 0o600 }), opts.errorOnly ?? false);
    w.out.put(HEADER(driveId));
    return w;
  }

  async addBlob(b: DriveLogBlob): Promise<void> {
    let entry: DriveLogBlob = b;
    if (this.errorOnly) {
      if (b.status === 'Completed') return;
      entry = { ...b };
      if (b.blocks) entry.blocks = b.blocks.filter((k) => !OK_BLOCK.has(k.status));
    }
    this.out.put(blobXml(entry));
    this.blobCount++;
    await this.out.maybeFlush();
  }

  /** Writes `<Status>`, flushes and closes; returns the file's size in bytes. */
  async finish(status: DriveLogStatus): Promise<number> {
    this.out.put(TRAILER(status));
    await this.out.close();
    return this.out.bytes;
  }

  async abort(): Promise<void> {
    await this.out.abort();
  }
}

function bad(message: string, element: string, line: number): DriveseedError {
  return new DriveseedError('DRIVELOG_INVALID', `DriveLog: <${element}> at line ${line}: ${message}`, { category: 'AZURE', details: { element, line } });
}

function oneOf<T extends string>(v: string | undefined, set: readonly T[], element: string, line: number): T {
  if (v === undefined || !(set as readonly string[]).includes(v)) throw bad(`Status "${v ?? ''}" is not one of ${set.join(', ')}`, element, line);
  return v as T;
}

function int(s: string | undefined, element: string, line: number): number {
  if (s === undefined || !/^[0-9]{1,16}$/.test(s) || !Number.isSafeInteger(Number(s))) throw bad(`"${s ?? ''}" is not a non-negative integer`, element, line);
  return Number(s);
}

function leaf(n: XmlNode): string {
  if (n.children.length) throw bad('must contain only text', n.name, n.line);
  return n.text;
}

/**
 * Parses a DriveLog (error or verbose). Throws DriveseedError DRIVELOG_INVALID (category AZURE)
 * naming the element and line: the service (or the emulator) wrote something driveseed cannot read.
 */
export function parseDriveLog(xml: string): DriveLog {
  let root: XmlNode;
  try {
    root = parseXmlTree(xml);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw bad(`malformed XML: ${e.message}`, 'xml', e.line);
    throw e;
  }
  if (root.name !== 'DriveLog') throw bad('the root element must be <DriveLog>', root.name, root.line);
  if (root.attrs.Version !== DRIVELOG_VERSION) throw bad(`Version "${root.attrs.Version ?? ''}" is not supported; expected "${DRIVELOG_VERSION}"`, 'DriveLog', root.line);
  const kids = root.children;
  if (kids[0]?.name !== 'DriveId') throw bad('<DriveId> must come first', kids[0]?.name ?? 'DriveLog', kids[0]?.line ?? root.line);
  const last = kids[kids.length - 1]!;
  if (kids.length < 2 || last.name !== 'Status') throw bad('<Status> must come last', last.name, last.line);
  const log: DriveLog = { driveId: leaf(kids[0]), blobs: [], status: oneOf(leaf(last), DRIVE_LOG_STATUSES, 'Status', last.line) };
  for (const n of kids.slice(1, -1)) {
    if (n.name !== 'Blob') throw bad('only <Blob> elements may come between <DriveId> and <Status>', n.name, n.line);
    log.blobs.push(parseBlob(n));
  }
  return log;
}

function parseBlob(n: XmlNode): DriveLogBlob {
  const status = oneOf(n.attrs.Status, BLOB_LOG_STATUSES, 'Blob', n.line);
  const by: Record<string, XmlNode> = {};
  for (const c of n.children) {
    if (!['BlobPath', 'FilePath', 'Length', 'LastModified', 'ImportDisposition', 'BlockList'].includes(c.name)) {
      throw bad(c.name === 'PageRangeList' || c.name === 'Metadata' || c.name === 'Properties' ? 'page blobs, metadata and properties are not supported by driveseed' : 'unknown element in <Blob>', c.name, c.line);
    }
    if (by[c.name]) throw bad('repeated', c.name, c.line);
    by[c.name] = c;
  }
  for (const req of ['BlobPath', 'FilePath', 'Length']) if (!by[req]) throw bad(`<${req}> is missing`, 'Blob', n.line);
  const b: DriveLogBlob = { status, blobPath: leaf(by.BlobPath!), filePath: leaf(by.FilePath!), length: int(leaf(by.Length!), 'Length', by.Length!.line) };
  if (by.LastModified) b.lastModified = leaf(by.LastModified);
  if (by.ImportDisposition) b.importDisposition = { value: leaf(by.ImportDisposition), status: oneOf(by.ImportDisposition.attrs.Status, DISPOSITION_STATUSES, 'ImportDisposition', by.ImportDisposition.line) };
  if (by.BlockList) {
    b.blocks = by.BlockList.children.map((k) => {
      if (k.name !== 'Block') throw bad('only <Block> elements are allowed in <BlockList>', k.name, k.line);
      const block: DriveLogBlock = { offset: int(k.attrs.Offset, 'Block', k.line), length: int(k.attrs.Length, 'Block', k.line), status: oneOf(k.attrs.Status, BLOCK_LOG_STATUSES, 'Block', k.line) };
      if (k.attrs.Id !== undefined) block.id = k.attrs.Id;
      if (k.attrs.Hash !== undefined) block.hash = k.attrs.Hash.toUpperCase();
      return block;
    });
  }
  return b;
}
