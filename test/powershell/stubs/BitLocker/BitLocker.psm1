# Stub of Windows' BitLocker module for running the Windows prep scripts (src/prep/windows.ts) under
# real PowerShell on Linux; found by module autoloading like the Storage stub beside it.
#
# Parameter names, positions, aliases and parameter sets follow Microsoft's BitLocker cmdlet reference
# (Enable-BitLocker checked against the Windows Server 2022 reference, including its behaviour on a
# volume already encrypting or encrypted: no action; paused: resumed);
# objects are BitLockerVolume / BitLockerVolumeKeyProtector shaped like the module's own
# (Microsoft.BitLocker.Structures), with its enumerations. Encryption is a model: Enable-BitLocker
# puts the volume in EncryptionInProgress and each Get-BitLockerVolume moves it on by the machine's
# encryptStep percent (../StubMachine.ps1). Nothing here shows what BitLocker itself does.

. (Join-Path $PSScriptRoot '..' 'StubMachine.ps1')

enum BitLockerVolumeStatus { FullyDecrypted = 0; FullyEncrypted = 1; EncryptionInProgress = 2; DecryptionInProgress = 3; EncryptionPaused = 4; DecryptionPaused = 5 }
enum BitLockerVolumeProtectionStatus { Off = 0; On = 1; Unknown = 2 }
enum BitLockerVolumeLockStatus { Unlocked = 0; Locked = 1 }
enum BitLockerVolumeEncryptionMethod { None = 0; Aes128Diffuser = 1; Aes256Diffuser = 2; Aes128 = 3; Aes256 = 4; Hardware = 5; XtsAes128 = 6; XtsAes256 = 7 }
enum BitLockerVolumeKeyProtectorType { Unknown = 0; Tpm = 1; ExternalKey = 2; RecoveryPassword = 3; TpmPin = 4; TpmStartupKey = 5; TpmPinStartupKey = 6; PublicKey = 7; Password = 8; TpmNetworkKey = 9; AdAccountOrGroup = 10 }
enum BitLockerVolumeType { OperatingSystem = 0; Data = 1 }

class BitLockerVolumeKeyProtector {
    [string]$KeyProtectorId
    [bool]$AutoUnlockProtector
    [BitLockerVolumeKeyProtectorType]$KeyProtectorType
    [string]$KeyFileName
    [string]$RecoveryPassword
    [string]$KeyCertificateType
    [string]$Thumbprint
}

class BitLockerVolume {
    [string]$ComputerName
    [string]$MountPoint
    [BitLockerVolumeEncryptionMethod]$EncryptionMethod
    [bool]$AutoUnlockEnabled
    [bool]$AutoUnlockKeyStored
    [uint32]$MetadataVersion
    [BitLockerVolumeStatus]$VolumeStatus
    [BitLockerVolumeProtectionStatus]$ProtectionStatus
    [BitLockerVolumeLockStatus]$LockStatus
    [single]$EncryptionPercentage
    [uint32]$WipePercentage
    [BitLockerVolumeType]$VolumeType
    [double]$CapacityGB
    [System.Collections.Generic.List[BitLockerVolumeKeyProtector]]$KeyProtector
}

function Find-StubMountPoint([hashtable]$Machine, [string]$MountPoint) {
    if ($MountPoint -notmatch '^([A-Za-z]):\\?$') { return $null }
    $l = $Matches[1].ToUpperInvariant()
    Get-StubPartitionPair $Machine | Where-Object { [string]$_.Partition.DriveLetter -eq $l -and $_.Partition.ContainsKey('Volume') -and $_.Partition.Volume } | Select-Object -First 1
}

function Get-StubBitLockerState([hashtable]$Volume) {
    if (-not $Volume.ContainsKey('BitLocker') -or -not $Volume.BitLocker) {
        $Volume.BitLocker = @{ VolumeStatus = 'FullyDecrypted'; EncryptionPercentage = 0; EncryptionMethod = 'None'; ProtectionStatus = 'Off'; LockStatus = 'Unlocked'; KeyProtector = @() }
    }
    $Volume.BitLocker
}

