# A small test harness for the PowerShell suites. Pester is served as a NuGet package here (not from
# the PowerShell Gallery, which is unreachable), but it would be one more download for setup and CI,
# and the uvu bridge needs only one JSON line per case, which this prints. Dot-source it, then:
#
#   Test-Case 'what it shows' { Assert-Equal 3 (1 + 2) }
#   Test-Case 'needs X' -Skip 'why it cannot run here' { … }
#
# Each case prints ONE line on stdout, {"case": title, "ok": bool, "error"?: text, "at"?: line,
# "skip"?: why, "ms": n}, which test/powershell-pwsh.test.ts turns into one uvu test each, so the
# suite's own counts appear in the `N passed, N failed` total. A case fails when its script block
# throws (any terminating error, or an Assert-*). Output of the script block is discarded.

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

function Write-CaseLine([System.Collections.IDictionary]$Line) {
    [Console]::Out.WriteLine(($Line | ConvertTo-Json -Compress -Depth 3))
    [Console]::Out.Flush()
}

function Test-Case {
    param([Parameter(Mandatory, Position = 0)][string]$Name, [Parameter(Mandatory, Position = 1)][scriptblock]$Body, [string]$Skip)
    if ($Skip) { Write-CaseLine ([ordered]@{ case = $Name; ok = $true; skip = $Skip; ms = 0 }); return }
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $null = & $Body
        Write-CaseLine ([ordered]@{ case = $Name; ok = $true; ms = $sw.ElapsedMilliseconds })
    } catch {
        $at = if ($_.InvocationInfo) { "$($_.InvocationInfo.ScriptName):$($_.InvocationInfo.ScriptLineNumber)" } else { '' }
        Write-CaseLine ([ordered]@{ case = $Name; ok = $false; error = "$($_.Exception.Message) [$($_.FullyQualifiedErrorId)]"; at = $at; ms = $sw.ElapsedMilliseconds })
    }
}

function Assert-True($Condition, [string]$Message = 'expected true') {
    if (-not $Condition) { throw "Assert-True: $Message" }
}

function Assert-Equal($Expected, $Actual, [string]$Message = '') {
    $e = $Expected | ConvertTo-Json -Compress -Depth 5
    $a = $Actual | ConvertTo-Json -Compress -Depth 5
    if ($e -cne $a) { throw "Assert-Equal: expected $e but got $a $Message" }
}

function Assert-Match([string]$Text, [string]$Pattern, [string]$Message = '') {
    if ($Text -notmatch $Pattern) { throw "Assert-Match: '$Text' does not match /$Pattern/ $Message" }
}

# Runs the script block and returns the ErrorRecord it ends with; fails when it does not throw.
function Assert-Throws([scriptblock]$Body) {
    try { $null = & $Body } catch { return $_ }
    throw 'Assert-Throws: no error was thrown'
}
