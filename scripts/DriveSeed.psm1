# DriveSeed.psm1 - thin PowerShell client of `driveseed rpc` (JSON-RPC 2.0, one message per line;
# docs/protocol.md, docs/powershell.md). Tested under PowerShell 7 by test/powershell/*.Tests.ps1
# (run from test/powershell-pwsh.test.ts) against the real `driveseed rpc`.
#
#  - one `driveseed rpc` process per session, started on first use, stopped by Stop-DriveSeedServer
#    or when the module is removed (and by EOF on its stdin when PowerShell exits); stderr is left
#    on the console
#  - numeric ids from 1; one request at a time; `$/progress` for that id -> Write-Progress/-Warning/-Verbose
#  - an error response -> terminating ErrorRecord; FullyQualifiedErrorId '<driveseed code>,<cmdlet>'
#  - Ctrl-C / Stop-Job while waiting -> `$/cancelRequest`, then the (cancelled) response is read so
#    the session stays in step. Reads never block for long (ReadLineAsync polled in short waits), so
#    a stop is noticed even while the server is quiet
#  - cmdlets that change something (stage, prep, job, ship, complete, repair, restore, backup) support
#    -WhatIf/-Confirm: under -WhatIf no request is sent
#  - secrets: -Passphrase is a SecureString, made plain only for the request line on the server's
#    stdin; Get-DriveSeedBitLockerKey returns each recovery password as a SecureString
#  - results are [pscustomobject]s with PSTypeNames 'DriveSeed.<method>'; properties such as Staging
#    and Target bind by name into the next cmdlet

Set-StrictMode -Version 3.0

$script:Server = $null
$script:NextId = 0
$script:PendingRead = $null

