/**
 * The drive manifest (`DriveManifest.xml`, Version 2014-11-01): the file on an Import/Export drive
 * that tells the service which file becomes which blob, block by block, with an MD5 per block.
 * Format and the choices driveseed makes are in docs/manifest.md; Microsoft's description is
 * MicrosoftDocs/azure-docs, articles/storage/common/storage-import-export-file-format-manifest.md.
 *
 * - {@link ManifestWriter} streams a manifest to a file (millions of blocks never become one
 *   string), writes it to a temp name, fsyncs and renames (CONTRIBUTING.md, "Write order on disk"), and returns the
 *   manifestHash computed over exactly the bytes written.
 * - {@link readManifest} is a strict streaming parser: linear in the file size, memory bounded by
 *   one Blob element (≤ 50,000 blocks). Every refusal is a DriveseedError with code
 *   MANIFEST_INVALID whose message names the element and line.
 * - The writer checks the same rules as the parser, so it never writes a manifest the parser refuses.
 *
 * manifestHash is the uppercase hex MD5 of the manifest file's bytes (32 hex), per the documented
 * text; the 64-hex value in one API example is treated as an anomaly (docs/manifest.md).
 *
 * Why one file: the writer and the strict reader of one format, kept side by side so that a change to
 * the format changes both and the writer keeps refusing what the reader refuses.
 */
import { type Hash, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DriveseedError } from '../base/errors';
import { escapeAttr, escapeText, SubtreeBuilder, XmlSyntaxError, XmlTokenizer, type XmlEvent, type XmlNode } from './xml';
import { BufferedTextFile } from './text-file';

export const MANIFEST_VERSION = '2014-11-01';
/** The documented maximum block length (4 MiB) and the block size driveseed writes. */
export const MAX_BLOCK_LENGTH = 4 * 1024 * 1024;
/** The documented maximum number of blocks in one block blob. */
export const MAX_BLOCKS_PER_BLOB = 50_000;
/** The manifest's name at the volume root, as the job's `manifestFile` gives it. */
export const DEFAULT_MANIFEST_FILE = '\\DriveManifest.xml';

export type ImportDisposition = 'rename' | 'no-overwrite' | 'overwrite';

export interface ManifestBlock {
  /** byte offset in the file; blocks are ordered and contiguous from 0 */
  offset: number;
  /** 1 .. 4 MiB */
  length: number;
  /** uppercase hex MD5 of the block's bytes (32 characters) */
  hash: string;
  /** optional base64 block id (Put Block rules); all blocks of a blob have one or none do */
  id?: string;
}

export interface ManifestBlob {
  /** `<container>/<path>`, relative to the storage account */
  blobPath: string;
  /** `\relative\path\on\drive` (backslashes, no `.`/`..` segments) */
  filePath: string;
  /** blob length in bytes; equals the sum of the block lengths */
  length: number;
  importDisposition?: ImportDisposition;
  blocks: ManifestBlock[];
}

export interface ManifestBlobList {
  /** optional copy-session id (`session#1-0`) */
  id?: string;
  blobs: ManifestBlob[];
}

export interface ManifestHeader {
  /** the drive's id (hardware serial or driveseed's generated id); no whitespace */
  driveId: string;
  /** free text, not interpreted by the service; driveseed writes "driveseed <version>" */
  clientCreator?: string;
}

export interface DriveManifest extends ManifestHeader {
  blobLists: ManifestBlobList[];
}

export interface ManifestWriteResult {
  path: string;
  bytes: number;
  /** uppercase hex MD5 of the file's bytes: the job's `manifestHash` */
  manifestHash: string;
  blobCount: number;
  blockCount: number;
}

function invalid(message: string, details: Record<string, unknown>): DriveseedError {
  return new DriveseedError('MANIFEST_INVALID', message, { category: 'VERIFY_FAILED', details });
}

// ---- rules shared by writer and parser ------------------------------------------------------

