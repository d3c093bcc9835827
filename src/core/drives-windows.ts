/**
 * `driveseed drives` on Windows: Get-Disk, Get-Partition and Get-Volume through PowerShell as one
 * JSON document (WINDOWS_SCRIPT), parsed into the same DiskInfo list as on Linux (src/core/drives.ts).
 * The parser was written against a hand-written fixture (test/fixtures/drives/windows-storage.json)
 * and runs under PowerShell 7 against the Storage-module stubs of the tests; it has not run on Windows.
 */
import { DriveseedError } from '../base/errors';
import type { DiskInfo, PartitionInfo } from './drives';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * One PowerShell run. Enums and [char] DriveLetter are cast to strings in the script, because
 * ConvertTo-Json writes enums as numbers and a missing drive letter as "\u0000"; the parser copes
 * with both anyway. @() keeps single items as arrays.
 */
export const WINDOWS_SCRIPT = [
  '$ErrorActionPreference = "Stop";',
  '$d = @(Get-Disk | Select-Object Number, FriendlyName, SerialNumber, @{n="BusType";e={[string]$_.BusType}}, Size, IsBoot, IsSystem, IsReadOnly, IsOffline, @{n="PartitionStyle";e={[string]$_.PartitionStyle}});',
  '$p = @(Get-Partition | Select-Object DiskNumber, PartitionNumber, @{n="DriveLetter";e={[string]$_.DriveLetter}}, Size, Type, AccessPaths, IsBoot, IsSystem);',
  '$v = @(Get-Volume | Select-Object @{n="DriveLetter";e={[string]$_.DriveLetter}}, FileSystem, FileSystemLabel, Path, Size, SizeRemaining);',
  '[pscustomobject]@{ disks = $d; partitions = $p; volumes = $v } | ConvertTo-Json -Depth 4 -Compress',
].join(' ');

/** MSFT_Disk BusType values, for output where the enum came through as a number. */
const WIN_BUS: Record<number, string> = {
  1: 'scsi',
  2: 'atapi',
  3: 'ata',
  4: '1394',
  5: 'ssa',
  6: 'fibre channel',
  7: 'usb',
  8: 'raid',
  9: 'iscsi',
  10: 'sas',
  11: 'sata',
  12: 'sd',
  13: 'mmc',
  14: 'virtual',
  15: 'file backed virtual',
  16: 'storage spaces',
  17: 'nvme',
};

interface WinDisk {
  Number?: number;
  FriendlyName?: string | null;
  SerialNumber?: string | null;
  BusType?: string | number | null;
  Size?: number;
  IsBoot?: boolean;
  IsSystem?: boolean;
  IsReadOnly?: boolean;
  IsOffline?: boolean;
}
interface WinPartition {
  DiskNumber?: number;
  PartitionNumber?: number;
  DriveLetter?: string | number | null;
  Size?: number;
  Type?: string | null;
  AccessPaths?: string[] | string | null;
  IsBoot?: boolean;
  IsSystem?: boolean;
}
interface WinVolume {
  DriveLetter?: string | number | null;
  FileSystem?: string | null;
  FileSystemLabel?: string | null;
  Path?: string | null;
}

const asArray = <T>(v: T | T[] | null | undefined): T[] => (v == null ? [] : Array.isArray(v) ? v : [v]);

function driveLetter(v: unknown): string | undefined {
  if (typeof v === 'number') return v >= 65 && v <= 90 ? String.fromCharCode(v) : v >= 97 && v <= 122 ? String.fromCharCode(v - 32) : undefined;
  if (typeof v === 'string' && /^[A-Za-z]$/.test(v)) return v.toUpperCase();
  return undefined; // "", "\u0000" or null: no letter
}

/** Parses WINDOWS_SCRIPT's output. Pure: tests feed a fixture. */
export function parseWindowsStorage(json: string): DiskInfo[] {
  let doc: { disks?: WinDisk[] | WinDisk; partitions?: WinPartition[] | WinPartition; volumes?: WinVolume[] | WinVolume };
  try {
    doc = JSON.parse(json.replace(/^\uFEFF/, '')) as typeof doc;
  } catch (e) {
    throw new DriveseedError('DRIVES_PARSE', `Could not parse the output of Get-Disk/Get-Partition/Get-Volume: ${(e as Error).message}`, {
      category: 'FAILED',
    });
  }
  const volumesByPath = new Map<string, WinVolume>();
  for (const v of asArray(doc.volumes)) if (typeof v.Path === 'string') volumesByPath.set(v.Path.toLowerCase(), v);
  const parts = asArray(doc.partitions);
  return asArray(doc.disks)
    .filter((d) => typeof d.Number === 'number')
    .sort((a, b) => a.Number! - b.Number!)
    .map((d) => {
      const mine = parts.filter((p) => p.DiskNumber === d.Number).sort((a, b) => (a.PartitionNumber ?? 0) - (b.PartitionNumber ?? 0));
      const reasons: string[] = [];
      if (d.IsBoot) reasons.push('Windows boots from it (IsBoot)');
      if (d.IsSystem) reasons.push('it holds the system partition (IsSystem)');
      const partitions: PartitionInfo[] = mine.map((p) => {
        const access = asArray(p.AccessPaths);
        const letter = driveLetter(p.DriveLetter);
        const vol = access.map((a) => volumesByPath.get(a.toLowerCase())).find((v) => v !== undefined);
        const mountpoints = [...new Set([...(letter ? [`${letter}:\\`] : []), ...access.filter((a) => !a.startsWith('\\\\?\\'))])];
        const info: PartitionInfo = {
          path: `\\\\?\\GLOBALROOT\\Device\\Harddisk${d.Number}\\Partition${p.PartitionNumber}`,
          sizeBytes: p.Size ?? 0,
          mountpoints,
        };
        if (vol?.FileSystem) info.fsType = vol.FileSystem;
        if (vol?.FileSystemLabel) info.label = vol.FileSystemLabel;
        return info;
      });
      const busRaw = d.BusType;
      const bus = typeof busRaw === 'number' ? WIN_BUS[busRaw] : str(busRaw)?.toLowerCase();
      const disk: DiskInfo = {
        path: `\\\\.\\PhysicalDrive${d.Number}`,
        name: String(d.Number),
        sizeBytes: d.Size ?? 0,
        type: 'disk',
        removable: bus === 'usb' || bus === 'sd' || bus === 'mmc',
        readOnly: d.IsReadOnly === true,
        system: reasons.length > 0,
        systemReasons: reasons,
        partitions,
        mountpoints: [],
      };
      const model = str(d.FriendlyName);
      const serial = str(d.SerialNumber);
      if (model) disk.model = model;
      if (serial) disk.serial = serial;
      if (bus) disk.bus = bus;
      return disk;
    });
}