function Start-DriveSeedServerProcess {
    $exe = if ($env:DRIVESEED_EXE) { $env:DRIVESEED_EXE } else { (Get-Command driveseed -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source }
    $psi = [System.Diagnostics.ProcessStartInfo]::new()
    # Arguments as one string: Windows PowerShell 5.1 (.NET Framework) has no ArgumentList
    if ($exe -like '*.js') { $psi.FileName = 'node'; $psi.Arguments = "`"$exe`" rpc" } else { $psi.FileName = $exe; $psi.Arguments = 'rpc' }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $false
    $psi.StandardOutputEncoding = [System.Text.UTF8Encoding]::new($false)
    $psi.CreateNoWindow = $true
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.AutoFlush = $true
    $p.StandardInput.NewLine = "`n"
    $script:PendingRead = $null
    $script:Server = [pscustomobject]@{ Process = $p; Ready = $null }
    $line = Read-DriveSeedLine
    if ($null -eq $line) { $script:Server = $null; throw "driveseed rpc exited before it was ready (exit code $($p.ExitCode)); run 'driveseed version' to see why" }
    $ready = $line | ConvertFrom-Json
    if ($ready.method -ne 'ready') { throw "driveseed rpc did not start with the ready notification: $line" }
    if (-not "$($ready.params.protocol)".StartsWith('1.')) { throw "driveseed speaks protocol $($ready.params.protocol); this module needs 1.x" }
    $script:Server.Ready = $ready.params
}

# The next line from the server, or $null at EOF. Waits in 100 ms slices so that PowerShell can stop
# the pipeline (Ctrl-C, Stop-Job) between them; a read still pending when a stop interrupts the wait
# is kept and finished by the next call, as StreamReader allows one read at a time.
function Read-DriveSeedLine {
    if ($null -eq $script:PendingRead) { $script:PendingRead = $script:Server.Process.StandardOutput.ReadLineAsync() }
    while (-not $script:PendingRead.Wait(100)) { }
    $line = $script:PendingRead.Result
    $script:PendingRead = $null
    $line
}

function Stop-DriveSeedServer {
    <#
    .SYNOPSIS
    Ends this session's driveseed rpc process.
    .DESCRIPTION
    Closes the server's standard input. The server cancels whatever is still running (a rerun
    resumes it), answers, and exits; this waits up to a minute for that. The next DriveSeed cmdlet
    starts a new server. Removing the module does the same.
    .EXAMPLE
    Stop-DriveSeedServer
    #>
    [CmdletBinding()] param()
    if ($script:Server) {
        $p = $script:Server.Process
        $script:Server = $null
        $script:PendingRead = $null
        try { $p.StandardInput.Close() } catch [System.IO.IOException] { }   # EOF: the server cancels, answers, exits 0
        if (-not $p.WaitForExit(60000)) { $p.Kill() }
        $p.Dispose()
    }
}

$ExecutionContext.SessionState.Module.OnRemove = { Stop-DriveSeedServer }

# driveseed's error categories (docs/exit-codes.md) -> PowerShell's.
$script:Categories = @{
    USAGE = 'InvalidArgument'; TARGET_REFUSED = 'ResourceBusy'; CANCELLED = 'OperationStopped'; AZURE = 'ConnectionError'
    VERIFY_FAILED = 'InvalidData'; FAILED = 'WriteError'; PARTIAL = 'ReadError'; INTERNAL = 'NotSpecified'
}

function New-DriveSeedErrorRecord($RpcError, $Target) {
    $data = if ($RpcError.PSObject.Properties['data']) { $RpcError.data } else { $null }
    $code = if ($data -and $data.PSObject.Properties['code'] -and $data.code) { [string]$data.code } else { "JSONRPC$($RpcError.code)" }
    $category = if ($data -and $data.PSObject.Properties['category']) { [string]$data.category } else { '' }
    $cat = if ($script:Categories.ContainsKey($category)) { $script:Categories[$category] } else { 'NotSpecified' }
    $ex = [System.Exception]::new([string]$RpcError.message)
    $ex.Data['DriveSeed'] = $data
    [System.Management.Automation.ErrorRecord]::new($ex, $code, [System.Management.Automation.ErrorCategory]$cat, $Target)
}

function Invoke-DriveSeedRpc {
    <# .SYNOPSIS Sends one request and waits for its response, showing its progress. Internal. #>
    param([Parameter(Mandatory)][string]$Method, [hashtable]$Params = @{}, [Parameter(Mandatory)]$Cmdlet, [string]$Activity = $Method)
    if (-not $script:Server -or $script:Server.Process.HasExited) { Start-DriveSeedServerProcess }
    $p = $script:Server.Process
    $id = ++$script:NextId
    $p.StandardInput.WriteLine((@{ jsonrpc = '2.0'; id = $id; method = $Method; params = $Params } | ConvertTo-Json -Compress -Depth 10))
    $answered = $false
    try {
        while ($true) {
            $line = Read-DriveSeedLine
            if ($null -eq $line) { $answered = $true; throw "driveseed rpc ended unexpectedly while running $Method" }
            $msg = $line | ConvertFrom-Json
            if ($msg.PSObject.Properties['method']) {
                if ($msg.method -eq '$/progress' -and $msg.params.id -eq $id) {
                    $n = $msg.params
                    switch ($n.type) {
                        'progress' {
                            $pct = if ($n.PSObject.Properties['bytesTotal'] -and $n.PSObject.Properties['bytesDone'] -and $n.bytesTotal -gt 0) { [int][math]::Min(100, 100 * $n.bytesDone / $n.bytesTotal) } else { -1 }
                            $secs = if ($n.PSObject.Properties['etaSeconds']) { [int]$n.etaSeconds } else { -1 }
                            $done = if ($n.PSObject.Properties['bytesDone']) { [double]$n.bytesDone } else { 0 }
                            $status = "$($n.phase): $([math]::Round($done / 1MB, 1)) MiB"
                            if ($n.PSObject.Properties['rate']) { $status += " at $([math]::Round($n.rate / 1MB, 1)) MiB/s" }
                            Write-Progress -Id 1 -Activity $Activity -Status $status -PercentComplete $pct -SecondsRemaining $secs
                        }
                        'warning' { Write-Warning "$($n.message) [$($n.code)]" }
                        'info' { Write-Verbose $n.message }
                        'event' { Write-Verbose "$($n.event): $($n.data | ConvertTo-Json -Compress -Depth 6)" }
                    }
                }
                continue
            }
            if (-not $msg.PSObject.Properties['id'] -or $msg.id -ne $id) { continue }
            $answered = $true
            Write-Progress -Id 1 -Activity $Activity -Completed
            if ($msg.PSObject.Properties['error']) { $Cmdlet.ThrowTerminatingError((New-DriveSeedErrorRecord $msg.error $Method)) }
            return $msg.result
        }
    } finally {
        if (-not $answered -and -not $p.HasExited) {
            # Ctrl-C or Stop-Job: cancel, then read up to this request's response so ids stay in step.
            # This runs while PowerShell stops the pipeline, when invoking any command (a cmdlet such
            # as ConvertTo-Json, or a function) throws at once: .NET calls only. The response is
            # recognised by how the server writes responses (src/rpc/server.ts): {"jsonrpc":"2.0","id":<id>,...
            $p.StandardInput.WriteLine('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":' + $id + '}}')
            $prefix = '{"jsonrpc":"2.0","id":' + $id + ','
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ([DateTime]::UtcNow -lt $deadline) {
                if ($null -eq $script:PendingRead) { $script:PendingRead = $p.StandardOutput.ReadLineAsync() }
                if (-not $script:PendingRead.Wait(100)) { continue }
                $line = $script:PendingRead.Result
                $script:PendingRead = $null
                if ($null -eq $line -or $line.StartsWith($prefix)) { break }
            }
        }
    }
}

# PowerShell parameter name -> RPC param name (the camelCase CLI option name; docs/powershell.md).
function ConvertTo-DriveSeedParams([hashtable]$Bound, [hashtable]$Map) {
    $out = @{}
    foreach ($k in $Map.Keys) {
        if ($Bound.ContainsKey($k)) {
            $v = $Bound[$k]
            if ($v -is [System.Management.Automation.SwitchParameter]) { $v = $v.IsPresent }
            if ($v -is [array]) { $v = @($v | ForEach-Object { [string]$_ }) }
            $out[$Map[$k]] = $v
        }
    }
    $out
}

# A SecureString as plain text, for the request line only (never stored or written to a stream).
function ConvertFrom-DriveSeedSecureString([securestring]$Secure) {
    [System.Net.NetworkCredential]::new('', $Secure).Password
}

function Add-DriveSeedType($Object, [string]$Method) {
    if ($null -ne $Object -and $Object -is [psobject]) { $Object.PSObject.TypeNames.Insert(0, "DriveSeed.$Method") }
    $Object
}

function Start-DriveSeedStage {
    <#
    .SYNOPSIS
    Backs up source trees into the staging repository (RPC "stage").
    .DESCRIPTION
    Chunks, deduplicates, compresses and encrypts the sources into the staging repository and
    records the job's settings there. Progress appears as a progress bar; a rerun resumes. The
    passphrase comes from -PassphraseFile (first line of the file), -Passphrase (a SecureString), or
    the server's $env:DRIVESEED_PASSPHRASE.
    .PARAMETER Passphrase
    The repository passphrase as a SecureString (Read-Host -AsSecureString); it is made plain text
    only for the request sent to driveseed rpc.
    .EXAMPLE
    Start-DriveSeedStage -Source D:\Data -Staging E:\Staging -Job seed-2026 -Account mystorage -Container backups -PassphraseFile C:\keys\seed.txt
    .EXAMPLE
    $pass = Read-Host -AsSecureString 'Passphrase'; Start-DriveSeedStage D:\Data -Staging E:\Staging -Job seed-2026 -Passphrase $pass
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Low')]
    param(
        [Parameter(Mandatory, Position = 0)][string[]]$Source,
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [Parameter(Mandatory)][string]$Job,
        [string]$Account, [string]$Container, [string]$Subscription, [string]$ResourceGroup, [string]$Location,
        [string]$PassphraseFile, [securestring]$Passphrase, [int]$Level, [int]$Threads
    )
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, "Stage $($Source -join ', ') into the staging repository")) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Source = 'sources'; Staging = 'staging'; Job = 'job'; Account = 'account'; Container = 'container'; Subscription = 'subscription'; ResourceGroup = 'resourceGroup'; Location = 'location'; PassphraseFile = 'passphraseFile'; Level = 'level'; Threads = 'threads' }
        if ($Passphrase) { $params['passphrase'] = ConvertFrom-DriveSeedSecureString $Passphrase }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'stage' -Params $params -Cmdlet $PSCmdlet -Activity "Staging $($Source -join ', ')") 'stage'
    }
}