function New-StubBitLockerVolume([string]$Letter, [hashtable]$Volume) {
    $b = Get-StubBitLockerState $Volume
    $o = [BitLockerVolume]::new()
    $o.ComputerName = 'STUB'
    $o.MountPoint = "${Letter}:"
    $o.EncryptionMethod = [string]$b.EncryptionMethod
    $o.MetadataVersion = 2
    $o.VolumeStatus = [string]$b.VolumeStatus
    $o.ProtectionStatus = [string]$b.ProtectionStatus
    $o.LockStatus = [string]$b.LockStatus
    $o.EncryptionPercentage = [single]$b.EncryptionPercentage
    $o.VolumeType = 'Data'
    $o.CapacityGB = [math]::Round([double]$Volume.Size / 1GB, 4)
    $o.KeyProtector = [System.Collections.Generic.List[BitLockerVolumeKeyProtector]]::new()
    foreach ($k in @($b.KeyProtector)) {
        if ($null -eq $k) { continue }
        $p = [BitLockerVolumeKeyProtector]::new()
        $p.KeyProtectorId = $k.KeyProtectorId
        $p.KeyProtectorType = [string]$k.KeyProtectorType
        # the real cmdlet shows the password only to an elevated caller, which the prep path is
        $p.RecoveryPassword = [string]$k.RecoveryPassword
        $o.KeyProtector.Add($p)
    }
    $o
}

# A numerical recovery password as BitLocker makes them: 8 groups of 6 digits, each 11 x a 16-bit value.
function New-StubRecoveryPassword {
    (1..8 | ForEach-Object { '{0:D6}' -f (11 * (Get-Random -Minimum 0 -Maximum 65536)) }) -join '-'
}

function Get-BitLockerVolume {
    [CmdletBinding()]
    param([Parameter(Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][string[]]$MountPoint)
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        $points = if ($MountPoint) { $MountPoint } else { Get-StubPartitionPair $m | Where-Object { $_.Partition.DriveLetter } | ForEach-Object { "$($_.Partition.DriveLetter):" } }
        $step = if ($m.ContainsKey('encryptStep')) { [double]$m.encryptStep } else { 50 }
        foreach ($mp in $points) {
            $t = Find-StubMountPoint $m $mp
            if (-not $t) {
                $ex = [System.ArgumentException]::new("The volume $mp could not be found.")
                $PSCmdlet.WriteError([System.Management.Automation.ErrorRecord]::new($ex, 'Microsoft.BitLocker.Structures.BitLockerVolumeNotFound', 'ObjectNotFound', $mp))
                continue
            }
            $b = Get-StubBitLockerState $t.Partition.Volume
            $out = New-StubBitLockerVolume ([string]$t.Partition.DriveLetter) $t.Partition.Volume
            if ($b.VolumeStatus -eq 'EncryptionInProgress') {
                $b.EncryptionPercentage = [math]::Min(100, [double]$b.EncryptionPercentage + $step)
                if ($b.EncryptionPercentage -ge 100) { $b.VolumeStatus = 'FullyEncrypted'; $b.ProtectionStatus = 'On' }
            }
            Save-StubMachine $m
            $out
        }
    }
}

$script:ProtectorSets = 'PasswordProtector', 'RecoveryPasswordProtector', 'StartupKeyProtector', 'TpmAndStartupKeyProtector', 'TpmAndPinAndStartupKeyProtector', 'TpmAndPinProtector', 'AdAccountOrGroupProtector', 'TpmProtector', 'RecoveryKeyProtector'

function Add-StubProtector([hashtable]$State, [string]$Set, [hashtable]$Bound) {
    $type = switch ($Set) {
        'RecoveryPasswordProtector' { 'RecoveryPassword' } 'PasswordProtector' { 'Password' } 'StartupKeyProtector' { 'ExternalKey' }
        'RecoveryKeyProtector' { 'ExternalKey' } 'TpmProtector' { 'Tpm' } 'TpmAndPinProtector' { 'TpmPin' } 'TpmAndStartupKeyProtector' { 'TpmStartupKey' }
        'TpmAndPinAndStartupKeyProtector' { 'TpmPinStartupKey' } 'AdAccountOrGroupProtector' { 'AdAccountOrGroup' }
    }
    $pw = ''
    if ($type -eq 'RecoveryPassword') { $pw = if ($Bound.ContainsKey('RecoveryPassword') -and $Bound.RecoveryPassword) { [string]$Bound.RecoveryPassword } else { New-StubRecoveryPassword } }
    $State.KeyProtector = @($State.KeyProtector | Where-Object { $null -ne $_ }) + @(@{ KeyProtectorId = "{$([guid]::NewGuid().ToString().ToUpperInvariant())}"; KeyProtectorType = $type; RecoveryPassword = $pw })
}

