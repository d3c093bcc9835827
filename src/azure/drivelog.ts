/**
 * The service's per-disk copy logs, in both formats it has written (MicrosoftDocs/azure-docs,
 * articles/storage/common/storage-import-export-file-format-log.md and
 * articles/import-export/storage-import-export-tool-reviewing-job-status-v1.md):
 *
 * - **2021-08-01** (today's Data Box based jobs): in the container `databoxcopylog`,
 *   `<order>_<serial>_CopyLog_<jobID>.xml` (the errors) and `_VerboseLog_<jobID>.xml` (every file,
 *   with its CRC-64) when the log level is Verbose. Not one XML document but a sequence of elements:
 *   `<ErroredEntity CloudFormat Path><Category/><ErrorCode/><ErrorMessage/><Type>File</Type></ErroredEntity>`
 *   per failed file (the verbose log: `<File CloudFormat Path Size crc64/>` per file), then
 *   `<CopyLog Summary="Summary"><DriveLogVersion>2021-08-01</DriveLogVersion><DriveId/><Status/>
 *   <TotalFiles_Blobs/><FilesErrored/><Summary>…</Summary></CopyLog>`. {@link CopyLogWriter}.
 * - **2014-11-01 / 2018-10-01** (classic jobs): `<DriveLog Version="…">` under
 *   `<diagnosticsPath>/waies/<job>_<DriveId>_<yyyyMMdd-HHmmss-fff>_error.xml` (and `_verbose.xml`),
 *   what RepairImport consumes; block by block. {@link DriveLogWriter}.
 *
 * The emulator writes either; `driveseed status` parses both into one {@link DriveLog}
 * ({@link parseDriveLog}).
 *
 * Why one file: the two formats are read into the same types with the same element checks, and
 * parseDriveLog picks the format; split in two, each half would import the other. In the classic format the error log is the verbose log filtered to
 * non-success entries ({@link toErrorLog}); block blobs only: page ranges, metadata and properties
 * entries are refused by the parser, since driveseed never writes them.
 */
import { DriveseedError } from '../base/errors';
import { escapeAttr, escapeText, parseXmlTree, XmlSyntaxError, type XmlNode } from './xml';
import { BufferedTextFile } from './text-file';

/** The classic format's version, the one {@link DriveLogWriter} writes. */
export const DRIVELOG_VERSION = '2014-11-01';
/** Classic versions the parser reads (2018-10-01 is what later classic jobs wrote; same grammar). */
const CLASSIC_VERSIONS = [DRIVELOG_VERSION, '2018-10-01'];
/** The Data Box copy log version, the one {@link CopyLogWriter} writes. */
export const COPYLOG_VERSION = '2021-08-01';
export type DriveLogFormat = typeof DRIVELOG_VERSION | '2018-10-01' | typeof COPYLOG_VERSION;

/**
 * The copy-log categories of failed files (2021-08-01), in words. Import/Export uses a subset of
 * the Data Box table.
 */
export const COPY_ERROR_CATEGORIES: Record<string, string> = {
  UploadErrorWin32: 'the file could not be read from the disk',
  UploadErrorCloudHttp: 'the storage account refused or failed the upload',
  UploadErrorDataValidationError: 'the data read from the disk did not match its checksum (the file changed or the disk was damaged after prep)',
  UploadErrorManagedConversionError: 'the file could not be converted to the requested cloud format',
  UploadErrorUnknownType: 'the file has a type the service does not import',
  ContainerRenamed: 'the container name was not valid and was renamed',
  BlobRenamed: 'the blob name was not valid and was renamed',
  FileNameTrailsWithSlash: 'the name ends with a slash and was not imported',
};

