/**
 * The Azure SDK packages, loaded on first use. Every command module is imported when the CLI starts,
 * and these three packages cost ~140 ms of module loading (measured 2026-11-24: `driveseed version`
 * 0.23 s → 0.11 s without them), which stage, restore and check — commands that never talk to
 * Azure — should not pay. Import types with `import type`; reach values through `sdk`.
 */
import type * as StorageBlob from '@azure/storage-blob';
import type * as Identity from '@azure/identity';
import type * as DataBox from '@azure/arm-databox';

export const sdk = {
  get blob(): typeof StorageBlob {
    return require('@azure/storage-blob') as typeof StorageBlob;
  },
  get identity(): typeof Identity {
    return require('@azure/identity') as typeof Identity;
  },
  get dataBox(): typeof DataBox {
    return require('@azure/arm-databox') as typeof DataBox;
  },
};
