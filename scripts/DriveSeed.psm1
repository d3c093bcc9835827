# DriveSeed.psm1 - thin PowerShell client of `driveseed rpc` (JSON-RPC 2.0, one message per line;
# docs/protocol.md). NOT RUN here: PowerShell does not exist on the development machines. Every
# exchange it relies on is exercised from Node by test/support/rpc-client.ts (test/rpc-*.test.ts).
#
#  - one `driveseed rpc` process per session, started on first use, stopped by Stop-DriveSeedServer
#    or when the module is removed; stderr is left on the console
#  - numeric ids from 1; one request at a time; `$/progress` for that id -> Write-Progress/-Warning/-Verbose
#  - an error response -> ErrorRecord with FullyQualifiedErrorId = the driveseed code (data.code)
#  - Ctrl-C while waiting -> `$/cancelRequest`, then the (cancelled) response is read so the session
#    stays in step
#  - results are [pscustomobject]s with PSTypeNames 'DriveSeed.<method>'; properties such as Staging
#    and Path bind by name into the next cmdlet

Set-StrictMode -Version 3.0

$script:Server = $null
$script:NextId = 0

function Start-DriveSeedServerProcess {
    $exe = if ($env:DRIVESEED_EXE) { $env:DRIVESEED_EXE } else { (Get-Command driveseed -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source }
    $psi = [System.Diagnostics.ProcessStartInfo]::new()
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
    $line = $p.StandardOutput.ReadLine()
    if ($null -eq $line) { throw "driveseed rpc exited before it was ready (exit code $($p.ExitCode)); run 'driveseed version' to see why" }
    $ready = $line | ConvertFrom-Json
    if ($ready.method -ne 'ready') { throw "driveseed rpc did not start with the ready notification: $line" }
    if (-not "$($ready.params.protocol)".StartsWith('1.')) { throw "driveseed speaks protocol $($ready.params.protocol); this module needs 1.x" }
    $script:Server = [pscustomobject]@{ Process = $p; Ready = $ready.params }
}

function Stop-DriveSeedServer {
    <# .SYNOPSIS Ends the driveseed rpc session: closes its stdin; running work is cancelled and resumable. #>
    [CmdletBinding()] param()
    if ($script:Server) {
        $script:Server.Process.StandardInput.Close()   # EOF: the server cancels, answers, exits 0
        [void]$script:Server.Process.WaitForExit(60000)
        $script:Server = $null
    }
}

$ExecutionContext.SessionState.Module.OnRemove = { Stop-DriveSeedServer }

$script:Categories = @{
    USAGE = 'InvalidArgument'; TARGET_REFUSED = 'ResourceBusy'; CANCELLED = 'OperationStopped'; AZURE = 'ConnectionError'
    VERIFY_FAILED = 'InvalidData'; FAILED = 'WriteError'; INTERNAL = 'NotSpecified'
}

function New-DriveSeedErrorRecord($RpcError, $Target) {
    $code = if ($RpcError.data -and $RpcError.data.code) { [string]$RpcError.data.code } else { "JSONRPC$($RpcError.code)" }
    $cat = if ($RpcError.data -and $script:Categories.ContainsKey([string]$RpcError.data.category)) { $script:Categories[[string]$RpcError.data.category] } else { 'NotSpecified' }
    $ex = [System.Exception]::new([string]$RpcError.message)
    $ex.Data['DriveSeed'] = $RpcError.data
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
            $line = $p.StandardOutput.ReadLine()
            if ($null -eq $line) { throw "driveseed rpc ended unexpectedly while running $Method" }
            $msg = $line | ConvertFrom-Json
            if ($msg.PSObject.Properties['method']) {
                if ($msg.method -eq '$/progress' -and $msg.params.id -eq $id) {
                    $n = $msg.params
                    switch ($n.type) {
                        'progress' {
                            $pct = if ($n.PSObject.Properties['bytesTotal'] -and $n.bytesTotal -gt 0) { [int][math]::Min(100, 100 * $n.bytesDone / $n.bytesTotal) } else { -1 }
                            $secs = if ($n.PSObject.Properties['etaSeconds']) { [int]$n.etaSeconds } else { -1 }
                            $status = "$($n.phase): $([math]::Round($n.bytesDone / 1MB, 1)) MiB"
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
            if ($msg.id -ne $id) { continue }
            $answered = $true
            Write-Progress -Id 1 -Activity $Activity -Completed
            if ($msg.PSObject.Properties['error']) { $Cmdlet.ThrowTerminatingError((New-DriveSeedErrorRecord $msg.error $Method)) }
            return $msg.result
        }
    } finally {
        if (-not $answered -and -not $p.HasExited) {
            # Ctrl-C (or a pipeline stop): cancel, then read up to the response so ids stay in step.
            $p.StandardInput.WriteLine((@{ jsonrpc = '2.0'; method = '$/cancelRequest'; params = @{ id = $id } } | ConvertTo-Json -Compress))
            while ($null -ne ($line = $p.StandardOutput.ReadLine())) {
                $msg = $line | ConvertFrom-Json
                if (-not $msg.PSObject.Properties['method'] -and $msg.id -eq $id) { break }
            }
            Write-Progress -Id 1 -Activity $Activity -Completed
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

function Add-DriveSeedType($Object, [string]$Method) {
    if ($null -ne $Object -and $Object -is [psobject]) { $Object.PSObject.TypeNames.Insert(0, "DriveSeed.$Method") }
    $Object
}

function Start-DriveSeedStage {
    <# .SYNOPSIS Backs up source trees into the staging repository (RPC "stage"). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, Position = 0)][string[]]$Source,
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [Parameter(Mandatory)][string]$Job,
        [string]$Account, [string]$Container, [string]$Subscription, [string]$ResourceGroup, [string]$Location,
        [string]$PassphraseFile, [int]$Level, [int]$Threads
    )
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Source = 'sources'; Staging = 'staging'; Job = 'job'; Account = 'account'; Container = 'container'; Subscription = 'subscription'; ResourceGroup = 'resourceGroup'; Location = 'location'; PassphraseFile = 'passphraseFile'; Level = 'level'; Threads = 'threads' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'stage' -Params $params -Cmdlet $PSCmdlet -Activity "Staging $($Source -join ', ')") 'stage'
    }
}

function Initialize-DriveSeedDrive {
    <# .SYNOPSIS Prepares Import/Export drives from the staging repository (RPC "prep"); -Format erases the targets. #>
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
    <# .SYNOPSIS Creates the Azure import job for the prepared drives (RPC "job.create"). #>
    [CmdletBinding(SupportsShouldProcess)]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [string]$ReturnAddress, [string]$Emulator)
    process {
        if (-not $PSCmdlet.ShouldProcess($Staging, 'Create the Azure import job')) { return }
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; ReturnAddress = 'returnAddress'; Emulator = 'emulator' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'job.create' -Params $params -Cmdlet $PSCmdlet) 'job.create'
    }
}

function Set-DriveSeedShipping {
    <# .SYNOPSIS Records carrier and tracking number and moves the job to Shipping (RPC "ship"). #>
    [CmdletBinding(SupportsShouldProcess)]
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
    <# .SYNOPSIS The import job and each drive's state (RPC "job.get"). #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging)
    process { Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'job.get' -Params @{ staging = $Staging } -Cmdlet $PSCmdlet) 'job.get' }
}