const HEX32 = /^[0-9A-Fa-f]{32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const CONTAINER = /^(?:\$root|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;

/** Why `blobPath` is not `<container>/<path>`, or undefined when it is. */
export function blobPathProblem(blobPath: string): string | undefined {
  const slash = blobPath.indexOf('/');
  if (slash <= 0) return `BlobPath "${blobPath}" is not <container>/<path>`;
  const container = blobPath.slice(0, slash);
  const name = blobPath.slice(slash + 1);
  if (!CONTAINER.test(container))
    return `BlobPath "${blobPath}": container "${container}" must be 3-63 lowercase letters, digits and single hyphens (or $root)`;
  if (name.length === 0 || name.length > 1024) return `BlobPath "${blobPath}": blob name must be 1-1024 characters`;
  if (name.endsWith('/') || name.endsWith('.')) return `BlobPath "${blobPath}": blob name must not end with "/" or "."`;
  return undefined;
}

/** Why `filePath` is not a safe relative `\path\on\drive`, or undefined when it is. */
export function filePathProblem(filePath: string): string | undefined {
  if (!filePath.startsWith('\\')) return `FilePath "${filePath}" must start with "\\" (relative to the volume root)`;
  if (filePath.includes('/')) return `FilePath "${filePath}" must use backslashes`;
  const parts = filePath.slice(1).split('\\');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return `FilePath "${filePath}" has an empty, "." or ".." segment`;
  if (/[\0:*?"<>|]/.test(filePath)) return `FilePath "${filePath}" has a character NTFS does not allow`;
  return undefined;
}

/** Splits a BlobPath into container and blob name (the BlobPath must be valid). */
export function splitBlobPath(blobPath: string): { container: string; blobName: string } {
  const slash = blobPath.indexOf('/');
  return { container: blobPath.slice(0, slash), blobName: blobPath.slice(slash + 1) };
}

/** `\a\b.pack` → `a/b.pack` (a POSIX path relative to the volume root). */
export function filePathToPosix(filePath: string): string {
  return filePath.replace(/^\\+/, '').split('\\').join('/');
}

/** Checks one blob against the documented rules; returns the first problem as [element, message]. */
function blobProblem(b: ManifestBlob): [string, string] | undefined {
  const bp = blobPathProblem(b.blobPath);
  if (bp) return ['BlobPath', bp];
  const fp = filePathProblem(b.filePath);
  if (fp) return ['FilePath', fp];
  if (!Number.isSafeInteger(b.length) || b.length < 0) return ['Length', `Length ${b.length} of ${b.blobPath} is not a non-negative integer`];
  if (b.blocks.length > MAX_BLOCKS_PER_BLOB) return ['BlockList', `${b.blobPath} has ${b.blocks.length} blocks; at most ${MAX_BLOCKS_PER_BLOB} are allowed`];
  let next = 0;
  const withId = b.blocks.length > 0 && b.blocks[0]!.id !== undefined;
  for (let i = 0; i < b.blocks.length; i++) {
    const k = b.blocks[i]!;
    const where = `block ${i} of ${b.blobPath}`;
    if (k.offset !== next) return ['Block', `${where} has Offset ${k.offset}; blocks must be ordered and contiguous, so it must be ${next}`];
    if (!Number.isSafeInteger(k.length) || k.length < 1 || k.length > MAX_BLOCK_LENGTH)
      return ['Block', `${where} has Length ${k.length}; it must be 1..${MAX_BLOCK_LENGTH}`];
    if (!HEX32.test(k.hash)) return ['Block', `${where} has Hash "${k.hash}"; expected 32 hex digits (MD5)`];
    if ((k.id !== undefined) !== withId) return ['Block', `${where}: block Ids must be present on all blocks of a blob or on none`];
    if (k.id !== undefined && (!BASE64.test(k.id) || k.id.length === 0 || Buffer.from(k.id, 'base64').length > 64))
      return ['Block', `${where} has Id "${k.id}"; expected base64 of at most 64 bytes`];
    next += k.length;
  }
  if (next !== b.length) return ['BlockList', `the blocks of ${b.blobPath} cover ${next} bytes but its Length is ${b.length}`];
  return undefined;
}

function driveIdProblem(driveId: string): string | undefined {
  if (driveId.length === 0 || driveId.length > 128 || /\s/.test(driveId)) return `DriveId "${driveId}" must be 1-128 characters without whitespace`;
  return undefined;
}

// ---- writer ---------------------------------------------------------------------------------

/**
 * Streams a DriveManifest.xml. Usage: `const w = await ManifestWriter.create(file, header)`, then
 * `await w.addBlob(blob)` per file (optionally `w.beginBlobList(id)` between sessions), then
 * `await w.finish()`. Until finish() the manifest exists only as `<file>.tmp`; abort() removes it.
 * Throws DriveseedError MANIFEST_INVALID (category VERIFY_FAILED) for a blob that breaks the rules,
 * naming the blob and the rule: staging produced data the service would refuse.
 */
export class ManifestWriter {
  private inBlobList = false;
  private blobCount = 0;
  private blockCount = 0;

  private constructor(
    private readonly file: string,
    private readonly out: BufferedTextFile,
    /** fed every byte written: the manifestHash */
    private readonly md5: Hash,
  ) {}

  static async create(file: string, header: ManifestHeader): Promise<ManifestWriter> {
    const p = driveIdProblem(header.driveId);
    if (p) throw invalid(p, { element: 'DriveId' });
    const md5 = createHash('md5');
    const w = new ManifestWriter(file, await BufferedTextFile.create(`${file}.tmp`, { digest: md5 }), md5);
    w.out.put(`<?xml version="1.0" encoding="UTF-8"?>\n<DriveManifest Version="${MANIFEST_VERSION}">\n  <Drive>\n`);
    w.out.put(`    <DriveId>${escapeText(header.driveId)}</DriveId>\n`);
    if (header.clientCreator !== undefined) w.out.put(`    <ClientCreator>${escapeText(header.clientCreator)}</ClientCreator>\n`);
    return w;
  }

  /** Starts a new BlobList (a copy session); addBlob() starts one without an Id when none is open. */
  beginBlobList(id?: string): void {
    if (this.inBlobList) this.out.put('    </BlobList>\n');
    this.out.put(id === undefined ? '    <BlobList>\n' : `    <BlobList Id="${escapeAttr(id)}">\n`);
    this.inBlobList = true;
  }

  async addBlob(blob: ManifestBlob): Promise<void> {
    const p = blobProblem(blob);
    if (p) throw invalid(p[1], { element: p[0], blobPath: blob.blobPath });
    if (!this.inBlobList) this.beginBlobList();
    let s = `      <Blob>\n        <BlobPath>${escapeText(blob.blobPath)}</BlobPath>\n        <FilePath>${escapeText(blob.filePath)}</FilePath>\n        <Length>${blob.length}</Length>\n`;
    if (blob.importDisposition !== undefined) s += `        <ImportDisposition>${blob.importDisposition}</ImportDisposition>\n`;
    this.out.put(s);
    if (blob.blocks.length === 0) {
      this.out.put('        <BlockList />\n');
    } else {
      this.out.put('        <BlockList>\n');
      for (const k of blob.blocks) {
        const id = k.id === undefined ? '' : ` Id="${k.id}"`;
        this.out.put(`          <Block Offset="${k.offset}" Length="${k.length}"${id} Hash="${k.hash.toUpperCase()}" />\n`);
        await this.out.maybeFlush();
      }
      this.out.put('        </BlockList>\n');
    }
    this.out.put('      </Blob>\n');
    this.blobCount++;
    this.blockCount += blob.blocks.length;
    await this.out.maybeFlush();
  }

  /** Closes the document, fsyncs, renames `<file>.tmp` to `<file>` and returns the manifestHash. */
  async finish(): Promise<ManifestWriteResult> {
    if (this.inBlobList) this.out.put('    </BlobList>\n');
    this.out.put('  </Drive>\n</DriveManifest>\n');
    await this.out.close({ sync: true });
    await fs.promises.rename(this.out.path, this.file);
    return {
      path: this.file,
      bytes: this.out.bytes,
      manifestHash: this.md5.digest('hex').toUpperCase(),
      blobCount: this.blobCount,
      blockCount: this.blockCount,
    };
  }

  /** Gives up: closes and removes the temp file. */
  async abort(): Promise<void> {
    await this.out.abort();
  }
}

/** Writes a whole in-memory manifest (small manifests, tests). */
export async function writeManifest(file: string, m: DriveManifest): Promise<ManifestWriteResult> {
  const w = await ManifestWriter.create(file, m);
  try {
    for (const list of m.blobLists) {
      w.beginBlobList(list.id);
      for (const b of list.blobs) await w.addBlob(b);
    }
    return await w.finish();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** Uppercase hex MD5 of a file's bytes: the manifestHash of a manifest file. */
export async function manifestFileHash(file: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex').toUpperCase();
}

// ---- parser ---------------------------------------------------------------------------------

export interface ReadManifestHandlers {
  /** called once, after DriveId (and ClientCreator) and before the first blob */
  onHeader?(header: ManifestHeader): void;
  /** called for each blob in document order, after it passed every check */
  onBlob?(blob: ManifestBlob, blobList: { id?: string; index: number }): void | Promise<void>;
}

export interface ManifestSummary extends ManifestHeader {
  blobCount: number;
  blockCount: number;
  /** sum of blob lengths */
  totalBytes: number;
}

type Level = 'start' | 'DriveManifest' | 'Drive' | 'BlobList' | 'afterDrive';

/**
 * Strict streaming manifest parser over text chunks. feed() returns the blobs completed by the
 * chunk; end() checks the document is complete. Errors are MANIFEST_INVALID naming element and line.
 */
export class ManifestParser {
  private readonly tok = new XmlTokenizer();
  private readonly sub = new SubtreeBuilder();
  private level: Level = 'start';
  private header: ManifestHeader | undefined;
  private seenDriveElement = false;
  private blobListIndex = -1;
  private blobListId: string | undefined;
  private blobsInList = 0;
  private source: string;
  readonly summary = { blobCount: 0, blockCount: 0, totalBytes: 0 };

  constructor(source = 'manifest') {
    this.source = source;
  }

  get parsedHeader(): ManifestHeader | undefined {
    return this.header;
  }

  feed(chunk: string): Array<{ blob: ManifestBlob; list: { id?: string; index: number } }> {
    return this.events(() => this.tok.feed(chunk));
  }

  end(): Array<{ blob: ManifestBlob; list: { id?: string; index: number } }> {
    const out = this.events(() => this.tok.end());
    if (!this.header) throw this.err('DriveId', 'the manifest has no <DriveId>', 0);
    return out;
  }

  private err(element: string, message: string, line: number): DriveseedError {
    return invalid(`${this.source}: <${element}>${line ? ` at line ${line}` : ''}: ${message}`, { element, line, source: this.source });
  }

  private events(get: () => XmlEvent[]): Array<{ blob: ManifestBlob; list: { id?: string; index: number } }> {
    let evs: XmlEvent[];
    try {
      evs = get();
    } catch (e) {
      if (e instanceof XmlSyntaxError) throw invalid(`${this.source}: malformed XML: ${e.message}`, { element: 'xml', line: e.line, source: this.source });
      throw e;
    }
    const out: Array<{ blob: ManifestBlob; list: { id?: string; index: number } }> = [];
    for (const ev of evs) {
      if (this.sub.active) {
        const node = this.sub.push(ev);
        if (node) {
          const b = this.node(node);
          if (b) out.push({ blob: b, list: { ...(this.blobListId === undefined ? {} : { id: this.blobListId }), index: this.blobListIndex } });
        }
        continue;
      }
      if (ev.type === 'text') {
        if (ev.text.trim() !== '') throw this.err(this.level, `unexpected text "${ev.text.trim().slice(0, 40)}"`, ev.line);
        continue;
      }
      if (ev.type === 'open') this.open(ev);
      else this.close(ev);
    }
    return out;
  }

  private open(ev: Extract<XmlEvent, { type: 'open' }>): void {
    switch (this.level) {
      case 'start':
        if (ev.name !== 'DriveManifest') throw this.err(ev.name, 'the root element must be <DriveManifest>', ev.line);
        if (ev.attrs.Version !== MANIFEST_VERSION)
          throw this.err('DriveManifest', `Version "${ev.attrs.Version ?? ''}" is not supported; expected "${MANIFEST_VERSION}"`, ev.line);
        this.level = 'DriveManifest';
        return;
      case 'DriveManifest':
        if (ev.name !== 'Drive' || this.seenDriveElement) throw this.err(ev.name, '<DriveManifest> must contain exactly one <Drive>', ev.line);
        this.seenDriveElement = true;
        this.level = 'Drive';
        return;
      case 'Drive':
        if (ev.name === 'BlobList') {
          if (!this.header) throw this.err('BlobList', '<DriveId> must come before any <BlobList>', ev.line);
          if (Object.keys(ev.attrs).some((k) => k !== 'Id')) throw this.err('BlobList', 'only the Id attribute is allowed', ev.line);
          this.blobListIndex++;
          this.blobListId = ev.attrs.Id;
          this.blobsInList = 0;
          this.level = 'BlobList';
          if (ev.selfClosing) throw this.err('BlobList', 'an empty <BlobList/> is not allowed', ev.line);
          return;
        }
        this.sub.push(ev);
        return;
      case 'BlobList':
        if (ev.name !== 'Blob') {
          const why =
            ev.name === 'MetadataPath' || ev.name === 'PropertiesPath'
              ? 'metadata and properties files are not supported by driveseed'
              : 'only <Blob> elements are allowed here';
          throw this.err(ev.name, why, ev.line);
        }
        this.sub.push(ev);
        return;
      default:
        throw this.err(ev.name, 'unexpected element after </Drive>', ev.line);
    }
  }

  private close(ev: Extract<XmlEvent, { type: 'close' }>): void {
    if (this.level === 'BlobList') {
      if (this.blobsInList === 0) throw this.err('BlobList', 'a <BlobList> must contain at least one <Blob>', ev.line);
      this.level = 'Drive';
    } else if (this.level === 'Drive') {
      if (!this.header) throw this.err('Drive', 'the manifest has no <DriveId>', ev.line);
      this.level = 'afterDrive';
    } else if (this.level === 'afterDrive') {
      if (!this.seenDriveElement) throw this.err('DriveManifest', 'no <Drive> element', ev.line);
      this.level = 'start';
    } else if (this.level === 'DriveManifest') {
      throw this.err('DriveManifest', 'no <Drive> element', ev.line);
    }
  }

  /** A finished subtree directly under <Drive> or <BlobList>. */
  private node(n: XmlNode): ManifestBlob | undefined {
    if (this.level === 'Drive') {
      switch (n.name) {
        case 'DriveId': {
          if (this.header) throw this.err('DriveId', 'only one <DriveId> is allowed', n.line);
          const id = this.leaf(n);
          const p = driveIdProblem(id);
          if (p) throw this.err('DriveId', p, n.line);
          this.header = { driveId: id };
          return undefined;
        }
        case 'ClientCreator':
          if (!this.header || this.header.clientCreator !== undefined || this.blobListIndex >= 0)
            throw this.err('ClientCreator', 'one <ClientCreator> is allowed, after <DriveId> and before <BlobList>', n.line);
          this.header.clientCreator = this.leaf(n);
          return undefined;
        case 'StorageAccountKey':
        case 'ContainerSas':
          throw this.err(n.name, 'account keys and SAS tokens must not be written on a drive; driveseed does not support them', n.line);
        default:
          throw this.err(n.name, 'unknown element in <Drive>', n.line);
      }
    }
    const blob = this.blob(n);
    this.blobsInList++;
    this.summary.blobCount++;
    this.summary.blockCount += blob.blocks.length;
    this.summary.totalBytes += blob.length;
    return blob;
  }

  private blob(n: XmlNode): ManifestBlob {
    if (Object.keys(n.attrs).length) throw this.err('Blob', 'attributes are not allowed', n.line);
    // Child order per the schema; optional ones may be absent.
    const order = ['BlobPath', 'FilePath', 'Length', 'ImportDisposition', 'BlockList'];
    const unsupported: Record<string, string> = {
      PageRangeList: 'page blobs are not supported by driveseed',
      ClientData: 'ClientData is not supported by driveseed',
      Snapshot: 'snapshots are not supported by driveseed',
      MetadataPath: 'metadata files are not supported by driveseed',
      PropertiesPath: 'properties files are not supported by driveseed',
    };
    const got: Record<string, XmlNode> = {};
    let at = 0;
    for (const c of n.children) {
      if (Object.hasOwn(unsupported, c.name)) throw this.err(c.name, unsupported[c.name]!, c.line);
      const i = order.indexOf(c.name);
      if (i === -1) throw this.err(c.name, 'unknown element in <Blob>', c.line);
      if (i < at || got[c.name]) throw this.err(c.name, `out of order or repeated; <Blob> children go ${order.join(', ')}`, c.line);
      got[c.name] = c;
      at = i + 1;
    }
    for (const req of ['BlobPath', 'FilePath', 'Length', 'BlockList']) if (!got[req]) throw this.err(req, `missing in the <Blob> at line ${n.line}`, n.line);
    const blobPath = this.leaf(got.BlobPath!);
    const pBlob = blobPathProblem(blobPath);
    if (pBlob) throw this.err('BlobPath', pBlob, got.BlobPath!.line);
    const filePath = this.leaf(got.FilePath!);
    const pFile = filePathProblem(filePath);
    if (pFile) throw this.err('FilePath', pFile, got.FilePath!.line);
    const length = this.int(this.leaf(got.Length!), 'Length', got.Length!.line);
    const blob: ManifestBlob = { blobPath, filePath, length, blocks: [] };
    if (got.ImportDisposition) {
      const d = this.leaf(got.ImportDisposition);
      if (d !== 'rename' && d !== 'no-overwrite' && d !== 'overwrite')
        throw this.err('ImportDisposition', `"${d}" is not rename, no-overwrite or overwrite`, got.ImportDisposition.line);
      blob.importDisposition = d;
    }
    const bl = got.BlockList!;
    if (Object.keys(bl.attrs).length) throw this.err('BlockList', 'attributes are not allowed', bl.line);
    if (bl.text.trim() !== '') throw this.err('BlockList', 'text is not allowed', bl.line);
    if (bl.children.length > MAX_BLOCKS_PER_BLOB)
      throw this.err('BlockList', `${blobPath} has ${bl.children.length} blocks; at most ${MAX_BLOCKS_PER_BLOB} are allowed`, bl.line);
    for (const k of bl.children) {
      if (k.name !== 'Block') throw this.err(k.name, 'only <Block> elements are allowed in <BlockList>', k.line);
      if (k.children.length || k.text.trim() !== '') throw this.err('Block', 'must be empty', k.line);
      for (const a of Object.keys(k.attrs))
        if (a !== 'Offset' && a !== 'Length' && a !== 'Hash' && a !== 'Id') throw this.err('Block', `unknown attribute ${a}`, k.line);
      for (const a of ['Offset', 'Length', 'Hash']) if (k.attrs[a] === undefined) throw this.err('Block', `missing attribute ${a}`, k.line);
      const block: ManifestBlock = {
        offset: this.int(k.attrs.Offset!, 'Block', k.line, 'Offset'),
        length: this.int(k.attrs.Length!, 'Block', k.line, 'Length'),
        hash: k.attrs.Hash!.toUpperCase(),
      };
      if (k.attrs.Id !== undefined) block.id = k.attrs.Id;
      blob.blocks.push(block);
    }
    const p = blobProblem(blob);
    if (p) {
      const line = p[0] === 'Block' ? (bl.children[Number(/^block (\d+)/.exec(p[1])?.[1] ?? 0)]?.line ?? bl.line) : bl.line;
      throw this.err(p[0], p[1], line);
    }
    return blob;
  }

  private leaf(n: XmlNode): string {
    if (n.children.length) throw this.err(n.name, `must contain only text, found <${n.children[0]!.name}>`, n.line);
    if (Object.keys(n.attrs).length) throw this.err(n.name, 'attributes are not allowed', n.line);
    // Exact text: the writer puts nothing around leaf values, so whitespace is part of the value.
    return n.text;
  }

  private int(s: string, element: string, line: number, attr?: string): number {
    const what = attr ? `${attr} "${s}"` : `"${s}"`;
    if (!/^[0-9]{1,16}$/.test(s)) throw this.err(element, `${what} is not a non-negative decimal integer`, line);
    const v = Number(s);
    if (!Number.isSafeInteger(v)) throw this.err(element, `${what} is too large`, line);
    return v;
  }
}

/**
 * Reads a manifest file strictly and in a streaming way, calling handlers.onBlob per blob (awaited,
 * so a consumer can upload before more is read). Returns the header and totals.
 */
export async function readManifest(file: string, handlers: ReadManifestHandlers = {}): Promise<ManifestSummary> {
  const parser = new ManifestParser(path.basename(file));
  let headerSent = false;
  const deliver = async (items: ReturnType<ManifestParser['feed']>): Promise<void> => {
    if (!headerSent && parser.parsedHeader && (items.length > 0 || parser.summary.blobCount > 0)) {
      headerSent = true;
      handlers.onHeader?.({ ...parser.parsedHeader });
    }
    for (const it of items) await handlers.onBlob?.(it.blob, it.list);
  };
  const stream = fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) await deliver(parser.feed(chunk as string));
    await deliver(parser.end());
  } finally {
    stream.destroy();
  }
  if (!headerSent) handlers.onHeader?.({ ...parser.parsedHeader! });
  return { ...parser.parsedHeader!, ...parser.summary };
}

/** Parses a whole manifest file into memory (small manifests, tests). */
export async function parseManifestFile(file: string): Promise<DriveManifest> {
  const m: DriveManifest = { driveId: '', blobLists: [] };
  const s = await readManifest(file, {
    onBlob(blob, list) {
      while (m.blobLists.length <= list.index) m.blobLists.push(list.id === undefined ? { blobs: [] } : { id: list.id, blobs: [] });
      m.blobLists[list.index]!.blobs.push(blob);
    },
  });
  m.driveId = s.driveId;
  if (s.clientCreator !== undefined) m.clientCreator = s.clientCreator;
  return m;
}

/** Parses manifest text (tests, small manifests). */
export function parseManifestText(text: string, source = 'manifest'): DriveManifest {
  const parser = new ManifestParser(source);
  const m: DriveManifest = { driveId: '', blobLists: [] };
  for (const it of [...parser.feed(text), ...parser.end()]) {
    while (m.blobLists.length <= it.list.index) m.blobLists.push(it.list.id === undefined ? { blobs: [] } : { id: it.list.id, blobs: [] });
    m.blobLists[it.list.index]!.blobs.push(it.blob);
  }
  m.driveId = parser.parsedHeader!.driveId;
  if (parser.parsedHeader!.clientCreator !== undefined) m.clientCreator = parser.parsedHeader!.clientCreator;
  return m;
}
