# The documented PowerShell pipeline, end to end, on two loop disks and the emulator:
#   stage -> prep (-Format -Encryption none -NoJob) -> job create -> ship -> (emulator delivers the
#   drives) -> status -Watch -> complete -> backup
# with -WhatIf on the real disks first (nothing may be written). Run by
# test/powershell-pipeline.test.ts, which attaches the disks and starts the emulator:
#   DS_MODULE, DS_WORK, DS_SOURCE, DS_PASSPHRASE_FILE  as in Module.Tests.ps1
#   DS_DISK_A, DS_DISK_B   loop devices (whole disks; prep partitions and formats them)
#   DS_EMULATOR            the emulator's ARM endpoint;  DS_RETURN_ADDRESS  the return address file
#   DS_JOB                 the job name;  DS_SUBSCRIPTION  the subscription id
# One JSON line per case on stdout (Harness.ps1). A step whose predecessor failed fails saying so.

. (Join-Path $PSScriptRoot 'Harness.ps1')

Import-Module $env:DS_MODULE -Force
$staging = Join-Path $env:DS_WORK 'staging'
$disks = @($env:DS_DISK_A, $env:DS_DISK_B)
$state = @{}

function Read-Head([string]$Device, [int]$Bytes = 1MB) {
    $fs = [System.IO.File]::OpenRead($Device)
    try {
        $buf = [byte[]]::new($Bytes)
        $n = 0
        while ($n -lt $Bytes) { $r = $fs.Read($buf, $n, $Bytes - $n); if ($r -le 0) { break }; $n += $r }
        $buf
    } finally { $fs.Dispose() }
}

function Assert-Step([string]$Name) { if (-not $state.ContainsKey($Name)) { throw "needs the '$Name' step, which failed" } }

Test-Case 'pipeline: Start-DriveSeedStage stages the source and records the job settings' {
    $r = Start-DriveSeedStage -Source $env:DS_SOURCE -Staging $staging -Job $env:DS_JOB -Account devstoreaccount1 -Container seed `
        -Subscription $env:DS_SUBSCRIPTION -ResourceGroup pwsh-rg -Location westus -PassphraseFile $env:DS_PASSPHRASE_FILE
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.stage') 'a stage result'
    Assert-Equal $staging $r.staging
    $state.stage = $r
}

Test-Case 'pipeline: Initialize-DriveSeedDrive -Format -WhatIf on the loop disks sends nothing and writes nothing' {
    Assert-Step 'stage'
    $before = @($disks | ForEach-Object { [Convert]::ToBase64String([System.Security.Cryptography.SHA256]::HashData((Read-Head $_))) })
    $next = & (Get-Module DriveSeed) { $script:NextId }
    $out = @($state.stage | Initialize-DriveSeedDrive -Target $disks -Format -Encryption none -NoJob -WhatIf)
    Assert-Equal 0 $out.Count 'no result'
    Assert-Equal $next (& (Get-Module DriveSeed) { $script:NextId }) 'no request'
    $after = @($disks | ForEach-Object { [Convert]::ToBase64String([System.Security.Cryptography.SHA256]::HashData((Read-Head $_))) })
    Assert-Equal $before $after 'the first MiB of each disk is unchanged'
    Assert-True (-not (Test-Path (Join-Path $staging '.prep' 'drives.json'))) 'no drive records'
}

Test-Case 'pipeline: stage result | Initialize-DriveSeedDrive -Format -Encryption none -NoJob -Confirm:$false prepares both disks' {
    Assert-Step 'stage'
    $r = $state.stage | Initialize-DriveSeedDrive -Target $disks -Format -Encryption none -NoJob -Confirm:$false
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.prep') 'a prep result'
    Assert-Equal 2 @($r.drives).Count
    Assert-True (@($r.drives | Where-Object { $_.verified -eq $true }).Count -eq 2) 'both drives verified'
    Assert-Equal 'none' ([string]$r.encryption)
    $state.prep = $r
}

Test-Case 'pipeline: prep result | New-DriveSeedImportJob creates the job on the emulator' {
    Assert-Step 'prep'
    $r = $state.prep | New-DriveSeedImportJob -ReturnAddress $env:DS_RETURN_ADDRESS -Emulator $env:DS_EMULATOR
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.job.create') 'a job.create result'
    Assert-Match ($r | ConvertTo-Json -Depth 6 -Compress) ([regex]::Escape($env:DS_JOB))
    $state.job = $r
}

Test-Case 'pipeline: Set-DriveSeedShipping -Confirm:$false records carrier and tracking number' {
    Assert-Step 'job'
    $r = Set-DriveSeedShipping -Staging $staging -Carrier FedEx -Tracking 123456789012 -Confirm:$false
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.ship') 'a ship result'
    Assert-Match ($r | ConvertTo-Json -Depth 6 -Compress) '123456789012'
    $state.ship = $r
}

Test-Case 'pipeline: the emulator receives both drives; Get-DriveSeedStatus -Watch follows the import to Completed' {
    Assert-Step 'ship'
    foreach ($d in $disks) {
        $out = & $env:DRIVESEED_EXE --json emulator deliver --job $env:DS_JOB --drive $d --emulator $env:DS_EMULATOR 2>&1
        if ($LASTEXITCODE -ne 0) { throw "emulator deliver $d exited $LASTEXITCODE`: $($out -join ' ')" }
    }
    $r = Get-DriveSeedStatus -Staging $staging -Watch -Interval 0.5
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.status') 'a status result'
    Assert-Equal 'Completed' ([string]$r.job.status) ($r | ConvertTo-Json -Depth 6 -Compress)
    Assert-True $r.terminal 'the watch ended on a final status'
    $state.status = $r
}

Test-Case 'pipeline: Complete-DriveSeedImport verifies every imported blob' {
    Assert-Step 'status'
    $r = Complete-DriveSeedImport -Staging $staging -Confirm:$false
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.complete') 'a complete result'
    Assert-True ($r.blobs -gt 0) 'blobs verified'
    $state.complete = $r
}

Test-Case 'pipeline: Start-DriveSeedBackup backs a changed source up over the network' {
    Assert-Step 'complete'
    Set-Content -LiteralPath (Join-Path $env:DS_SOURCE 'changed-after-seed.txt') -Value ('new data ' * 1000)
    $r = Start-DriveSeedBackup -Source $env:DS_SOURCE -Staging $staging -PassphraseFile $env:DS_PASSPHRASE_FILE -Confirm:$false
    Assert-True ($r.PSObject.TypeNames -contains 'DriveSeed.backup') 'a backup result'
    Assert-Match ([string]$r.snapshot) '^[0-9a-f]{64}$'
}

Stop-DriveSeedServer
