# The state both stub modules (Storage, BitLocker) share: one JSON file named by
# $env:DRIVESEED_STUB_MACHINE that describes the disks of a pretend Windows machine and records every
# stub call. Each PowerShell process that the Windows prep path starts loads it, changes it and
# writes it back, so a sequence of processes sees one machine, as on Windows.
#
# Machine file (what the tests write; unknown keys are kept):
#   disks[]    Number, FriendlyName, SerialNumber, Size, IsSystem, IsBoot, IsReadOnly, IsOffline,
#              PartitionStyle ('RAW'|'MBR'|'GPT'), BusType ('SATA'|'USB'|...), LogicalSectorSize,
#              Partitions[] { PartitionNumber, DriveLetter ('' for none), GptType, Size, Offset,
#                             Volume? { FileSystem, FileSystemLabel, Size, SizeRemaining,
#                                       BitLocker? { VolumeStatus, EncryptionPercentage, EncryptionMethod,
#                                                    ProtectionStatus, LockStatus, KeyProtector[] } } }
#   freeLetters   letters New-Partition -AssignDriveLetter / Add-PartitionAccessPath hand out, in order
#   deny          cmdlet names that fail as they do without elevation
#   encryptStep   percent one Get-BitLockerVolume call advances an EncryptionInProgress volume (default 50)
#   rawEnums      true: MSFT_Disk's PartitionStyle, BusType, OperationalStatus and HealthStatus come as the
#                 CIM class's UInt16 numbers, as they would if the Storage module's type data did not turn
#                 them into names (the scripts must work either way)
#   calls[]       appended by every stub: { Cmdlet, ParameterSet, Parameters { name: value as text } }
#
# Objects are shaped like the real ones: the Storage cmdlets return objects whose type names are
# those of the CIM classes (MSFT_Disk, MSFT_Partition, MSFT_Volume) so that they bind by
# PSTypeName into the next cmdlet, with the CIM property types (UInt32 numbers, UInt64 sizes,
# Char drive letters with [char]0 for none) and the enumerations that the Storage module's type data
# gives PartitionStyle, BusType and the like; Get-BitLockerVolume returns BitLockerVolume objects
# with the BitLocker module's enumerations (VolumeStatus, KeyProtectorType, …).

Set-StrictMode -Version 3.0

enum PartitionStyle { RAW = 0; MBR = 1; GPT = 2 }
enum BusType { Unknown = 0; SCSI = 1; ATAPI = 2; ATA = 3; SSA = 5; USB = 7; RAID = 8; iSCSI = 9; SAS = 10; SATA = 11; SD = 12; MMC = 13; Virtual = 14; NVMe = 17 }
enum OperationalStatus { Unknown = 0; Online = 0xD010; NotReady = 0xD011; NoMedia = 0xD012; Offline = 0xD013 }
enum HealthStatus { Healthy = 0; Warning = 1; Unhealthy = 2 }
enum FileSystemType { Unknown = 0; FAT = 4; FAT32 = 5; NTFS = 14; ReFS = 15; exFAT = 16 }
enum DriveType { Unknown = 0; Removable = 2; Fixed = 3; CDROM = 5 }

function Get-StubMachinePath {
    if (-not $env:DRIVESEED_STUB_MACHINE) { throw 'stub cmdlets need $env:DRIVESEED_STUB_MACHINE (the machine file)' }
    $env:DRIVESEED_STUB_MACHINE
}

function Read-StubMachine {
    $m = Get-Content -Raw -LiteralPath (Get-StubMachinePath) | ConvertFrom-Json -AsHashtable
    $script:RawEnums = $m.ContainsKey('rawEnums') -and [bool]$m['rawEnums']
    $m
}

$script:RawEnums = $false

# An enumeration value, or its UInt16 number when the machine says rawEnums.
function ConvertTo-StubEnum($Value) { if ($script:RawEnums) { [uint16]$Value } else { $Value } }

function Save-StubMachine([hashtable]$Machine) {
    $Machine | ConvertTo-Json -Depth 20 | Set-Content -LiteralPath (Get-StubMachinePath) -Encoding utf8NoBOM
}