function Enable-BitLocker {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium', DefaultParameterSetName = 'RecoveryPasswordProtector')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][string[]]$MountPoint,
        [ValidateSet('Aes128', 'Aes256', 'XtsAes128', 'XtsAes256')][string]$EncryptionMethod,
        [switch]$HardwareEncryption, [Alias('s')][switch]$SkipHardwareTest, [switch]$UsedSpaceOnly,
        [Parameter(ParameterSetName = 'PasswordProtector', Mandatory)][Alias('pwp')][switch]$PasswordProtector,
        [Parameter(ParameterSetName = 'PasswordProtector', Position = 1)][Alias('pw')][securestring]$Password,
        [Parameter(ParameterSetName = 'RecoveryPasswordProtector', Mandatory)][Alias('rpp')][switch]$RecoveryPasswordProtector,
        [Parameter(ParameterSetName = 'RecoveryPasswordProtector', Position = 1)][Alias('rp')][string]$RecoveryPassword,
        [Parameter(ParameterSetName = 'StartupKeyProtector', Mandatory)][Alias('skp')][switch]$StartupKeyProtector,
        [Parameter(ParameterSetName = 'StartupKeyProtector', Mandatory, Position = 1)]
        [Parameter(ParameterSetName = 'TpmAndStartupKeyProtector', Mandatory)]
        [Parameter(ParameterSetName = 'TpmAndPinAndStartupKeyProtector', Mandatory)][Alias('sk')][string]$StartupKeyPath,
        [Parameter(ParameterSetName = 'TpmAndStartupKeyProtector', Mandatory)][Alias('tskp')][switch]$TpmAndStartupKeyProtector,
        [Parameter(ParameterSetName = 'TpmAndPinAndStartupKeyProtector', Mandatory)][Alias('tpskp')][switch]$TpmAndPinAndStartupKeyProtector,
        [Parameter(ParameterSetName = 'TpmAndPinAndStartupKeyProtector', Mandatory, Position = 1)]
        [Parameter(ParameterSetName = 'TpmAndPinProtector', Position = 1)][Alias('p')][securestring]$Pin,
        [Parameter(ParameterSetName = 'TpmAndPinProtector', Mandatory)][Alias('tpp')][switch]$TpmAndPinProtector,
        [Parameter(ParameterSetName = 'AdAccountOrGroupProtector', Mandatory)][Alias('sidp')][switch]$AdAccountOrGroupProtector,
        [Parameter(ParameterSetName = 'AdAccountOrGroupProtector', Mandatory, Position = 1)][Alias('sid')][string]$AdAccountOrGroup,
        [Parameter(ParameterSetName = 'AdAccountOrGroupProtector')][switch]$Service,
        [Parameter(ParameterSetName = 'TpmProtector', Mandatory)][Alias('tpmp')][switch]$TpmProtector,
        [Parameter(ParameterSetName = 'RecoveryKeyProtector', Mandatory)][Alias('rkp')][switch]$RecoveryKeyProtector,
        [Parameter(ParameterSetName = 'RecoveryKeyProtector', Mandatory, Position = 1)][Alias('rk')][string]$RecoveryKeyPath
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        foreach ($mp in $MountPoint) {
            $t = Find-StubMountPoint $m $mp
            if (-not $t) { $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([System.ArgumentException]::new("The volume $mp could not be found."), 'Microsoft.BitLocker.Structures.BitLockerVolumeNotFound', 'ObjectNotFound', $mp)) }
            if (-not $PSCmdlet.ShouldProcess($mp, 'Enable BitLocker')) { continue }
            $b = Get-StubBitLockerState $t.Partition.Volume
            # as documented: no action on a volume encrypted or encrypting; a paused one resumes
            if ($b.VolumeStatus -eq 'EncryptionPaused') { $b.VolumeStatus = 'EncryptionInProgress'; Save-StubMachine $m }
            if ($b.VolumeStatus -ne 'FullyDecrypted') { New-StubBitLockerVolume ([string]$t.Partition.DriveLetter) $t.Partition.Volume; continue }
            Add-StubProtector $b $PSCmdlet.ParameterSetName $PSBoundParameters
            $b.EncryptionMethod = if ($EncryptionMethod) { $EncryptionMethod } else { 'XtsAes128' }   # the default without Group Policy
            $b.VolumeStatus = 'EncryptionInProgress'
            $b.EncryptionPercentage = 0
            Save-StubMachine $m
            if ($PSCmdlet.ParameterSetName -eq 'RecoveryPasswordProtector') {
                Write-Warning "ACTIONS REQUIRED:`n`n1. Save this numerical recovery password in a secure location away from your computer:`n`n$(($b.KeyProtector | Select-Object -Last 1).RecoveryPassword)`n`nTo prevent data loss, save this password immediately."
            }
            New-StubBitLockerVolume ([string]$t.Partition.DriveLetter) $t.Partition.Volume
        }
    }
}