function Initialize-DriveSeedDrive {
    <#
    .SYNOPSIS
    Prepares import drives from the staging repository (RPC "prep"); -Format erases the targets.
    .DESCRIPTION
    Writes the staging data, DriveManifest.xml and the drive records onto the targets (whole disks
    such as \\.\PhysicalDrive2 or /dev/sdc, or mounted volumes), verifies them, and by default
    creates the import job. With -Format each disk is partitioned and formatted NTFS first, which
    erases it: ConfirmImpact is High, so PowerShell asks unless -Confirm:$false; -WhatIf sends nothing.
    .EXAMPLE
    Initialize-DriveSeedDrive -Staging E:\Staging -Target '\\.\PhysicalDrive2', '\\.\PhysicalDrive3' -Format -Encryption bitlocker -NoJob
    .EXAMPLE
    Start-DriveSeedStage D:\Data -Staging E:\Staging -Job seed1 -PassphraseFile C:\keys\pass.txt | Initialize-DriveSeedDrive -Target '\\.\PhysicalDrive2' -Format -WhatIf
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][Alias('Path')][string[]]$Target,
        [switch]$Format, [ValidateSet('bitlocker', 'none')][string]$Encryption, [string]$BitLockerKeyFile, [switch]$NoVerify,
        [switch]$NoJob, [string]$ReturnAddress, [string]$Emulator, [string]$Container, [ValidateSet('Error', 'Verbose')][string]$LogLevel
    )
    begin { $all = [System.Collections.Generic.List[string]]::new() }
    process { foreach ($t in $Target) { $all.Add($t) } }
    end {
        $action = if ($Format) { 'Erase, format NTFS and write the staging data' } else { 'Write the staging data' }
        if (-not $PSCmdlet.ShouldProcess(($all -join ', '), $action)) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Format = 'format'; Encryption = 'encryption'; BitLockerKeyFile = 'bitlockerKeyFile'; ReturnAddress = 'returnAddress'; Emulator = 'emulator'; Container = 'container'; LogLevel = 'logLevel' }
        $params['target'] = @($all)
        if ($NoVerify) { $params['verify'] = $false }
        if ($NoJob) { $params['job'] = $false }
        $params['confirm'] = @($all)   # names the targets exactly, as the server requires (docs/protocol.md)
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'prep' -Params $params -Cmdlet $PSCmdlet -Activity "Preparing $($all -join ', ')") 'prep'
    }
}

