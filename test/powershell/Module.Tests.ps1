# The DriveSeed module under real PowerShell, against the real `driveseed rpc` (the source tree's,
# through $env:DRIVESEED_EXE). Run by test/powershell-pwsh.test.ts, which makes the inputs:
#   DS_MODULE            scripts/DriveSeed.psd1
#   DS_WORK              an empty temp directory for this run
#   DS_SOURCE            a small source tree;  DS_SOURCE_SLOW  64 MiB of poorly compressible data (stage takes seconds at -Level 19 -Threads 1)
#   DS_PASSPHRASE_FILE   a passphrase file;   DS_PASSPHRASE   the same passphrase (for the SecureString cases)
#   DS_KEYS_STAGING      a staging location with a prepared drive whose BitLocker key is DS_KEY
#   DS_PWSH              the pwsh executable (a child PowerShell answers a -Confirm prompt)
# One JSON line per case on stdout (Harness.ps1).

. (Join-Path $PSScriptRoot 'Harness.ps1')

$module = $env:DS_MODULE
$work = $env:DS_WORK
$ChangingCmdlets = 'Start-DriveSeedStage', 'Initialize-DriveSeedDrive', 'New-DriveSeedImportJob', 'Stop-DriveSeedImportJob', 'Set-DriveSeedShipping',
    'Complete-DriveSeedImport', 'Repair-DriveSeedImport', 'Start-DriveSeedBackup', 'Restore-DriveSeedSnapshot'

function Get-ModuleState { & (Get-Module DriveSeed) { [pscustomobject]@{ NextId = $script:NextId; Server = $script:Server } } }

# A fresh runspace with the module imported, for the cases that need to watch streams or stop a
# running command the way Ctrl-C does.
function New-ModuleRunspace {
    $ps = [powershell]::Create()
    $null = $ps.AddScript("Import-Module '$module'").Invoke()
    $ps.Commands.Clear()
    $ps
}

Test-Case 'Test-ModuleManifest passes and the manifest exports exactly the module''s functions' {
    $m = Test-ModuleManifest -Path $module
    Assert-Equal 'DriveSeed' $m.Name
    Import-Module $module -Force
    $fromModule = @((Get-Module DriveSeed).ExportedFunctions.Keys | Sort-Object)
    Assert-Equal @($m.ExportedFunctions.Keys | Sort-Object) $fromModule
    Assert-True ($fromModule.Count -ge 17) "only $($fromModule.Count) exported"
    Assert-True ($fromModule -notcontains 'Invoke-DriveSeedRpc') 'internal helpers stay private'
}

Import-Module $module -Force

Test-Case 'every exported cmdlet uses an approved verb (Get-Verb)' {
    $approved = @(Get-Verb | ForEach-Object Verb)
    $bad = @(Get-Command -Module DriveSeed | Where-Object { $approved -notcontains $_.Verb } | ForEach-Object Name)
    Assert-Equal @() $bad
}

Test-Case 'Get-Help: every exported cmdlet has a synopsis of its own and at least one example that uses it' {
    foreach ($c in Get-Command -Module DriveSeed) {
        $h = Get-Help $c.Name -Full
        Assert-True ($h.Synopsis -and $h.Synopsis -notmatch "^\s*$([regex]::Escape($c.Name))\s") "$($c.Name) has no synopsis (Get-Help shows the syntax instead)"
        $examples = @($h.examples.example)
        Assert-True ($examples.Count -ge 1) "$($c.Name) has no example"
        Assert-True (@($examples | Where-Object { "$($_.code)" -match [regex]::Escape($c.Name) }).Count -ge 1) "$($c.Name): no example runs it"
    }
}