function ConvertTo-StubText($Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Management.Automation.SwitchParameter]) { return [bool]$Value }
    if ($Value -is [securestring]) { return '<SecureString>' }
    if ($Value -is [array]) { return @($Value | ForEach-Object { ConvertTo-StubText $_ }) }
    if ($Value -is [psobject] -and $Value.PSObject.TypeNames -match 'MSFT_Partition$') { return "<MSFT_Partition $($Value.DiskNumber):$($Value.PartitionNumber)>" }
    if ($Value -is [psobject] -and $Value.PSObject.TypeNames -match 'MSFT_Disk$') { return "<MSFT_Disk $($Value.Number)>" }
    if ($Value -is [psobject] -and $Value.PSObject.TypeNames -match 'MSFT_Volume$') { return "<MSFT_Volume $($Value.UniqueId)>" }
    [string]$Value
}

# Records the call (cmdlet, parameter set, bound parameters as text) and fails it when the machine
# says the cmdlet is denied, the way the real one fails without elevation.
function Add-StubCall([hashtable]$Machine, [System.Management.Automation.PSCmdlet]$Cmdlet, [hashtable]$Bound) {
    $params = [ordered]@{}
    foreach ($k in ($Bound.Keys | Sort-Object)) { $params[$k] = ConvertTo-StubText $Bound[$k] }
    if (-not $Machine.ContainsKey('calls')) { $Machine['calls'] = @() }
    $Machine['calls'] = @($Machine['calls']) + @([ordered]@{ Cmdlet = $Cmdlet.MyInvocation.MyCommand.Name; ParameterSet = $Cmdlet.ParameterSetName; Parameters = $params })
    Save-StubMachine $Machine
    if ($Machine.ContainsKey('deny') -and @($Machine['deny']) -contains $Cmdlet.MyInvocation.MyCommand.Name) {
        $name = $Cmdlet.MyInvocation.MyCommand.Name
        if ($name -like '*BitLocker*') {
            $ex = [System.UnauthorizedAccessException]::new('Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))')
            $Cmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($ex, 'System.UnauthorizedAccessException', 'PermissionDenied', $null))
        }
        $ex = [System.Exception]::new('Access to a CIM resource was not available to the client.')
        $Cmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new($ex, "MI RESULT 2,$name", 'PermissionDenied', $null))
    }
}

# The error the CDXML cmdlets write when a query matches nothing (non-terminating, ObjectNotFound).
function Write-StubNotFound([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Class, [string]$Property, $Value) {
    $ex = [Microsoft.PowerShell.Commands.WriteErrorException]::new("No $Class objects found with property '$Property' equal to '$Value'.  Verify the value of the property and retry.")
    $Cmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($ex, "CmdletizationQuery_NotFound_$Property", 'ObjectNotFound', $Value))
}

function Add-StubTypeName([psobject]$Object, [string]$Class) {
    $Object.PSObject.TypeNames.Insert(0, 'Microsoft.Management.Infrastructure.CimInstance')
    $Object.PSObject.TypeNames.Insert(0, "Microsoft.Management.Infrastructure.CimInstance#$Class")
    $Object.PSObject.TypeNames.Insert(0, "Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/$Class")
    $Object
}

function ConvertTo-StubLetter($Letter) {
    $s = [string]$Letter
    if ($s.Length -eq 1 -and [char]::IsLetter($s[0])) { return [char]::ToUpperInvariant($s[0]) }
    [char]0
}