export const DRIVE_LOG_STATUSES = [
  'Completed',
  'CompletedWithWarnings',
  'CompletedWithErrors',
  'DiskNotFound',
  'VolumeNotNtfs',
  'DiskOperationFailed',
  'BitLockerVolumeNotFound',
  'BitLockerNotActivated',
  'BitLockerProtectorNotFound',
  'BitLockerKeyInvalid',
  'BitLockerUnlockVolumeFailed',
  'BitLockerFailed',
  'ManifestNameInvalid',
  'ManifestNameTooLong',
  'ManifestNotFound',
  'ManifestAccessDenied',
  'ManifestCorrupted',
  'ManifestFormatInvalid',
  'ManifestDriveIdMismatch',
  'ReadManifestFailed',
  'BlobListFormatInvalid',
  'BlobRequestForbidden',
  'InternalError',
] as const;
export type DriveLogStatus = (typeof DRIVE_LOG_STATUSES)[number];

export const BLOB_LOG_STATUSES = [
  'Completed',
  'CompletedWithErrors',
  'FileNameInvalid',
  'FileNameTooLong',
  'FileNotFound',
  'FileAccessDenied',
  'BlobRequestFailed',
  'BlobRequestForbidden',
  'RenameFailed',
  'BlobUnexpectedChange',
  'LeasePresent',
  'IOFailed',
  'Failed',
] as const;
export type BlobLogStatus = (typeof BLOB_LOG_STATUSES)[number];

export const BLOCK_LOG_STATUSES = [
  'Completed',
  'Committed',
  'Uncommitted',
  'Corrupted',
  'FileUnexpectedEnd',
  'BlobUnexpectedEnd',
  'BlobRequestFailed',
  'IOFailed',
  'Failed',
  'Cancelled',
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
  /** 2021-08-01 errored entities read as Failed, with their category, code and message */
  status: BlobLogStatus;
  blobPath: string;
  filePath: string;
  length: number;
  /** RFC 1123 date of the blob after the import */
  lastModified?: string;
  /** the disposition asked for (rename, no-overwrite, overwrite) and what happened */
  importDisposition?: { value: string; status: DispositionStatus };
  blocks?: DriveLogBlock[];
  /** 2021-08-01: the copy-error category (UploadErrorDataValidationError, …; see COPY_ERROR_CATEGORIES) */
  category?: string;
  errorCode?: string;
  errorMessage?: string;
  /** 2021-08-01 verbose log: the file's CRC-64 (16 hex digits, see src/azure/crc64.ts) */
  crc64?: string;
}

export interface DriveLog {
  /** which format the log was in (absent: written in memory, classic) */
  format?: DriveLogFormat;
  driveId: string;
  blobs: DriveLogBlob[];
  /** a classic drive status (DRIVE_LOG_STATUSES); 2021-08-01 logs may report others */
  status: DriveLogStatus | (string & {});
  /** 2021-08-01 summary: files on the disk, and how many failed */
  totalFiles?: number;
  filesErrored?: number;
}

const OK_BLOCK = new Set<BlockLogStatus>(['Completed', 'Committed']);

/** The error log: only blobs that did not complete, with only their blocks that did not complete. */
export function toErrorLog(verbose: DriveLog): DriveLog {
  if (verbose.format === COPYLOG_VERSION) return { ...verbose, blobs: verbose.blobs.filter((b) => b.status !== 'Completed') };
  const blobs: DriveLogBlob[] = [];
  for (const b of verbose.blobs) {
    if (b.status === 'Completed') continue;
    const e: DriveLogBlob = { ...b };
    if (b.blocks) e.blocks = b.blocks.filter((k) => !OK_BLOCK.has(k.status));
    blobs.push(e);
  }
  return { ...(verbose.format ? { format: verbose.format } : {}), driveId: verbose.driveId, blobs, status: verbose.status };
}