function Test-DriveSeedDrive {
    <# .SYNOPSIS Re-reads prepared drives and checks every block against the manifest (RPC "verify"). #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][Alias('Path')][string[]]$Target)
    begin { $all = [System.Collections.Generic.List[string]]::new() }
    process { foreach ($t in $Target) { $all.Add($t) } }
    end { Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'verify' -Params @{ target = @($all) } -Cmdlet $PSCmdlet -Activity "Verifying $($all -join ', ')") 'verify' }
}

function Get-DriveSeedDisk {
    <# .SYNOPSIS Lists disks; System = $true marks the disk that holds the running system (RPC "drives.list"). #>
    [CmdletBinding()] param()
    $r = Invoke-DriveSeedRpc -Method 'drives.list' -Cmdlet $PSCmdlet
    foreach ($d in $r.disks) { Add-DriveSeedType $d 'disk' }
}

function Get-DriveSeedStatus {
    <# .SYNOPSIS The import job's state, per-drive progress and the blobs the service could not import (RPC "status"). #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$Watch, [double]$Interval, [switch]$NoLogs)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; Watch = 'watch'; Interval = 'interval' }
        if ($NoLogs) { $params['logs'] = $false }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'status' -Params $params -Cmdlet $PSCmdlet -Activity 'Import job status') 'status'
    }
}

function Test-DriveSeedStaging {
    <# .SYNOPSIS Checks the staging repository; -ReadData reads and verifies every chunk (RPC "check"). #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging, [switch]$ReadData, [string]$PassphraseFile, [int]$Threads)
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; ReadData = 'readData'; PassphraseFile = 'passphraseFile'; Threads = 'threads' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'check' -Params $params -Cmdlet $PSCmdlet -Activity "Checking $Staging") 'check'
    }
}

function Get-DriveSeedBitLockerKey {
    <# .SYNOPSIS The BitLocker recovery passwords of the prepared drives, IN CLEAR (RPC "keys.list"); one object per drive. #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging)
    process {
        $r = Invoke-DriveSeedRpc -Method 'keys.list' -Params @{ staging = $Staging } -Cmdlet $PSCmdlet
        foreach ($d in $r.drives) { Add-DriveSeedType $d 'key' }
    }
}

function Complete-DriveSeedImport {
    <# .SYNOPSIS Verifies the imported blobs against the manifests and records that the seed is in place (RPC "complete"). #>
    [CmdletBinding()]
    param([Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging)
    process { Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'complete' -Params @{ staging = $Staging } -Cmdlet $PSCmdlet -Activity 'Verifying the import') 'complete' }
}

function Restore-DriveSeedSnapshot {
    <# .SYNOPSIS Restores a snapshot into a directory (RPC "restore"). #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipelineByPropertyName)][string]$Staging,
        [Parameter(Mandatory)][string]$To, [string]$Snapshot, [string[]]$Include
    )
    process {
        $params = ConvertTo-DriveSeedParams $PSBoundParameters @{ Staging = 'staging'; To = 'to'; Snapshot = 'snapshot'; Include = 'include' }
        Add-DriveSeedType (Invoke-DriveSeedRpc -Method 'restore' -Params $params -Cmdlet $PSCmdlet -Activity "Restoring to $To") 'restore'
    }
}

Export-ModuleMember -Function Start-DriveSeedStage, Initialize-DriveSeedDrive, New-DriveSeedImportJob, Set-DriveSeedShipping,
    Get-DriveSeedJob, Test-DriveSeedDrive, Get-DriveSeedDisk, Complete-DriveSeedImport, Restore-DriveSeedSnapshot, Stop-DriveSeedServer,
    Get-DriveSeedStatus, Test-DriveSeedStaging, Get-DriveSeedBitLockerKey
