/**
 * What is running: driveseed's version (package.json), the RPC protocol version, Node's, and whether
 * the native addon loads. The addon is loaded lazily and only here, so `driveseed version` works —
 * and says how to build the addon — when it is missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** docs/protocol.md: bumped on any incompatible change to methods, params, results or notifications. */
export const PROTOCOL_VERSION = '1.0';

export interface VersionInfo {
  driveseed: string;
  protocol: string;
  node: string;
  napi: string | undefined;
  platform: string;
  arch: string;
  native: { loaded: true; abiVersion: number } | { loaded: false; code: string; message: string };
}

let pkgVersion: string | undefined;

/** driveseed's version from package.json (src/core and dist/core both sit two levels below it). */
export function driveseedVersion(): string {
  if (pkgVersion === undefined) {
    const file = path.resolve(__dirname, '..', '..', 'package.json');
    pkgVersion = String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  }
  return pkgVersion;
}

/** The versions without touching the addon (the RPC `ready` notification uses this). */
export function baseVersions(): Pick<VersionInfo, 'driveseed' | 'protocol' | 'node'> {
  return { driveseed: driveseedVersion(), protocol: PROTOCOL_VERSION, node: process.versions.node };
}

export function versionInfo(): VersionInfo {
  let native: VersionInfo['native'];
  try {
    // Lazy: a missing addon must not stop the CLI from starting.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { loadBinding } = require('../native/load') as typeof import('../native/load');
    native = { loaded: true, abiVersion: loadBinding().abiVersion };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    native = { loaded: false, code: typeof e.code === 'string' ? e.code : 'ERR_NATIVE_LOAD', message: String(e.message ?? err) };
  }
  return { ...baseVersions(), napi: process.versions.napi, platform: process.platform, arch: process.arch, native };
}