function New-DriveSeedImportJob {
    <#
    .SYNOPSIS
    Creates the Azure import job for the prepared drives (RPC "job.create").
    .DESCRIPTION
    Sends the drives recorded by Initialize-DriveSeedDrive -NoJob, with the return address, to Azure
    (or to the emulator given by -Emulator) and records the job in the staging location.
    .EXAMPLE
    New-DriveSeedImportJob -Staging E:\Staging -ReturnAddress C:\seed\return-address.json
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [string]$ReturnAddress, [string]$Emulator)
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, 'Create the Azure import job')) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; ReturnAddress = 'returnAddress'; Emulator = 'emulator' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'job.create' -Params $params -Cmdlet $PSCmdlet) 'job.create'
    }
}

function Stop-DriveSeedImportJob {
    <#
    .SYNOPSIS
    Cancels the import job of a staging location (RPC "job.cancel"), while the service allows it.
    .EXAMPLE
    Stop-DriveSeedImportJob -Staging E:\Staging -Reason 'Drives lost in transit'
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [string]$Reason, [string]$Emulator)
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, 'Cancel the Azure import job')) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Reason = 'reason'; Emulator = 'emulator' }
        $params['yes'] = $true   # ShouldProcess above was the confirmation
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'job.cancel' -Params $params -Cmdlet $PSCmdlet) 'job.cancel'
    }
}

function Set-DriveSeedShipping {
    <#
    .SYNOPSIS
    Records carrier and tracking number and marks the drives as shipped (RPC "ship").
    .EXAMPLE
    Set-DriveSeedShipping -Staging E:\Staging -Carrier FedEx -Tracking 123456789012
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [Parameter(Mandatory)][string]$Carrier, [Parameter(Mandatory)][string]$Tracking, [string]$ShipDate
    )
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, "Mark the import job as shipped with $Carrier $Tracking")) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Carrier = 'carrier'; Tracking = 'tracking'; ShipDate = 'shipDate' }
        $params['yes'] = $true   # ShouldProcess above was the review; without it the server would need to ask (PROMPT_REQUIRED)
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'ship' -Params $params -Cmdlet $PSCmdlet) 'ship'
    }
}