function Add-BitLockerKeyProtector {
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)][string[]]$MountPoint,
        [Parameter(ParameterSetName = 'PasswordProtector', Mandatory)][Alias('pwp')][switch]$PasswordProtector,
        [Parameter(ParameterSetName = 'PasswordProtector', Position = 1)][Alias('pw')][securestring]$Password,
        [Parameter(ParameterSetName = 'RecoveryPasswordProtector', Mandatory)][Alias('rpp')][switch]$RecoveryPasswordProtector,
        [Parameter(ParameterSetName = 'RecoveryPasswordProtector', Position = 1)][Alias('rp')][string]$RecoveryPassword,
        [Parameter(ParameterSetName = 'StartupKeyProtector', Mandatory)][Alias('skp')][switch]$StartupKeyProtector,
        [Parameter(ParameterSetName = 'StartupKeyProtector', Mandatory, Position = 1)][Alias('sk')][string]$StartupKeyPath,
        [Parameter(ParameterSetName = 'TpmProtector', Mandatory)][Alias('tpmp')][switch]$TpmProtector,
        [Parameter(ParameterSetName = 'AdAccountOrGroupProtector', Mandatory)][Alias('sidp')][switch]$AdAccountOrGroupProtector,
        [Parameter(ParameterSetName = 'AdAccountOrGroupProtector', Mandatory, Position = 1)][Alias('sid')][string]$AdAccountOrGroup,
        [Parameter(ParameterSetName = 'AdAccountOrGroupProtector')][switch]$Service,
        [Parameter(ParameterSetName = 'RecoveryKeyProtector', Mandatory)][Alias('rkp')][switch]$RecoveryKeyProtector,
        [Parameter(ParameterSetName = 'RecoveryKeyProtector', Mandatory, Position = 1)][Alias('rk')][string]$RecoveryKeyPath
    )
    process {
        $m = Read-StubMachine
        Add-StubCall $m $PSCmdlet $PSBoundParameters
        foreach ($mp in $MountPoint) {
            $t = Find-StubMountPoint $m $mp
            if (-not $t) { $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([System.ArgumentException]::new("The volume $mp could not be found."), 'Microsoft.BitLocker.Structures.BitLockerVolumeNotFound', 'ObjectNotFound', $mp)) }
            if (-not $PSCmdlet.ShouldProcess($mp, 'Add key protector')) { continue }
            Add-StubProtector (Get-StubBitLockerState $t.Partition.Volume) $PSCmdlet.ParameterSetName $PSBoundParameters
            Save-StubMachine $m
            New-StubBitLockerVolume ([string]$t.Partition.DriveLetter) $t.Partition.Volume
        }
    }
}

Export-ModuleMember -Function Get-BitLockerVolume, Enable-BitLocker, Add-BitLockerKeyProtector
