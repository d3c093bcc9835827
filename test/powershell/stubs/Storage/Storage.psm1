# Stub of Windows' Storage module for running the Windows prep scripts (src/prep/windows.ts) under
# real PowerShell on Linux. It is found by module autoloading when this folder's parent is on
# $env:PSModulePath, exactly as Windows finds the real module, so the scripts run unchanged.
#
# Each cmdlet has the real cmdlet's parameter names, types, positions, aliases and parameter sets as
# Microsoft's cmdlet reference publishes them (checked against the Windows Server 2022 reference for
# Get-Disk, Get-Partition, Clear-Disk, New-Partition, Format-Volume and Add-PartitionAccessPath;
# Get-Volume and Initialize-Disk follow the same CDXML pattern; the common -CimSession/-ThrottleLimit/
# -AsJob included), so a wrong name, a missing mandatory parameter or an ambiguous set fails here as
# it would on Windows. ConfirmImpact High on Clear-Disk and Format-Volume (both prompt before erasing)
# is the cautious reading: the reference lists -Confirm but not the impact. The behaviour is a model of a
# machine (../StubMachine.ps1), not the real thing: see docs/windows.md for what only Windows shows.

. (Join-Path $PSScriptRoot '..' 'StubMachine.ps1')

function Get-Disk {
    [CmdletBinding(DefaultParameterSetName = 'ByNumber')]
    [OutputType('Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Disk')]
    param(
        [Parameter(ParameterSetName = 'ByNumber', Position = 0, ValueFromPipelineByPropertyName)][Alias('DeviceId')][uint32[]]$Number,
        [Parameter(ParameterSetName = 'ByUniqueId')][Alias('Id')][string[]]$UniqueId,
        [Parameter(ParameterSetName = 'ByName')][string[]]$FriendlyName,
        [Parameter(ParameterSetName = 'ByName')][string[]]$SerialNumber,
        [Parameter(ParameterSetName = 'ByPath', ValueFromPipelineByPropertyName)][string[]]$Path,
        [Parameter(ParameterSetName = 'ByPartition', ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Partition')][psobject]$Partition,
        [Parameter(ParameterSetName = 'ByVirtualDisk', ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_VirtualDisk')][psobject]$VirtualDisk,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        $disks = @($m.disks)
        switch ($PSCmdlet.ParameterSetName) {
            'ByNumber' {
                if (-not $PSBoundParameters.ContainsKey('Number')) { $disks | ForEach-Object { New-StubDisk $_ }; return }
                foreach ($n in $Number) {
                    $d = Find-StubDisk $m $n
                    if ($d) { New-StubDisk $d } else { Write-StubNotFound $PSCmdlet 'MSFT_Disk' 'Number' $n }
                }
            }
            'ByUniqueId' { foreach ($u in $UniqueId) { $disks | Where-Object { "{disk-$($_.Number)}" -eq $u } | ForEach-Object { New-StubDisk $_ } } }
            'ByName' { $disks | Where-Object { (-not $FriendlyName -or $FriendlyName -contains $_.FriendlyName) -and (-not $SerialNumber -or $SerialNumber -contains $_.SerialNumber) } | ForEach-Object { New-StubDisk $_ } }
            'ByPartition' { New-StubDisk (Find-StubDisk $m $Partition.DiskNumber) }
            default { throw "stub Get-Disk: parameter set $($PSCmdlet.ParameterSetName) is not modelled" }
        }
    }
}

function Get-Partition {
    [CmdletBinding(DefaultParameterSetName = 'ByUniqueId')]
    param(
        [Parameter(ParameterSetName = 'ByUniqueId', ValueFromPipelineByPropertyName)][string[]]$UniqueId,
        [Parameter(ParameterSetName = 'ById', Mandatory, ValueFromPipelineByPropertyName)][Alias('DiskPath')][string[]]$DiskId,
        [Parameter(ParameterSetName = 'ById', ValueFromPipelineByPropertyName)][uint64[]]$Offset,
        [Parameter(ParameterSetName = 'ByNumber', Position = 0, ValueFromPipelineByPropertyName)][uint32[]]$DiskNumber,
        [Parameter(ParameterSetName = 'ByNumber', Position = 1)][Alias('Number')][uint32[]]$PartitionNumber,
        [Parameter(ParameterSetName = 'ByDriveLetter', ValueFromPipelineByPropertyName)][char[]]$DriveLetter,
        [Parameter(ParameterSetName = 'ByDisk', ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Disk')][psobject]$Disk,
        [Parameter(ParameterSetName = 'ByVolume', ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Volume')][psobject]$Volume,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        $pairs = @(Get-StubPartitionPair $m)
        switch ($PSCmdlet.ParameterSetName) {
            'ByUniqueId' { $pairs | Where-Object { -not $UniqueId } | ForEach-Object { New-StubPartition $_.Disk $_.Partition } }
            'ByNumber' {
                $hit = @($pairs | Where-Object { (-not $DiskNumber -or $DiskNumber -contains [uint32]$_.Disk.Number) -and (-not $PartitionNumber -or $PartitionNumber -contains [uint32]$_.Partition.PartitionNumber) })
                if ($hit.Count -eq 0) {
                    if ($PSBoundParameters.ContainsKey('PartitionNumber')) { Write-StubNotFound $PSCmdlet 'MSFT_Partition' 'PartitionNumber' ($PartitionNumber -join ', ') }
                    else { Write-StubNotFound $PSCmdlet 'MSFT_Partition' 'DiskNumber' ($DiskNumber -join ', ') }
                }
                $hit | ForEach-Object { New-StubPartition $_.Disk $_.Partition }
            }
            'ByDriveLetter' {
                foreach ($l in $DriveLetter) {
                    $hit = @($pairs | Where-Object { [string]$_.Partition.DriveLetter -eq [string]$l })
                    if ($hit.Count -eq 0) { Write-StubNotFound $PSCmdlet 'MSFT_Partition' 'DriveLetter' $l }
                    $hit | ForEach-Object { New-StubPartition $_.Disk $_.Partition }
                }
            }
            'ByDisk' { $pairs | Where-Object { [uint32]$_.Disk.Number -eq $Disk.Number } | ForEach-Object { New-StubPartition $_.Disk $_.Partition } }
            default { throw "stub Get-Partition: parameter set $($PSCmdlet.ParameterSetName) is not modelled" }
        }
    }
}

function Get-Volume {
    [CmdletBinding(DefaultParameterSetName = 'ByDriveLetter')]
    param(
        [Parameter(ParameterSetName = 'ByDriveLetter', Position = 0, ValueFromPipelineByPropertyName)][char[]]$DriveLetter,
        [Parameter(ParameterSetName = 'ById', Mandatory, ValueFromPipelineByPropertyName)][Alias('Id')][string[]]$ObjectId,
        [Parameter(ParameterSetName = 'ByPaths', Mandatory, ValueFromPipelineByPropertyName)][string[]]$Path,
        [Parameter(ParameterSetName = 'ByLabel', Mandatory)][string[]]$FileSystemLabel,
        [Parameter(ParameterSetName = 'ByPartition', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Partition')][psobject]$Partition,
        [Parameter(ParameterSetName = 'ByDiskImage', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_DiskImage')][psobject]$DiskImage,
        [Parameter(ParameterSetName = 'ByFilePath', Mandatory)][string[]]$FilePath,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        $pairs = @(Get-StubPartitionPair $m | Where-Object { $_.Partition.ContainsKey('Volume') -and $null -ne $_.Partition.Volume })
        switch ($PSCmdlet.ParameterSetName) {
            'ByDriveLetter' {
                if (-not $PSBoundParameters.ContainsKey('DriveLetter')) { $pairs | ForEach-Object { New-StubVolume $_.Disk $_.Partition }; return }
                foreach ($l in $DriveLetter) {
                    $hit = @($pairs | Where-Object { [string]$_.Partition.DriveLetter -eq [string]$l })
                    if ($hit.Count -eq 0) { Write-StubNotFound $PSCmdlet 'MSFT_Volume' 'DriveLetter' $l }
                    $hit | ForEach-Object { New-StubVolume $_.Disk $_.Partition }
                }
            }
            'ByPartition' {
                $hit = @($pairs | Where-Object { [uint32]$_.Disk.Number -eq $Partition.DiskNumber -and [uint32]$_.Partition.PartitionNumber -eq $Partition.PartitionNumber })
                if ($hit.Count -eq 0) { Write-StubNotFound $PSCmdlet 'MSFT_Volume' 'Partition' "$($Partition.DiskNumber):$($Partition.PartitionNumber)" }
                $hit | ForEach-Object { New-StubVolume $_.Disk $_.Partition }
            }
            'ByLabel' { $pairs | Where-Object { $FileSystemLabel -contains $_.Partition.Volume.FileSystemLabel } | ForEach-Object { New-StubVolume $_.Disk $_.Partition } }
            default { throw "stub Get-Volume: parameter set $($PSCmdlet.ParameterSetName) is not modelled" }
        }
    }
}

# The disks a ByNumber/ByUniqueId/ByName/ByPath/InputObject call names.
function Resolve-StubDiskSelection([hashtable]$Machine, [System.Management.Automation.PSCmdlet]$Cmdlet, [hashtable]$Bound, [string]$Verb) {
    switch ($Cmdlet.ParameterSetName) {
        'ByNumber' { foreach ($n in $Bound.Number) { $d = Find-StubDisk $Machine $n; if ($d) { $d } else { Write-StubNotFound $Cmdlet 'MSFT_Disk' 'Number' $n } } }
        'InputObject' { foreach ($o in $Bound.InputObject) { Find-StubDisk $Machine $o.Number } }
        'ByUniqueId' { @($Machine.disks) | Where-Object { $Bound.UniqueId -contains "{disk-$($_.Number)}" } }
        'ByName' { @($Machine.disks) | Where-Object { $Bound.FriendlyName -contains $_.FriendlyName } }
        default { throw "stub ${Verb}: parameter set $($Cmdlet.ParameterSetName) is not modelled" }
    }
}

function Initialize-Disk {
    [CmdletBinding(DefaultParameterSetName = 'ByNumber', SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'ByNumber', Mandatory, Position = 0, ValueFromPipelineByPropertyName)][Alias('DeviceId')][uint32[]]$Number,
        [Parameter(ParameterSetName = 'ByUniqueId', Mandatory, ValueFromPipelineByPropertyName)][Alias('Id')][string[]]$UniqueId,
        [Parameter(ParameterSetName = 'ByName', ValueFromPipelineByPropertyName)][string[]]$FriendlyName,
        [Parameter(ParameterSetName = 'ByPath', Mandatory, ValueFromPipelineByPropertyName)][string[]]$Path,
        [Parameter(ParameterSetName = 'InputObject', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Disk')][psobject[]]$InputObject,
        [ValidateSet('Unknown', 'MBR', 'GPT')][string]$PartitionStyle,
        [switch]$PassThru,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        foreach ($d in @(Resolve-StubDiskSelection $m $PSCmdlet $PSBoundParameters 'Initialize-Disk')) {
            if (-not $PSCmdlet.ShouldProcess("disk $($d.Number)", 'Initialize')) { continue }
            if ([string]$d.PartitionStyle -ne 'RAW') {
                # the real cmdlet's refusal for a disk that already has a partition table
                $ex = [Microsoft.PowerShell.Commands.WriteErrorException]::new('The disk has already been initialized.')
                $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($ex, 'StorageWMI 41001,Initialize-Disk', 'InvalidOperation', $d.Number))
                continue
            }
            $d.PartitionStyle = if ($PartitionStyle) { $PartitionStyle } else { 'GPT' }   # GPT is the cmdlet's default
            $d.Partitions = @()
            if ($d.PartitionStyle -eq 'GPT') {
                # Windows creates the 128 MiB Microsoft Reserved partition (partition 1) on initialising GPT
                $d.Partitions = @(@{ PartitionNumber = 1; DriveLetter = ''; GptType = '{e3c9e316-0b5c-4db8-817d-f92df00215ae}'; Size = 134217728; Offset = 17408 })
            }
            Save-StubMachine $m
            if ($PassThru) { New-StubDisk $d }
        }
    }
}

function Clear-Disk {
    [CmdletBinding(DefaultParameterSetName = 'ByNumber', SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(ParameterSetName = 'ByNumber', Mandatory, Position = 0, ValueFromPipelineByPropertyName)][Alias('DeviceId')][uint32[]]$Number,
        [Parameter(ParameterSetName = 'ByUniqueId', Mandatory, ValueFromPipelineByPropertyName)][Alias('Id')][string[]]$UniqueId,
        [Parameter(ParameterSetName = 'ByName', ValueFromPipelineByPropertyName)][string[]]$FriendlyName,
        [Parameter(ParameterSetName = 'ByPath', Mandatory, ValueFromPipelineByPropertyName)][string[]]$Path,
        [Parameter(ParameterSetName = 'InputObject', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Disk')][psobject[]]$InputObject,
        [switch]$RemoveData, [switch]$RemoveOEM, [switch]$Sanitize, [switch]$PassThru,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        foreach ($d in @(Resolve-StubDiskSelection $m $PSCmdlet $PSBoundParameters 'Clear-Disk')) {
            if (-not $PSCmdlet.ShouldProcess("disk $($d.Number)", 'Clear')) { continue }
            if ([string]$d.PartitionStyle -eq 'RAW') {
                $ex = [Microsoft.PowerShell.Commands.WriteErrorException]::new('The disk has not been initialized.')
                $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($ex, 'StorageWMI 41000,Clear-Disk', 'InvalidOperation', $d.Number)); continue
            }
            if (-not $RemoveData -and @($d.Partitions | Where-Object { $_.ContainsKey('Volume') -and $_.Volume }).Count -gt 0) {
                $ex = [Microsoft.PowerShell.Commands.WriteErrorException]::new('The disk contains data partitions; use -RemoveData to remove them.')
                $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($ex, 'StorageWMI 41003,Clear-Disk', 'InvalidOperation', $d.Number)); continue
            }
            $d.PartitionStyle = 'RAW'
            $d.Partitions = @()
            Save-StubMachine $m
            if ($PassThru) { New-StubDisk $d }
        }
    }
}

function New-Partition {
    [CmdletBinding(DefaultParameterSetName = 'ByNumber')]
    param(
        [Parameter(ParameterSetName = 'ByNumber', Mandatory, Position = 0, ValueFromPipelineByPropertyName)][uint32[]]$DiskNumber,
        [Parameter(ParameterSetName = 'ByUniqueId', Mandatory, ValueFromPipelineByPropertyName)][string[]]$DiskId,
        [Parameter(ParameterSetName = 'ByPath', Mandatory, ValueFromPipelineByPropertyName)][string[]]$DiskPath,
        [Parameter(ParameterSetName = 'InputObject', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Disk')][psobject[]]$InputObject,
        [uint64]$Size, [switch]$UseMaximumSize, [uint64]$Offset, [uint32]$Alignment,
        [char]$DriveLetter, [switch]$AssignDriveLetter,
        [ValidateSet('FAT12', 'FAT16', 'Extended', 'Huge', 'IFS', 'FAT32')][string]$MbrType,
        [string]$GptType, [switch]$IsHidden, [switch]$IsActive,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        $numbers = switch ($PSCmdlet.ParameterSetName) { 'ByNumber' { $DiskNumber } 'InputObject' { $InputObject | ForEach-Object { $_.Number } } default { throw "stub New-Partition: parameter set $_ is not modelled" } }
        foreach ($n in $numbers) {
            $d = Find-StubDisk $m $n
            if (-not $d) { Write-StubNotFound $PSCmdlet 'MSFT_Disk' 'Number' $n; continue }
            if ([string]$d.PartitionStyle -eq 'RAW') { $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([Microsoft.PowerShell.Commands.WriteErrorException]::new('The disk has not been initialized.'), 'StorageWMI 41000,New-Partition', 'InvalidOperation', $n)) }
            if ($Size -and $UseMaximumSize) { throw 'stub New-Partition: -Size and -UseMaximumSize together are refused by the real cmdlet' }
            if ($GptType -and $GptType -notmatch '^\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}$') { throw "stub New-Partition: -GptType '$GptType' is not a braced GUID" }
            $used = [uint64](@($d.Partitions) | ForEach-Object { $_.Size } | Measure-Object -Sum).Sum
            $start = [uint64]1048576 + $used
            $size = if ($UseMaximumSize) { [uint64]$d.Size - $start - 1048576 } elseif ($Size) { $Size } else { throw 'stub New-Partition: give -Size or -UseMaximumSize' }
            $letter = if ($PSBoundParameters.ContainsKey('DriveLetter')) { [string]$DriveLetter } elseif ($AssignDriveLetter) { Get-StubFreeLetter $m } else { '' }
            $p = @{ PartitionNumber = @($d.Partitions).Count + 1; DriveLetter = $letter; GptType = $(if ($GptType) { $GptType.ToLowerInvariant() } else { '{ebd0a0a2-b9e5-4433-87c0-68b6b72699c7}' }); Size = $size; Offset = $start }
            $d.Partitions = @($d.Partitions) + @($p)
            Save-StubMachine $m
            New-StubPartition $d $p
        }
    }
}

function Format-Volume {
    [CmdletBinding(DefaultParameterSetName = 'ByDriveLetter', SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(ParameterSetName = 'ByDriveLetter', Mandatory, Position = 0, ValueFromPipelineByPropertyName)][char[]]$DriveLetter,
        [Parameter(ParameterSetName = 'ById', Mandatory, ValueFromPipelineByPropertyName)][Alias('Id')][string[]]$ObjectId,
        [Parameter(ParameterSetName = 'ByPaths', Mandatory, ValueFromPipelineByPropertyName)][string[]]$Path,
        [Parameter(ParameterSetName = 'ByLabel', Mandatory)][string[]]$FileSystemLabel,
        [Parameter(ParameterSetName = 'ByPartition', ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Partition')][psobject]$Partition,
        [Parameter(ParameterSetName = 'InputObject', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Volume')][psobject[]]$InputObject,
        [ValidateSet('FAT', 'FAT32', 'exFAT', 'NTFS', 'ReFS')][string]$FileSystem,
        [string]$NewFileSystemLabel, [Alias('ClusterSize')][uint32]$AllocationUnitSize, [switch]$Full, [switch]$Force, [switch]$Compress,
        [bool]$ShortFileNameSupport, [bool]$SetIntegrityStreams, [switch]$UseLargeFRS, [switch]$DisableHeatGathering, [bool]$IsDAX, [switch]$DevDrive,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        $targets = switch ($PSCmdlet.ParameterSetName) {
            'ByPartition' { @(Get-StubPartitionPair $m | Where-Object { [uint32]$_.Disk.Number -eq $Partition.DiskNumber -and [uint32]$_.Partition.PartitionNumber -eq $Partition.PartitionNumber }) }
            'ByDriveLetter' { @(Get-StubPartitionPair $m | Where-Object { $DriveLetter -contains [char][string]$_.Partition.DriveLetter }) }
            default { throw "stub Format-Volume: parameter set $_ is not modelled" }
        }
        foreach ($t in $targets) {
            if (-not $PSCmdlet.ShouldProcess("partition $($t.Disk.Number):$($t.Partition.PartitionNumber)", 'Format')) { continue }
            $size = [uint64]$t.Partition.Size - [uint64]4096   # the boot sector and its backup
            $t.Partition.Volume = @{ FileSystem = $(if ($FileSystem) { $FileSystem } else { 'NTFS' }); FileSystemLabel = $NewFileSystemLabel; Size = $size; SizeRemaining = $size - [uint64][math]::Min([double]64MB, [double]$size / 100) }
            Save-StubMachine $m
            New-StubVolume $t.Disk $t.Partition
        }
    }
}

function Add-PartitionAccessPath {
    [CmdletBinding(DefaultParameterSetName = 'ByNumber', SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'ByNumber', Mandatory, Position = 0, ValueFromPipelineByPropertyName)][uint32[]]$DiskNumber,
        [Parameter(ParameterSetName = 'ByNumber', Mandatory, Position = 1, ValueFromPipelineByPropertyName)][uint32[]]$PartitionNumber,
        [Parameter(ParameterSetName = 'ById', Mandatory, ValueFromPipelineByPropertyName)][string[]]$DiskId,
        [Parameter(ParameterSetName = 'ById', Mandatory, ValueFromPipelineByPropertyName)][uint64[]]$Offset,
        [Parameter(ParameterSetName = 'ByDriveLetter', Mandatory)][char[]]$DriveLetter,
        [Parameter(ParameterSetName = 'InputObject', Mandatory, ValueFromPipeline)][PSTypeName('Microsoft.Management.Infrastructure.CimInstance#MSFT_Partition')][psobject[]]$InputObject,
        [Parameter(Position = 2)][string]$AccessPath, [switch]$AssignDriveLetter, [switch]$PassThru,
        [Alias('Session')][object[]]$CimSession, [int]$ThrottleLimit, [switch]$AsJob
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        if ($PSCmdlet.ParameterSetName -ne 'ByNumber') { throw "stub Add-PartitionAccessPath: parameter set $($PSCmdlet.ParameterSetName) is not modelled" }
        $t = @(Get-StubPartitionPair $m | Where-Object { $DiskNumber -contains [uint32]$_.Disk.Number -and $PartitionNumber -contains [uint32]$_.Partition.PartitionNumber })
        if ($t.Count -eq 0) { Write-StubNotFound $PSCmdlet 'MSFT_Partition' 'PartitionNumber' ($PartitionNumber -join ', '); return }
        foreach ($x in $t) {
            if (-not $PSCmdlet.ShouldProcess("partition $($x.Disk.Number):$($x.Partition.PartitionNumber)", 'Add access path')) { continue }
            if ($AssignDriveLetter) {
                $l = Get-StubFreeLetter $m
                if (-not $l) { $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([Microsoft.PowerShell.Commands.WriteErrorException]::new('No drive letters are available.'), 'StorageWMI 42002,Add-PartitionAccessPath', 'ResourceUnavailable', $null)) }
                $x.Partition.DriveLetter = $l
            } elseif ($AccessPath -match '^([A-Za-z]):\\?$') { $x.Partition.DriveLetter = $Matches[1].ToUpperInvariant() }
            Save-StubMachine $m
            if ($PassThru) { New-StubPartition $x.Disk $x.Partition }
        }
    }
}

Export-ModuleMember -Function Get-Disk, Get-Partition, Get-Volume, Initialize-Disk, Clear-Disk, New-Partition, Format-Volume, Add-PartitionAccessPath