function Get-DriveSeedJob {
    <#
    .SYNOPSIS
    The import job and each drive's state (RPC "job.get").
    .EXAMPLE
    Get-DriveSeedJob -Staging E:\Staging
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [string]$Emulator)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Emulator = 'emulator' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'job.get' -Params $params -Cmdlet $PSCmdlet) 'job.get'
    }
}

function Test-DriveSeedDrive {
    <#
    .SYNOPSIS
    Re-reads prepared drives and checks every block against the manifest (RPC "verify").
    .EXAMPLE
    Test-DriveSeedDrive -Target F:\, G:\
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][Alias('Path')][string[]]$Target)
    begin { $all = [System.Collections.Generic.List[string]]::new() }
    process { foreach ($t in $Target) { $all.Add($t) } }
    end { Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'verify' -Params @{ target = @($all) } -Cmdlet $PSCmdlet -Activity "Verifying $($all -join ', ')") 'verify' }
}

function Get-DriveSeedDisk {
    <#
    .SYNOPSIS
    Lists disks with size, model, serial and mounts; System = $true marks the system disk (RPC "drives.list").
    .EXAMPLE
    Get-DriveSeedDisk | Where-Object { -not $_.system } | Format-Table path, sizeBytes, model, serial, bus
    #>
    [CmdletBinding()] param()
    $r = Invoke-DriveSeedRpc -Method 'drives.list' -Cmdlet $PSCmdlet
    foreach ($d in $r.disks) { Add-DriveSeedType $d 'disk' }
}

function Get-DriveSeedStatus {
    <#
    .SYNOPSIS
    The import job's state, per-drive progress and the blobs the service could not import (RPC "status").
    .DESCRIPTION
    With -Watch it polls until the job ends (Completed, or a state that needs you), showing progress.
    .EXAMPLE
    Get-DriveSeedStatus -Staging E:\Staging -Watch -Interval 300
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$Watch, [double]$Interval, [switch]$NoLogs)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Watch = 'watch'; Interval = 'interval' }
        if ($NoLogs) { $params['logs'] = $false }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'status' -Params $params -Cmdlet $PSCmdlet -Activity 'Import job status') 'status'
    }
}

function Test-DriveSeedStaging {
    <#
    .SYNOPSIS
    Checks the staging repository; -ReadData reads and verifies every chunk (RPC "check").
    .EXAMPLE
    Test-DriveSeedStaging -Staging E:\Staging -ReadData -PassphraseFile C:\keys\seed.txt
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$ReadData, [string]$PassphraseFile, [securestring]$Passphrase, [int]$Threads)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; ReadData = 'readData'; PassphraseFile = 'passphraseFile'; Threads = 'threads' }
        if ($Passphrase) { $params['passphrase'] = ConvertFrom-DriveSeedSecureString $Passphrase }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'check' -Params $params -Cmdlet $PSCmdlet -Activity "Checking $Staging") 'check'
    }
}

function Get-DriveSeedBitLockerKey {
    <#
    .SYNOPSIS
    The BitLocker recovery passwords of the prepared drives (RPC "keys.list"), one object per drive, each as a SecureString.
    .DESCRIPTION
    BitLockerKey is a SecureString ($null for a drive without BitLocker). To see one, for example to
    type it into the Azure portal: $k.BitLockerKey | ConvertFrom-SecureString -AsPlainText.
    With -FromJob the keys come from the import job in Azure (listCredentials) instead of the
    staging location's records.
    .EXAMPLE
    Get-DriveSeedBitLockerKey -Staging E:\Staging | Format-Table driveId, target
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$FromJob, [string]$Emulator)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; FromJob = 'fromJob'; Emulator = 'emulator' }
        $r = Invoke-DriveSeedRpc -Method 'keys.list' -Params $params -Cmdlet $PSCmdlet
        foreach ($d in $r.drives) {
            $plain = [string]$d.bitLockerKey
            $d.bitLockerKey = if ($plain) { ConvertTo-SecureString -String $plain -AsPlainText -Force } else { $null }
            Add-DriveSeedType $d 'key'
        }
    }
}

function Complete-DriveSeedImport {
    <#
    .SYNOPSIS
    Verifies the imported blobs against the manifests and records that the seed is in place (RPC "complete").
    .EXAMPLE
    Complete-DriveSeedImport -Staging E:\Staging
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Low')]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging)
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, 'Verify the import and record the seed as complete')) { return }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'complete' -Params @{ staging = $Staging } -Cmdlet $PSCmdlet -Activity 'Verifying the import') 'complete'
    }
}