Test-Case 'every cmdlet that changes something supports -WhatIf and -Confirm; erasing and cancelling ones are ConfirmImpact High' {
    foreach ($name in $ChangingCmdlets) {
        $c = Get-Command $name
        Assert-True ($c.Parameters.ContainsKey('WhatIf') -and $c.Parameters.ContainsKey('Confirm')) "$name lacks ShouldProcess"
    }
    foreach ($name in 'Initialize-DriveSeedDrive', 'Stop-DriveSeedImportJob') {
        $binding = (Get-Command $name).ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] }
        Assert-Equal 'High' ([string]$binding.ConfirmImpact) $name
    }
    # the read-only ones do not pretend to change anything
    foreach ($name in 'Get-DriveSeedJob', 'Get-DriveSeedStatus', 'Get-DriveSeedDisk', 'Test-DriveSeedDrive', 'Test-DriveSeedStaging', 'Get-DriveSeedSnapshot', 'Get-DriveSeedBitLockerKey') {
        Assert-True (-not (Get-Command $name).Parameters.ContainsKey('WhatIf')) "$name is read-only but has -WhatIf"
    }
}

Test-Case '-WhatIf: no cmdlet that changes something sends a request, starts the server or creates its staging/target' {
    $staging = Join-Path $work 'whatif-staging'
    $to = Join-Path $work 'whatif-restore'
    $before = (Get-ModuleState).NextId
    $said = @(
        Start-DriveSeedStage -Source $env:DS_SOURCE -Staging $staging -Job whatif -PassphraseFile $env:DS_PASSPHRASE_FILE -WhatIf
        Initialize-DriveSeedDrive -Staging $staging -Target '/dev/loop99' -Format -WhatIf
        New-DriveSeedImportJob -Staging $staging -WhatIf
        Stop-DriveSeedImportJob -Staging $staging -WhatIf
        Set-DriveSeedShipping -Staging $staging -Carrier FedEx -Tracking 123456789012 -WhatIf
        Complete-DriveSeedImport -Staging $staging -WhatIf
        Repair-DriveSeedImport -Staging $staging -Full -WhatIf
        Start-DriveSeedBackup -Source $env:DS_SOURCE -Staging $staging -WhatIf
        Restore-DriveSeedSnapshot -Staging $staging -To $to -WhatIf
    )
    Assert-Equal 0 $said.Count 'no output objects'
    Assert-Equal $before (Get-ModuleState).NextId 'no request id was used'
    Assert-True ($null -eq (Get-ModuleState).Server) 'the server was not even started'
    Assert-True (-not (Test-Path $staging) -and -not (Test-Path $to)) 'nothing was created'
}

