@{
    # Stub of Windows' BitLocker module (test/powershell/stubs/BitLocker/BitLocker.psm1): the
    # manifest lets autoloading find the cmdlets without parsing the module.
    RootModule        = 'BitLocker.psm1'
    ModuleVersion     = '1.0.0.0'
    GUID              = '0ff02bb8-300a-4262-ac08-e06dd810f1b6'
    Description       = 'driveseed test stub of the BitLocker module (Enable-BitLocker, Get-BitLockerVolume, Add-BitLockerKeyProtector)'
    FunctionsToExport = @('Get-BitLockerVolume', 'Enable-BitLocker', 'Add-BitLockerKeyProtector')
    CmdletsToExport   = @()
    VariablesToExport = @()
    AliasesToExport   = @()
}
