# What Windows PowerShell 5.1 cannot run, found in a script's syntax tree. The tests run scripts
# under PowerShell 7, which accepts all of it; powershell.exe (5.1) is what the Windows prep path
# runs by default and what many admins import the module into, so scripts/ and the scripts
# src/prep/powershell-scripts.ts builds must not use it. Dot-source this file, then:
#   Get-Ps7OnlyUse -Ast $ast   -> one string per use: "line N: what"
#
# Syntax: ?: (ternary), && and || between pipelines, ??, ??=, ?. and ?[]. Cmdlet parameters that
# 5.1 lacks, for the cmdlets these scripts use: ForEach-Object -Parallel, ConvertFrom-Json
# -AsHashtable/-Depth/-NoEnumerate, ConvertTo-Json -EnumsAsStrings/-AsArray, ConvertFrom-SecureString
# -AsPlainText, Join-Path -AdditionalChildPath (or a third positional path), Get-Content/Set-Content/
# Out-File/Add-Content -Encoding utf8NoBOM/utf8BOM, and the 7-only cmdlets Get-Error, Test-Json,
# Start-ThreadJob and ForEach-Object -Parallel.

function Get-Ps7OnlyUse {
    param([Parameter(Mandatory)][System.Management.Automation.Language.Ast]$Ast)
    $L = [System.Management.Automation.Language.TokenKind]
    $found = [System.Collections.Generic.List[string]]::new()
    $nodes = $Ast.FindAll({ $true }, $true)
    foreach ($n in $nodes) {
        $line = $n.Extent.StartLineNumber
        switch ($n.GetType().Name) {
            'TernaryExpressionAst' { $found.Add("line ${line}: the ?: operator") }
            'PipelineChainAst' { $found.Add("line ${line}: && or || between pipelines") }
            'BinaryExpressionAst' { if ($n.Operator -eq $L::QuestionQuestion) { $found.Add("line ${line}: the ?? operator") } }
            'AssignmentStatementAst' { if ($n.Operator -eq $L::QuestionQuestionEquals) { $found.Add("line ${line}: the ??= operator") } }
            'MemberExpressionAst' { if ($n.NullConditional) { $found.Add("line ${line}: ?. member access") } }
            'InvokeMemberExpressionAst' { if ($n.NullConditional) { $found.Add("line ${line}: ?. method call") } }
            'IndexExpressionAst' { if ($n.NullConditional) { $found.Add("line ${line}: ?[] indexing") } }
            'CommandAst' {
                $name = $n.GetCommandName()
                if (-not $name) { continue }
                $params = @($n.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] } | ForEach-Object { $_.ParameterName })
                $has = { param([string[]]$Names) @($params | Where-Object { $p = $_; $Names | Where-Object { $_ -like "$p*" -and $p.Length -ge 2 } }).Count -gt 0 }
                switch -Regex ($name) {
                    '^(Get-Error|Test-Json|Start-ThreadJob)$' { $found.Add("line ${line}: $name does not exist in 5.1") }
                    '^(ForEach-Object|%|foreach)$' { if (& $has 'Parallel') { $found.Add("line ${line}: ForEach-Object -Parallel") } }
                    '^ConvertFrom-Json$' { if (& $has 'AsHashtable', 'Depth', 'NoEnumerate') { $found.Add("line ${line}: ConvertFrom-Json -$($params -join ' -')") } }
                    '^ConvertTo-Json$' { if (& $has 'EnumsAsStrings', 'AsArray') { $found.Add("line ${line}: ConvertTo-Json -$($params -join ' -')") } }
                    '^ConvertFrom-SecureString$' { if (& $has 'AsPlainText') { $found.Add("line ${line}: ConvertFrom-SecureString -AsPlainText") } }
                    '^Join-Path$' {
                        $positional = @($n.CommandElements | Select-Object -Skip 1 | Where-Object { $_ -isnot [System.Management.Automation.Language.CommandParameterAst] })
                        if ((& $has 'AdditionalChildPath') -or $positional.Count -gt 2) { $found.Add("line ${line}: Join-Path with more than one child path") }
                    }
                    '^(Get-Content|Set-Content|Add-Content|Out-File)$' {
                        $text = $n.Extent.Text
                        if ($text -match '-Encoding\s+(utf8NoBOM|utf8BOM)') { $found.Add("line ${line}: $name -Encoding $($Matches[1])") }
                    }
                }
            }
        }
    }
    $found
}