function Start-DriveSeedBackup {
    <#
    .SYNOPSIS
    Backs up source trees incrementally over the network into the seeded container (RPC "backup").
    .EXAMPLE
    Start-DriveSeedBackup -Source D:\Data -Staging E:\Staging -PassphraseFile C:\keys\seed.txt
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Low')]
    param(
        [Parameter(Mandatory, Position = 0)][string[]]$Source,
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [string]$PassphraseFile, [securestring]$Passphrase, [int]$Level, [int]$Threads
    )
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, "Back up $($Source -join ', ') to the cloud container")) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Source = 'sources'; Staging = 'staging'; PassphraseFile = 'passphraseFile'; Level = 'level'; Threads = 'threads' }
        if ($Passphrase) { $params['passphrase'] = ConvertFrom-DriveSeedSecureString $Passphrase }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'backup' -Params $params -Cmdlet $PSCmdlet -Activity "Backing up $($Source -join ', ')") 'backup'
    }
}

function Get-DriveSeedSnapshot {
    <#
    .SYNOPSIS
    The snapshots of the staging repository, or with -Cloud of the repository in Azure (RPC "snapshots.list"), one object each.
    .EXAMPLE
    Get-DriveSeedSnapshot -Staging E:\Staging -PassphraseFile C:\keys\seed.txt | Sort-Object time | Select-Object -Last 1
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$Cloud, [string]$PassphraseFile, [securestring]$Passphrase)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Cloud = 'cloud'; PassphraseFile = 'passphraseFile' }
        if ($Passphrase) { $params['passphrase'] = ConvertFrom-DriveSeedSecureString $Passphrase }
        $r = Invoke-DriveSeedRpc -Method 'snapshots.list' -Params $params -Cmdlet $PSCmdlet
        foreach ($snap in $r.snapshots) { Add-DriveSeedType $snap 'snapshot' }
    }
}

function Repair-DriveSeedImport {
    <#
    .SYNOPSIS
    Re-uploads from staging exactly the blobs and blocks the import missed or damaged, then verifies them (RPC "repair").
    .EXAMPLE
    Repair-DriveSeedImport -Staging E:\Staging -Full
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$Full)
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, 'Upload the missing or damaged blobs to the container')) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Full = 'full' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'repair' -Params $params -Cmdlet $PSCmdlet -Activity 'Repairing the import') 'repair'
    }
}

function Restore-DriveSeedSnapshot {
    <#
    .SYNOPSIS
    Restores a snapshot into a directory (RPC "restore").
    .EXAMPLE
    Restore-DriveSeedSnapshot -Staging E:\Staging -To D:\Restore -Include 'Data/Finance/*' -PassphraseFile C:\keys\seed.txt
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [Parameter(Mandatory)][string]$To, [string]$Snapshot, [string[]]$Include, [switch]$FromCloud,
        [string]$PassphraseFile, [securestring]$Passphrase, [int]$Threads
    )
    process {
        if (-not $PSCmdlet.ShouldProcess($To, "Restore snapshot $(if ($Snapshot) { $Snapshot } else { '(latest)' })")) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; To = 'to'; Snapshot = 'snapshot'; Include = 'include'; FromCloud = 'fromCloud'; PassphraseFile = 'passphraseFile'; Threads = 'threads' }
        if ($Passphrase) { $params['passphrase'] = ConvertFrom-DriveSeedSecureString $Passphrase }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'restore' -Params $params -Cmdlet $PSCmdlet -Activity "Restoring to $To") 'restore'
    }
}

Export-ModuleMember -Function Start-DriveSeedStage, Initialize-DriveSeedDrive, New-DriveSeedImportJob, Set-DriveSeedShipping,
    Get-DriveSeedJob, Test-DriveSeedDrive, Get-DriveSeedDisk, Complete-DriveSeedImport, Restore-DriveSeedSnapshot, Stop-DriveSeedServer,
    Get-DriveSeedStatus, Test-DriveSeedStaging, Get-DriveSeedBitLockerKey, Start-DriveSeedBackup, Stop-DriveSeedImportJob,
    Get-DriveSeedSnapshot, Repair-DriveSeedImport
