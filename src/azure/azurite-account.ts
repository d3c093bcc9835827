/**
 * Azurite's well-known development storage account: the name and key Microsoft publishes for the
 * storage emulator. Public, so not a secret, but every user of it wraps the key in a Secret all the
 * same, so that code paths that print credentials are exercised as they are with real keys. The one
 * definition for the cloud client (settings that point at a local Azurite), the test Azurite and the
 * emulator.
 */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