Test-Case '-Confirm: answering No at the prompt sends nothing; the prompt names the target and the erase' {
    $psi = [System.Diagnostics.ProcessStartInfo]::new($env:DS_PWSH)
    foreach ($a in '-NoProfile', '-Command', "Import-Module '$module'; Initialize-DriveSeedDrive -Staging '$work/confirm' -Target /dev/loop98 -Format -Confirm; 'NextId=' + (& (Get-Module DriveSeed) { `$script:NextId })") { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
    $p = [System.Diagnostics.Process]::Start($psi)
    $p.StandardInput.WriteLine('N'); $p.StandardInput.Close()
    $out = $p.StandardOutput.ReadToEnd()
    Assert-True ($p.WaitForExit(60000)) 'the child pwsh ended'
    Assert-Match $out 'Erase, format NTFS and write the staging data'
    Assert-Match $out '/dev/loop98'
    Assert-Match $out 'NextId=0'
}

$staging = Join-Path $work 'staging'

Test-Case 'Start-DriveSeedStage: a DriveSeed.stage result whose Staging binds by name into the next cmdlet; passphrase from a SecureString never in any stream' {
    $secure = ConvertTo-SecureString -String $env:DS_PASSPHRASE -AsPlainText -Force
    $r = Start-DriveSeedStage -Source $env:DS_SOURCE -Staging $staging -Job pwsh-suite -Account devstoreaccount1 -Container seed -Passphrase $secure -Verbose 4>&1 3>&1
    $result = @($r | Where-Object { $_ -is [psobject] -and $_.PSObject.TypeNames -contains 'DriveSeed.stage' })
    Assert-Equal 1 $result.Count 'one result object'
    Assert-Equal $staging $result[0].staging
    Assert-Match $result[0].snapshot '^[0-9a-f]{64}$'
    $everything = ($r | ForEach-Object { if ($_ -is [string] -or $_ -is [System.Management.Automation.InformationalRecord]) { "$_" } else { $_ | ConvertTo-Json -Depth 10 -Compress } }) -join "`n"
    Assert-True (-not $everything.Contains($env:DS_PASSPHRASE)) 'the passphrase is not in the output, verbose or warning streams'
    $checked = $result[0] | Test-DriveSeedStaging -Passphrase $secure
    Assert-True ($checked.PSObject.TypeNames -contains 'DriveSeed.check') 'Test-DriveSeedStaging took Staging from the pipeline'
    $snaps = @($result[0] | Get-DriveSeedSnapshot -Passphrase $secure)
    Assert-Equal 1 $snaps.Count 'one snapshot object'
    Assert-Equal $result[0].snapshot $snaps[0].id 'the staged snapshot'
}

Test-Case 'Write-Progress records while stage runs: activity names the source, percent and status move, and a Completed record ends it' {
    $ps = New-ModuleRunspace
    try {
        $null = $ps.AddCommand('Start-DriveSeedStage').AddParameter('Source', $env:DS_SOURCE_SLOW).AddParameter('Staging', (Join-Path $work 'progress-staging')).AddParameter('Job', 'progress').AddParameter('PassphraseFile', $env:DS_PASSPHRASE_FILE).AddParameter('Level', 19).AddParameter('Threads', 1)
        $out = $ps.Invoke()
        Assert-Equal 0 $ps.Streams.Error.Count "errors: $($ps.Streams.Error | Out-String)"
        Assert-Equal 1 @($out).Count
        $records = @($ps.Streams.Progress | Where-Object { $_.ActivityId -eq 1 })
        Assert-True ($records.Count -ge 3) "only $($records.Count) progress records"
        Assert-Match $records[0].Activity ([regex]::Escape("Staging $($env:DS_SOURCE_SLOW)"))
        $running = @($records | Where-Object { $_.RecordType -eq 'Processing' })
        Assert-True ($running.Count -ge 2) 'progress while it runs'
        Assert-Match $running[-1].StatusDescription '^\w.*: [\d.]+ MiB'
        Assert-True (@($running | Where-Object { $_.PercentComplete -ge 0 }).Count -ge 1) 'a percentage is shown'
        Assert-Equal 'Completed' ([string]$records[-1].RecordType) 'the bar is closed at the end'
    } finally { $ps.Dispose() }
}

Test-Case 'errors are ErrorRecords: FullyQualifiedErrorId carries the driveseed code, the category fits, data in Exception.Data; the session goes on' {
    $e = Assert-Throws { Start-DriveSeedStage -Source (Join-Path $work 'no-such-dir') -Staging (Join-Path $work 'err-staging') -Job err -PassphraseFile $env:DS_PASSPHRASE_FILE }
    Assert-Match $e.FullyQualifiedErrorId '^[A-Z][A-Z_]+,Start-DriveSeedStage$'
    $code = $e.FullyQualifiedErrorId.Split(',')[0]
    Assert-Equal $code ([string]$e.Exception.Data['DriveSeed'].code) 'the code is error.data.code'
    Assert-Equal 'InvalidArgument' ([string]$e.CategoryInfo.Category) "a usage error ($code)"
    Assert-Match $e.Exception.Message 'no-such-dir'

    $e = Assert-Throws { Initialize-DriveSeedDrive -Staging $staging -Target (Join-Path $work 'no-such-disk') -NoJob -Confirm:$false }
    Assert-Match $e.FullyQualifiedErrorId '^TARGET_[A-Z_]+,Initialize-DriveSeedDrive$'
    Assert-Equal 'ResourceBusy' ([string]$e.CategoryInfo.Category) 'a refused target'

    $e = Assert-Throws { Get-DriveSeedJob -Staging (Join-Path $work 'never-staged') }
    Assert-Match $e.FullyQualifiedErrorId '^[A-Z][A-Z_]+,Get-DriveSeedJob$'

    # the same session answers the next request in step
    $r = Test-DriveSeedStaging -Staging $staging -PassphraseFile $env:DS_PASSPHRASE_FILE
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.check') 'still in step after errors'
}

Test-Case 'Get-DriveSeedBitLockerKey: each key is a SecureString; the output serialises without it' {
    $keys = @(Get-DriveSeedBitLockerKey -Staging $env:DS_KEYS_STAGING)
    Assert-True ($keys.Count -ge 1) 'keys listed'
    foreach ($k in $keys) {
        Assert-True ($k.bitLockerKey -is [securestring]) 'a SecureString'
        Assert-Equal $env:DS_KEY ([System.Net.NetworkCredential]::new('', $k.bitLockerKey).Password) 'the right key inside'
    }
    $text = ($keys | ConvertTo-Json -Depth 5) + ($keys | Format-List * | Out-String)
    Assert-True (-not $text.Contains($env:DS_KEY)) 'the key is not in the serialised or formatted output'
}

Test-Case 'Ctrl-C (pipeline stop) during stage: $/cancelRequest, the cancelled answer is read, the same server answers the next request' {
    $ps = New-ModuleRunspace
    try {
        $slowStaging = Join-Path $work 'cancel-staging'
        $null = $ps.AddCommand('Start-DriveSeedStage').AddParameter('Source', $env:DS_SOURCE_SLOW).AddParameter('Staging', $slowStaging).AddParameter('Job', 'cancel').AddParameter('PassphraseFile', $env:DS_PASSPHRASE_FILE).AddParameter('Level', 19).AddParameter('Threads', 1)
        $async = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($ps.Streams.Progress.Count -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        Assert-True (-not $async.IsCompleted) 'stage was still running when stopped'
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        Assert-True ($sw.Elapsed.TotalSeconds -lt 20) "the stop took $($sw.Elapsed.TotalSeconds) s"
        Assert-Equal 'Stopped' ([string]$ps.InvocationStateInfo.State)
        $ps.Commands.Clear()
        $state = $ps.AddScript('& (Get-Module DriveSeed) { [pscustomobject]@{ Alive = -not $script:Server.Process.HasExited; Pid = $script:Server.Process.Id; NextId = $script:NextId } }').Invoke()[0]
        Assert-True $state.Alive 'the server is still running'
        Assert-Equal 1 $state.NextId
        $ps.Commands.Clear()
        $r = $ps.AddCommand('Get-DriveSeedDisk').Invoke()
        Assert-Equal 0 $ps.Streams.Error.Count "the next request failed: $($ps.Streams.Error | Out-String)"
        $ps.Commands.Clear()
        $after = $ps.AddScript('& (Get-Module DriveSeed) { $script:Server.Process.Id; $script:NextId }').Invoke()
        Assert-Equal @($state.Pid, 2) @($after) 'same server, next id'
        # the cancelled stage is resumable: running it again completes
        $ps.Commands.Clear()
        $done = $ps.AddCommand('Start-DriveSeedStage').AddParameter('Source', $env:DS_SOURCE_SLOW).AddParameter('Staging', $slowStaging).AddParameter('Job', 'cancel').AddParameter('PassphraseFile', $env:DS_PASSPHRASE_FILE).AddParameter('Threads', 2).Invoke()
        Assert-Equal 1 @($done).Count "rerun: $($ps.Streams.Error | Out-String)"
        $ps.Commands.Clear()
        $null = $ps.AddCommand('Stop-DriveSeedServer').Invoke()
        Assert-True ($null -eq (Get-Process -Id $state.Pid -ErrorAction SilentlyContinue) -or (Get-Process -Id $state.Pid).HasExited) 'Stop-DriveSeedServer ended the server'
    } finally { $ps.Dispose() }
}

Test-Case 'Ctrl-C while the server is quiet (no line for seconds): $/cancelRequest goes out at once and the request ends' {
    $ps = New-ModuleRunspace
    try {
        $null = $ps.AddCommand('Get-DriveSeedDisk').Invoke()   # the server is up before the clock starts
        $claim = Join-Path $work 'quiet-claim'
        # test.slow (registered with DRIVESEED_TEST_COMMANDS) reports a step every 8 s and nothing in
        # between, and holds a claim on -target until it ends: a second one on the same target is
        # refused (TARGET_BUSY) unless the first was cancelled
        $slow = '& (Get-Module DriveSeed) {{ function Invoke-Slow {{ [CmdletBinding()] param() Invoke-DriveSeedRpc -Method ''test.slow'' -Params @{{ steps = {0}; delayMs = {1}; target = ''{2}'' }} -Cmdlet $PSCmdlet }}; Invoke-Slow }}'
        $ps.Commands.Clear()
        $async = $ps.AddScript(($slow -f 2, 8000, $claim)).BeginInvoke()
        Start-Sleep -Milliseconds 1500   # the request is sent and waits for its first step
        # (no stream is enumerated while the invocation runs: enumerating its collections waits for the end)
        Assert-True (-not $async.IsCompleted) 'test.slow ended early'
        $sw = [System.Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $ps.Commands.Clear()
        $null = $ps.AddScript(($slow -f 1, 10, $claim)).Invoke()
        Assert-Equal 0 $ps.Streams.Error.Count "the same target right after the stop: $($ps.Streams.Error | Out-String)"
        Assert-True ($sw.Elapsed.TotalSeconds -lt 4) "the cancel took $($sw.Elapsed.TotalSeconds) s: it waited for the server's next line"
    } finally { $ps.Dispose() }
}

Test-Case 'Stop-Job on a background stage: the job stops and its driveseed rpc process is gone' {
    $job = Start-Job -ScriptBlock {
        param($module, $source, $staging, $pass)
        Import-Module $module
        $null = Get-DriveSeedDisk   # starts the server
        "PID=$(& (Get-Module DriveSeed) { $script:Server.Process.Id })"
        Start-DriveSeedStage -Source $source -Staging $staging -Job stopjob -PassphraseFile $pass -Level 19 -Threads 1
    } -ArgumentList $module, $env:DS_SOURCE_SLOW, (Join-Path $work 'stopjob-staging'), $env:DS_PASSPHRASE_FILE
    try {
        $serverPid = $null
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not $serverPid -and [DateTime]::UtcNow -lt $deadline) {
            foreach ($o in @(Receive-Job $job)) { if ("$o" -match '^PID=(\d+)$') { $serverPid = [int]$Matches[1] } }
            Start-Sleep -Milliseconds 100
        }
        Assert-True $serverPid "the job reported its server pid (job state $($job.State))"
        Start-Sleep -Milliseconds 1500   # stage is under way
        Assert-Equal 'Running' ([string]$job.State)
        Stop-Job $job
        Assert-Equal 'Stopped' ([string]$job.State)
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-Process -Id $serverPid -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        Assert-True (-not (Get-Process -Id $serverPid -ErrorAction SilentlyContinue)) "driveseed rpc ($serverPid) is still running"
    } finally { Remove-Job $job -Force }
}

Test-Case 'Remove-Module ends the session''s server' {
    $null = Get-DriveSeedDisk
    $serverPid = (Get-ModuleState).Server.Process.Id
    Remove-Module DriveSeed
    Assert-True (-not (Get-Process -Id $serverPid -ErrorAction SilentlyContinue)) "driveseed rpc ($serverPid) survived Remove-Module"
}
