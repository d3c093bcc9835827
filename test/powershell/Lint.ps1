# Static check of every PowerShell file in the repository (.ps1, .psm1, .psd1), in place of
# PSScriptAnalyzer, which the package registries reachable here do not serve:
#   - PowerShell's own parser ([System.Management.Automation.Language.Parser]::ParseFile): no errors
#   - .psd1: a data file that Import-PowerShellDataFile reads (no code)
#   - no Invoke-Expression (a string run as code), no Write-Host in scripts/ (cmdlets return objects)
#   - scripts/ and the generated scripts: nothing Windows PowerShell 5.1 lacks (Compat51.ps1)
# One case per file on stdout (Harness.ps1). Arguments: the repository root, and optionally a folder
# of generated .ps1 files (the scripts src/prep/powershell-scripts.ts and src/core/drives.ts send to PowerShell,
# written out by the caller), checked the same way.
param([Parameter(Mandatory)][string]$Root, [string]$Generated)

. (Join-Path $PSScriptRoot 'Harness.ps1')
. (Join-Path $PSScriptRoot 'Compat51.ps1')

$skip = '[\\/](node_modules|\.git|dist|build|prebuilds)[\\/]'
$files = Get-ChildItem -LiteralPath $Root -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
    Where-Object { $_.FullName -notmatch $skip } | Sort-Object FullName

foreach ($f in $files) {
    $rel = [System.IO.Path]::GetRelativePath($Root, $f.FullName).Replace('\', '/')
    Test-Case "$rel parses without errors and passes the rules" {
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($f.FullName, [ref]$tokens, [ref]$errors)
        if ($errors.Count -gt 0) {
            throw ($errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message) [$($_.ErrorId)]" }) -join '; '
        }
        if ($f.Extension -eq '.psd1') { $null = Import-PowerShellDataFile -LiteralPath $f.FullName }
        $commands = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandAst] }, $true)
        $iex = @($commands | Where-Object { $_.GetCommandName() -in 'Invoke-Expression', 'iex' })
        if ($iex.Count) { throw "Invoke-Expression at line $($iex[0].Extent.StartLineNumber)" }
        if ($rel -like 'scripts/*') {
            $host_ = @($commands | Where-Object { $_.GetCommandName() -eq 'Write-Host' })
            if ($host_.Count) { throw "Write-Host at line $($host_[0].Extent.StartLineNumber): return objects or use Write-Verbose/Write-Information" }
            $ps7 = @(Get-Ps7OnlyUse -Ast $ast)
            if ($ps7.Count) { throw "not in Windows PowerShell 5.1: $($ps7 -join '; ')" }
        }
    }
}

$generatedFiles = if ($Generated) { @(Get-ChildItem -LiteralPath $Generated -File -Filter '*.ps1' | Sort-Object Name | ForEach-Object FullName) } else { @() }
foreach ($g in $generatedFiles) {
    Test-Case "generated $([System.IO.Path]::GetFileName($g)) parses and uses nothing Windows PowerShell 5.1 lacks" {
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($g, [ref]$tokens, [ref]$errors)
        if ($errors.Count -gt 0) { throw ($errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" }) -join '; ' }
        $ps7 = @(Get-Ps7OnlyUse -Ast $ast)
        if ($ps7.Count) { throw "not in Windows PowerShell 5.1: $($ps7 -join '; ')" }
    }
}
