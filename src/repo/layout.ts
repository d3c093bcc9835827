/**
 * The repository layout (docs/format.md). The staging directory holds exactly the blobs the Azure
 * container will hold later, under the same relative paths, so one repository can live on a staging
 * disk, on shipped drives and in the cloud. Paths here are always relative and use '/'.
 */

/**
 * Repository format version written into `config`; readers refuse a newer one. Version 1: chunk ids are
 * HMAC-SHA-256(idKey, chunk). Version 2: keyed BLAKE3 (config `chunkIds: "blake3"`); everything else
 * is the same, and this driveseed reads and writes both (docs/format.md §config).
 */
export const FORMAT_VERSION = 2;

export const CONFIG_FILE = 'config';
export const DATA_DIR = 'data';
export const INDEX_DIR = 'index';
export const SNAPSHOT_DIR = 'snapshots';
export const LOCK_DIR = 'locks';
/** The one lock name: a local file here, a blob lease on the same path in the cloud. */
export const LOCK_FILE = 'locks/exclusive';
/** Job settings; local to the staging location, not part of the repository blobs. */
export const SETTINGS_FILE = 'settings.json';
/** Plain (unencrypted) per-index pack list: `index/<id>` + this suffix. */
export const PACK_LIST_SUFFIX = '.packs.json';

/**
 * Every hidden work file starts with this prefix, in any directory of the repository. Such a file
 * is never referenced; `check` lists it as garbage and a later stage deletes it.
 */
export const TEMP_PREFIX = '.tmp-';

/** Encrypted metadata file names: lowercase hex SHA-256 of the file's bytes (64 chars). */
export const ID_RE = /^[0-9a-f]{64}$/;

export function packPath(name: string): string {
  return `${DATA_DIR}/${name.slice(0, 2)}/${name}`;
}
export function indexPath(id: string): string {
  return `${INDEX_DIR}/${id}`;
}
export function packListPath(indexId: string): string {
  return `${INDEX_DIR}/${indexId}${PACK_LIST_SUFFIX}`;
}
export function snapshotPath(id: string): string {
  return `${SNAPSHOT_DIR}/${id}`;
}

/** Defaults chosen for a repository when it is created; recorded in `config` and fixed thereafter. */
export const REPO_DEFAULTS = {
  // Content-defined chunking 512 KiB / 1 MiB / 8 MiB: ~1M chunks per TiB keeps the index of a
  // multi-terabyte repository in the tens of MiB while an edit costs about 1 MiB of new data.
  chunker: { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 },
  // 64 MiB packs = 16 Azure blocks of 4 MiB; 16k files per TiB keeps drive manifests and directory
  // listings small, while a torn pack after a crash wastes at most 64 MiB.
  packSize: 64 * 1024 * 1024,
  // Azure Import/Export drive manifests hash 4 MiB blocks; the MD5s are recorded while packing.
  blockSize: 4 * 1024 * 1024,
} as const;
