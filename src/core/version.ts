/**
 * What is running: driveseed's version (package.json), the RPC protocol version, Node's, and whether
 * the native addon loads. The addon is loaded lazily and only here, so `driveseed version` works —
 * and says how to build the addon — when it is missing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nativeStatus } from '../native/load';
import { powerShellFile } from '../prep/powershell-scripts';

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
  /**
   * The PowerShell that prep's Windows path runs (src/prep/powershell-scripts.ts): present on Windows, or
   * wherever DRIVESEED_POWERSHELL names one; absent elsewhere, where prep runs no PowerShell.
   * version is null when it could not be run (the error says why).
   */
  powershell?: { file: string; from: 'DRIVESEED_POWERSHELL' | 'default'; version: string | null; error?: string };
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
  // Loads the addon only here: a missing addon must not stop the CLI from starting.
  const native = nativeStatus();
  const powershell = powerShellInfo(process.env);
  return { ...baseVersions(), napi: process.versions.napi, platform: process.platform, arch: process.arch, native, ...(powershell ? { powershell } : {}) };
}

/** The PowerShell prep would run and its $PSVersionTable.PSVersion, where one is relevant (see VersionInfo.powershell). */
export function powerShellInfo(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): VersionInfo['powershell'] {
  const fromEnv = Boolean(env.DRIVESEED_POWERSHELL?.trim());
  if (platform !== 'win32' && !fromEnv) return undefined;
  const file = powerShellFile(env);
  // 15 s: a cold start of Windows PowerShell with antivirus scanning takes seconds
  const r = spawnSync(file, ['-NoProfile', '-NonInteractive', '-Command', '$PSVersionTable.PSVersion.ToString()'], {
    encoding: 'utf8',
    timeout: 15_000,
    windowsHide: true,
  });
  const version = r.status === 0 ? r.stdout.trim() || null : null;
  const error = r.error
    ? `${file} could not run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`
    : r.status !== 0
      ? `${file} exited ${r.status ?? r.signal}`
      : undefined;
  return { file, from: fromEnv ? 'DRIVESEED_POWERSHELL' : 'default', version, ...(error ? { error } : {}) };
}
