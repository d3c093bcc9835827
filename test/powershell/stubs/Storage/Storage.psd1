@{
    # Stub of Windows' Storage module (test/powershell/stubs/Storage/Storage.psm1): the manifest lets
    # autoloading find the cmdlets without parsing the module, as it finds the real one's.
    RootModule        = 'Storage.psm1'
    ModuleVersion     = '2.0.0.0'
    GUID              = '41486f7d-842f-40f1-acbf-b7d3a3c7b5f9'
    Description       = 'driveseed test stub of the Storage module (Get-Disk, Initialize-Disk, New-Partition, Format-Volume, ...)'
    FunctionsToExport = @('Get-Disk', 'Get-Partition', 'Get-Volume', 'Initialize-Disk', 'Clear-Disk', 'New-Partition', 'Format-Volume', 'Add-PartitionAccessPath')
    CmdletsToExport   = @()
    VariablesToExport = @()
    AliasesToExport   = @()
}
