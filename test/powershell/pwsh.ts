/**
 * Running real PowerShell 7 from the uvu tests: where pwsh is (scripts/setup.mjs installs it as a
 * .NET global tool), the environment it runs in, and the stub machine of the Windows prep tests
 * (test/powershell/stubs/: Storage and BitLocker modules found by autoloading).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const PS_DIR = __dirname;
export const STUBS = path.join(__dirname, 'stubs');

/** The pwsh to run: $DRIVESEED_PWSH, pwsh on PATH, or the .NET global tool's (~/.dotnet/tools/pwsh). */
export function findPwsh(): string | undefined {
  if (process.env.DRIVESEED_PWSH) return fs.existsSync(process.env.DRIVESEED_PWSH) ? process.env.DRIVESEED_PWSH : undefined;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), path.join(os.homedir(), '.dotnet', 'tools')];
  return dirs.map((d) => path.join(d, 'pwsh')).find((p) => fs.existsSync(p));
}

export const PWSH = findPwsh();
/** Why the PowerShell tests cannot run here, or undefined. */
export const pwshUnavailable: string | undefined = PWSH
  ? undefined
  : 'needs PowerShell 7 (pwsh): scripts/setup.mjs installs it with `dotnet tool install --global PowerShell` where the .NET SDK exists';

/** Quiet, reproducible PowerShell: no telemetry, no update check, no colour codes in captured output. */
export function pwshEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    POWERSHELL_TELEMETRY_OPTOUT: '1',
    POWERSHELL_UPDATECHECK: 'Off',
    NO_COLOR: '1',
    TERM: 'dumb',
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    ...extra,
  };
}

/** Runs `pwsh -NoProfile -NonInteractive -File <file> args…`; never throws for a failing script. */
export function runPwshFile(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; onStdout?: (chunk: string) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PWSH!, ['-NoProfile', '-NonInteractive', '-File', file, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      opts.onStdout?.(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One case of a PowerShell suite (test/powershell/Harness.ps1 prints one JSON line per case). */
export interface PsCase {
  case: string;
  ok: boolean;
  skip?: string;
  error?: string;
  at?: string;
  ms: number;
}

/** The case lines of a suite's stdout (other lines, if any, are ignored). */
export function psCases(stdout: string): PsCase[] {
  const out: PsCase[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    if (!line.startsWith('{') || !line.includes('"case":')) continue;
    try {
      const c = JSON.parse(line) as PsCase;
      if (typeof c.case === 'string' && typeof c.ok === 'boolean') out.push(c);
    } catch {
      // a line of the cmdlets' own output that merely looks like a case
    }
  }
  return out;
}

// ---- the stub Windows machine --------------------------------------------------------------------

export interface StubVolume {
  FileSystem: string;
  FileSystemLabel: string;
  Size: number;
  SizeRemaining: number;
  BitLocker?: {
    VolumeStatus: string;
    EncryptionPercentage: number;
    EncryptionMethod: string;
    ProtectionStatus: string;
    LockStatus: string;
    KeyProtector: Array<{ KeyProtectorId: string; KeyProtectorType: string; RecoveryPassword: string }>;
  };
}
export interface StubPartition {
  PartitionNumber: number;
  DriveLetter: string;
  GptType: string;
  Size: number;
  Offset: number;
  Volume?: StubVolume;
}
export interface StubDisk {
  Number: number;
  FriendlyName: string;
  SerialNumber: string;
  Size: number;
  IsSystem: boolean;
  IsBoot: boolean;
  IsReadOnly: boolean;
  IsOffline: boolean;
  PartitionStyle: 'RAW' | 'MBR' | 'GPT';
  BusType: string;
  LogicalSectorSize: number;
  Partitions: StubPartition[];
}
export interface StubCall {
  Cmdlet: string;
  ParameterSet: string;
  Parameters: Record<string, unknown>;
}
export interface StubMachineState {
  disks: StubDisk[];
  freeLetters: string[];
  deny?: string[];
  encryptStep?: number;
  /** MSFT_Disk enumerations as UInt16 numbers (no Storage type data) */
  rawEnums?: boolean;
  calls: StubCall[];
}

export const BASIC_DATA = '{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}';
export const MSR = '{e3c9e316-0b5c-4db8-817d-f92df00215ae}';

/** A machine like the fixtures' one: disk 0 the system disk (C:), disk 2 a new RAW 8 TB SATA disk. */
export function defaultMachine(): StubMachineState {
  return {
    disks: [
      {
        Number: 0,
        FriendlyName: 'Samsung SSD 980 PRO 1TB',
        SerialNumber: '0025_3852_1140_1D4E.',
        Size: 1000204886016,
        IsSystem: true,
        IsBoot: true,
        IsReadOnly: false,
        IsOffline: false,
        PartitionStyle: 'GPT',
        BusType: 'NVMe',
        LogicalSectorSize: 512,
        Partitions: [
          {
            PartitionNumber: 1,
            DriveLetter: '',
            GptType: '{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}',
            Size: 104857600,
            Offset: 1048576,
            Volume: { FileSystem: 'FAT32', FileSystemLabel: '', Size: 100663296, SizeRemaining: 70000000 },
          },
          { PartitionNumber: 2, DriveLetter: '', GptType: MSR, Size: 16777216, Offset: 105906176 },
          {
            PartitionNumber: 3,
            DriveLetter: 'C',
            GptType: BASIC_DATA,
            Size: 999000000000,
            Offset: 122683392,
            Volume: { FileSystem: 'NTFS', FileSystemLabel: 'Windows', Size: 998999994368, SizeRemaining: 612000000000 },
          },
        ],
      },
      {
        Number: 2,
        FriendlyName: 'ST8000NM0055-1RM112',
        SerialNumber: 'ZA1E4PQR            ',
        Size: 8001563222016,
        IsSystem: false,
        IsBoot: false,
        IsReadOnly: false,
        IsOffline: false,
        PartitionStyle: 'RAW',
        BusType: 'SATA',
        LogicalSectorSize: 512,
        Partitions: [],
      },
    ],
    freeLetters: ['E', 'F', 'G'],
    calls: [],
  };
}

/** A machine file in a temp directory; read() gives its current state (the stubs rewrite it). */
export class StubMachine {
  readonly file: string;
  private readonly dir: string;
  constructor(state: StubMachineState = defaultMachine()) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driveseed-stubmachine-'));
    this.file = path.join(this.dir, 'machine.json');
    this.write(state);
  }
  write(state: StubMachineState): void {
    fs.writeFileSync(this.file, JSON.stringify(state, null, 1));
  }
  read(): StubMachineState {
    return JSON.parse(fs.readFileSync(this.file, 'utf8').replace(/^\uFEFF/, '')) as StubMachineState;
  }
  /** "Cmdlet[Set] -Name value …", one per call, parameters in name order */
  calls(): string[] {
    return this.read().calls.map(
      (c) =>
        `${c.Cmdlet}[${c.ParameterSet}]${Object.entries(c.Parameters)
          .map(([k, v]) => ` -${k} ${Array.isArray(v) ? v.join(',') : String(v)}`)
          .join('')}`,
    );
  }
  /** The environment in which powershell.exe (pwsh) finds the stub modules and this machine. */
  env(): Record<string, string> {
    return { DRIVESEED_STUB_MACHINE: this.file, PSModulePath: STUBS, DRIVESEED_POWERSHELL: PWSH ?? 'pwsh' };
  }
  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
