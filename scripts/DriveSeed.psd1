@{
    # DriveSeed PowerShell module: a thin client of `driveseed rpc` (docs/protocol.md, docs/powershell.md).
    # Tested under PowerShell 7 (test/powershell/); written for Windows PowerShell 5.1 too.
    RootModule        = 'DriveSeed.psm1'
    ModuleVersion     = '0.1.0'
    GUID              = '5d0f3c1e-8a6b-4f7e-9b2d-1c4a7e9f2b60'
    Author            = 'driveseed contributors'
    Description       = 'Offline seeding for Azure Import/Export: stage, prepare drives, create and track the import job (wraps driveseed rpc).'
    PowerShellVersion = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport = @(
        'Start-DriveSeedStage', 'Initialize-DriveSeedDrive', 'New-DriveSeedImportJob', 'Set-DriveSeedShipping',
        'Get-DriveSeedJob', 'Test-DriveSeedDrive', 'Get-DriveSeedDisk', 'Complete-DriveSeedImport',
        'Restore-DriveSeedSnapshot', 'Stop-DriveSeedServer', 'Get-DriveSeedStatus', 'Test-DriveSeedStaging', 'Get-DriveSeedBitLockerKey',
        'Start-DriveSeedBackup', 'Stop-DriveSeedImportJob', 'Get-DriveSeedSnapshot', 'Repair-DriveSeedImport'
    )
    CmdletsToExport   = @()
    VariablesToExport = @()
    AliasesToExport   = @()
}