const HEADER = (driveId: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<DriveLog Version="${DRIVELOG_VERSION}">\n  <DriveId>${escapeText(driveId)}</DriveId>\n`;
const TRAILER = (status: string) => `  <Status>${status}</Status>\n</DriveLog>\n`;

/** One `<Blob>` element of a DriveLog, as text. */
function blobXml(b: DriveLogBlob): string {
  const out: string[] = [
    `  <Blob Status="${b.status}">\n    <BlobPath>${escapeText(b.blobPath)}</BlobPath>\n    <FilePath>${escapeText(b.filePath)}</FilePath>\n    <Length>${b.length}</Length>\n`,
  ];
  if (b.lastModified !== undefined) out.push(`    <LastModified>${escapeText(b.lastModified)}</LastModified>\n`);
  if (b.importDisposition)
    out.push(`    <ImportDisposition Status="${b.importDisposition.status}">${escapeText(b.importDisposition.value)}</ImportDisposition>\n`);
  if (b.blocks) {
    out.push('    <BlockList>\n');
    for (const k of b.blocks) {
      const id = k.id === undefined ? '' : ` Id="${escapeAttr(k.id)}"`;
      const hash = k.hash === undefined ? '' : ` Hash="${escapeAttr(k.hash)}"`;
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
  async finish(status: DriveLogStatus | (string & {})): Promise<number> {
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
  if (!/<DriveLog[\s>]/.test(xml) && /<(CopyLog|ErroredEntity|File)[\s>]/.test(xml)) return parseCopyLog(xml);
  let root: XmlNode;
  try {
    root = parseXmlTree(xml);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw bad(`malformed XML: ${e.message}`, 'xml', e.line);
    throw e;
  }
  if (root.name !== 'DriveLog') throw bad('the root element must be <DriveLog>', root.name, root.line);
  if (!CLASSIC_VERSIONS.includes(root.attrs.Version ?? ''))
    throw bad(
      `Version "${root.attrs.Version ?? ''}" is not supported; expected one of ${CLASSIC_VERSIONS.join(', ')} (or a ${COPYLOG_VERSION} copy log)`,
      'DriveLog',
      root.line,
    );
  const kids = root.children;
  if (kids[0]?.name !== 'DriveId') throw bad('<DriveId> must come first', kids[0]?.name ?? 'DriveLog', kids[0]?.line ?? root.line);
  const last = kids[kids.length - 1]!;
  if (kids.length < 2 || last.name !== 'Status') throw bad('<Status> must come last', last.name, last.line);
  const log: DriveLog = {
    format: root.attrs.Version as DriveLogFormat,
    driveId: leaf(kids[0]),
    blobs: [],
    status: oneOf(leaf(last), DRIVE_LOG_STATUSES, 'Status', last.line),
  };
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
      throw bad(
        c.name === 'PageRangeList' || c.name === 'Metadata' || c.name === 'Properties'
          ? 'page blobs, metadata and properties are not supported by driveseed'
          : 'unknown element in <Blob>',
        c.name,
        c.line,
      );
    }
    if (by[c.name]) throw bad('repeated', c.name, c.line);
    by[c.name] = c;
  }
  for (const req of ['BlobPath', 'FilePath', 'Length']) if (!by[req]) throw bad(`<${req}> is missing`, 'Blob', n.line);
  const b: DriveLogBlob = { status, blobPath: leaf(by.BlobPath!), filePath: leaf(by.FilePath!), length: int(leaf(by.Length!), 'Length', by.Length!.line) };
  if (by.LastModified) b.lastModified = leaf(by.LastModified);
  if (by.ImportDisposition)
    b.importDisposition = {
      value: leaf(by.ImportDisposition),
      status: oneOf(by.ImportDisposition.attrs.Status, DISPOSITION_STATUSES, 'ImportDisposition', by.ImportDisposition.line),
    };
  if (by.BlockList) {
    b.blocks = by.BlockList.children.map((k) => {
      if (k.name !== 'Block') throw bad('only <Block> elements are allowed in <BlockList>', k.name, k.line);
      const block: DriveLogBlock = {
        offset: int(k.attrs.Offset, 'Block', k.line),
        length: int(k.attrs.Length, 'Block', k.line),
        status: oneOf(k.attrs.Status, BLOCK_LOG_STATUSES, 'Block', k.line),
      };
      if (k.attrs.Id !== undefined) block.id = k.attrs.Id;
      if (k.attrs.Hash !== undefined) {
        if (!/^[0-9A-Fa-f]{32}$/.test(k.attrs.Hash)) throw bad(`Hash "${k.attrs.Hash}" is not an MD5 (32 hex digits)`, 'Block', k.line);
        block.hash = k.attrs.Hash.toUpperCase();
      }
      return block;
    });
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// 2021-08-01 copy logs
// ---------------------------------------------------------------------------------------------

/** The copy-error category of a classic blob or block failure. */
export function copyErrorCategory(status: string): string {
  switch (status) {
    case 'Corrupted':
      return 'UploadErrorDataValidationError';
    case 'BlobRequestFailed':
    case 'BlobRequestForbidden':
    case 'RenameFailed':
    case 'LeasePresent':
    case 'BlobUnexpectedChange':
      return 'UploadErrorCloudHttp';
    default:
      return 'UploadErrorWin32';
  }
}

/**
 * Streams a 2021-08-01 copy log to a file: `addBlob` per file (errored files become
 * `<ErroredEntity>`; with `verbose`, completed ones `<File … crc64>`), then `finish` writes the
 * `<CopyLog Summary="Summary">` element with the counts and the drive status.
 */
export class CopyLogWriter {
  private total = 0;
  private errored = 0;
  private readonly categories = new Map<string, number>();

  private constructor(
    private readonly out: BufferedTextFile,
    private readonly driveId: string,
    private readonly verbose: boolean,
  ) {}

  get file(): string {
    return this.out.path;
  }

  static async create(file: string, driveId: string, opts: { verbose?: boolean } = {}): Promise<CopyLogWriter> {
    const w = new CopyLogWriter(await BufferedTextFile.create(file, { mode: 0o600 }), driveId, opts.verbose ?? false);
    w.out.put('<?xml version="1.0" encoding="utf-8"?>\n');
    return w;
  }

  async addBlob(b: DriveLogBlob): Promise<void> {
    this.total++;
    if (b.status === 'Completed') {
      if (this.verbose)
        this.out.put(`<File CloudFormat="BlockBlob" Path="${escapeAttr(b.blobPath)}" Size="${b.length}"${b.crc64 ? ` crc64="0x${b.crc64}"` : ''}></File>\n`);
    } else {
      this.errored++;
      const category =
        b.category ??
        copyErrorCategory((b.blocks ?? []).find((k) => !OK_BLOCK.has(k.status) && k.status !== 'Uncommitted' && k.status !== 'Cancelled')?.status ?? b.status);
      this.categories.set(category, (this.categories.get(category) ?? 0) + 1);
      this.out.put(
        `<ErroredEntity CloudFormat="BlockBlob" Path="${escapeAttr(b.blobPath)}"><Category>${escapeText(category)}</Category>` +
          `<ErrorCode>${escapeText(b.errorCode ?? b.status)}</ErrorCode><ErrorMessage>${escapeText(b.errorMessage ?? category)}</ErrorMessage><Type>File</Type></ErroredEntity>\n`,
      );
    }
    await this.out.maybeFlush();
  }

  /** Writes the summary, flushes and closes; returns the file's size in bytes. */
  async finish(status: string, validationErrors: string[] = []): Promise<number> {
    const copyErrors = [...this.categories].map(([c, n]) => `<${c} Count="${n}" Description="${escapeAttr(COPY_ERROR_CATEGORIES[c] ?? c)}"/>`).join('');
    const validation = validationErrors.map((v) => `<ValidationError>${escapeText(v)}</ValidationError>`).join('');
    this.out.put(
      `<CopyLog Summary="Summary"><DriveLogVersion>${COPYLOG_VERSION}</DriveLogVersion><DriveId>${escapeText(this.driveId)}</DriveId><Status>${escapeText(status)}</Status>` +
        `<TotalFiles_Blobs>${this.total}</TotalFiles_Blobs><FilesErrored>${this.errored}</FilesErrored><Summary><ValidationErrors>${validation}</ValidationErrors><CopyErrors>${copyErrors}</CopyErrors></Summary></CopyLog>\n`,
    );
    await this.out.close();
    return this.out.bytes;
  }

  async abort(): Promise<void> {
    await this.out.abort();
  }
}

/** Parses a 2021-08-01 copy log (error or verbose): a sequence of elements, summary last. */
function parseCopyLog(xml: string): DriveLog {
  let root: XmlNode;
  try {
    root = parseXmlTree(`<CopyLogFile>${xml.replace(/^\uFEFF?\s*<\?xml[^>]*\?>/, '')}</CopyLogFile>`);
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw bad(`malformed XML: ${e.message}`, 'xml', e.line);
    throw e;
  }
  const log: DriveLog = { format: COPYLOG_VERSION, driveId: '', blobs: [], status: '' };
  let summary: XmlNode | undefined;
  for (const n of root.children) {
    if (n.name === 'CopyLog') {
      if (summary) throw bad('repeated', 'CopyLog', n.line);
      summary = n;
    } else if (n.name === 'ErroredEntity') {
      const kid = (name: string) => n.children.find((c) => c.name === name);
      const path = n.attrs.Path;
      if (path === undefined || path === '') throw bad('Path is missing', 'ErroredEntity', n.line);
      const b: DriveLogBlob = { status: 'Failed', blobPath: path, filePath: '', length: 0 };
      const category = kid('Category');
      if (category) b.category = leaf(category);
      const code = kid('ErrorCode');
      if (code) b.errorCode = leaf(code);
      const message = kid('ErrorMessage');
      if (message) b.errorMessage = leaf(message);
      log.blobs.push(b);
    } else if (n.name === 'File') {
      const path = n.attrs.Path;
      if (path === undefined || path === '') throw bad('Path is missing', 'File', n.line);
      const b: DriveLogBlob = { status: 'Completed', blobPath: path, filePath: '', length: int(n.attrs.Size, 'File', n.line) };
      const crc = n.attrs.crc64;
      if (crc !== undefined) {
        if (!/^(0x)?[0-9A-Fa-f]{1,16}$/.test(crc)) throw bad(`crc64 "${crc}" is not a hex CRC-64`, 'File', n.line);
        b.crc64 = crc.replace(/^0x/, '').toUpperCase().padStart(16, '0');
      }
      log.blobs.push(b);
    } else {
      throw bad('only <ErroredEntity>, <File> and <CopyLog> elements may appear in a copy log', n.name, n.line);
    }
  }
  if (!summary) throw bad('the <CopyLog Summary="Summary"> element is missing (a truncated log?)', 'CopyLogFile', root.line);
  const field = (name: string, required: boolean) => {
    const c = summary!.children.find((x) => x.name === name);
    if (!c && required) throw bad(`<${name}> is missing`, 'CopyLog', summary!.line);
    return c;
  };
  const version = leaf(field('DriveLogVersion', true)!);
  if (version !== COPYLOG_VERSION) throw bad(`DriveLogVersion "${version}" is not supported; expected "${COPYLOG_VERSION}"`, 'DriveLogVersion', summary.line);
  log.driveId = leaf(field('DriveId', true)!);
  log.status = leaf(field('Status', true)!);
  const total = field('TotalFiles_Blobs', false);
  if (total) log.totalFiles = int(leaf(total), 'TotalFiles_Blobs', total.line);
  const errored = field('FilesErrored', false);
  if (errored) log.filesErrored = int(leaf(errored), 'FilesErrored', errored.line);
  return log;
}