function New-StubDisk([hashtable]$D) {
    Add-StubTypeName ([pscustomobject]@{
        Number            = [uint32]$D.Number
        FriendlyName      = [string]$D.FriendlyName
        SerialNumber      = [string]$D.SerialNumber
        UniqueId          = "{disk-$($D.Number)}"
        Path              = "\\?\scsi#disk&ven_stub#$($D.Number)#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}"
        Size              = [uint64]$D.Size
        AllocatedSize     = [uint64]($D.Partitions | ForEach-Object { $_.Size } | Measure-Object -Sum).Sum
        LogicalSectorSize = [uint32]$D.LogicalSectorSize
        PhysicalSectorSize = [uint32]4096
        NumberOfPartitions = [uint32]@($D.Partitions).Count
        PartitionStyle    = ConvertTo-StubEnum ([PartitionStyle][string]$D.PartitionStyle)
        BusType           = ConvertTo-StubEnum ([BusType][string]$D.BusType)
        IsSystem          = [bool]$D.IsSystem
        IsBoot            = [bool]$D.IsBoot
        IsReadOnly        = [bool]$D.IsReadOnly
        IsOffline         = [bool]$D.IsOffline
        OperationalStatus = ConvertTo-StubEnum $(if ($D.IsOffline) { [OperationalStatus]::Offline } else { [OperationalStatus]::Online })
        HealthStatus      = ConvertTo-StubEnum ([HealthStatus]::Healthy)
    }) 'MSFT_Disk'
}

function New-StubPartition([hashtable]$D, [hashtable]$P) {
    Add-StubTypeName ([pscustomobject]@{
        DiskNumber      = [uint32]$D.Number
        PartitionNumber = [uint32]$P.PartitionNumber
        DriveLetter     = ConvertTo-StubLetter $P.DriveLetter
        # as Windows lists them: the drive letter root, then the volume's GUID path
        AccessPaths     = [string[]]@(if ((ConvertTo-StubLetter $P.DriveLetter) -ne [char]0) { "$($P.DriveLetter):\" }; if ($P.ContainsKey('Volume') -and $P.Volume) { "\\?\Volume{stub-$($D.Number)-$($P.PartitionNumber)}\" })
        GptType         = [string]$P.GptType
        Size            = [uint64]$P.Size
        Offset          = [uint64]$P.Offset
        Type            = if ($P.GptType -eq '{e3c9e316-0b5c-4db8-817d-f92df00215ae}') { 'Reserved' } else { 'Basic' }
        IsSystem        = $false
        IsBoot          = $false
        DiskId          = "{disk-$($D.Number)}"
    }) 'MSFT_Partition'
}

function New-StubVolume([hashtable]$D, [hashtable]$P) {
    $v = $P.Volume
    Add-StubTypeName ([pscustomobject]@{
        DriveLetter     = ConvertTo-StubLetter $P.DriveLetter
        FileSystem      = [string]$v.FileSystem
        FileSystemType  = if ($v.FileSystem) { [FileSystemType][string]$v.FileSystem } else { [FileSystemType]::Unknown }
        FileSystemLabel = [string]$v.FileSystemLabel
        Size            = [uint64]$v.Size
        SizeRemaining   = [uint64]$v.SizeRemaining
        DriveType       = [DriveType]::Fixed
        HealthStatus    = [HealthStatus]::Healthy
        UniqueId        = "\\?\Volume{stub-$($D.Number)-$($P.PartitionNumber)}\"
        Path            = "\\?\Volume{stub-$($D.Number)-$($P.PartitionNumber)}\"
    }) 'MSFT_Volume'
}

function Find-StubDisk([hashtable]$Machine, $Number) {
    @($Machine.disks) | Where-Object { [uint32]$_.Number -eq [uint32]$Number } | Select-Object -First 1
}

# Every (disk, partition) pair of the machine, in disk and partition order.
function Get-StubPartitionPair([hashtable]$Machine) {
    foreach ($d in @($Machine.disks)) { foreach ($p in @($d.Partitions)) { if ($null -ne $p) { [pscustomobject]@{ Disk = $d; Partition = $p } } } }
}

function Get-StubFreeLetter([hashtable]$Machine) {
    $used = @(Get-StubPartitionPair $Machine | ForEach-Object { [string]$_.Partition.DriveLetter } | Where-Object { $_ })
    $letter = @($Machine.freeLetters) | Where-Object { $used -notcontains $_ } | Select-Object -First 1
    if (-not $letter) { return '' }
    [string]$letter
}
