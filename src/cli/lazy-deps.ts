/**
 * Start-up cost: the Azure SDK packages are loaded on first use, not when the command registry is
 * imported. Every command module is imported at start-up (src/cli/commands/index.ts), and three of
 * them reach `@azure/storage-blob` (96 ms), `@azure/identity` (43 ms) and the ARM client through
 * src/azure/* and src/cloud/client.ts — 140 of the 185 ms that `driveseed version` spent loading
 * modules (measured 2026-11-24), paid by stage, restore and check, which never talk to Azure.
 *
 * How: `require()` of one of these names returns a stand-in whose first property access loads the real
 * package. TypeScript's CommonJS output only reads those exports at call time
 * (`storage_blob_1.ContainerClient`), so callers see the real classes and `instanceof` works. Only
 * packages whose exports are all read at call time belong in the list. Imported first by main.ts.
 */
import Module = require('node:module');

const LAZY = new Set(['@azure/storage-blob', '@azure/identity', '@azure/arm-storageimportexport']);

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const mod = Module as unknown as { _load: Loader & { driveseedLazy?: true } };

if (!mod._load.driveseedLazy) {
  const load = mod._load;
  const standIns = new Map<string, object>();
  const lazyLoad: Loader & { driveseedLazy?: true } = function (this: unknown, request, parent, isMain) {
    if (!LAZY.has(request)) return load.call(this, request, parent, isMain);
    let standIn = standIns.get(request);
    if (!standIn) {
      let real: object | undefined;
      const get = (): object => (real ??= load.call(mod, request, parent, isMain) as object);
      standIn = new Proxy(
        {},
        {
          get: (_t, key) => Reflect.get(get(), key),
          has: (_t, key) => Reflect.has(get(), key),
          ownKeys: () => Reflect.ownKeys(get()),
          getOwnPropertyDescriptor: (_t, key) => {
            const d = Reflect.getOwnPropertyDescriptor(get(), key);
            return d && { ...d, configurable: true };  // a proxy may not report a non-configurable key its target lacks
          },
        },
      );
      standIns.set(request, standIn);
    }
    return standIn;
  };
  lazyLoad.driveseedLazy = true;
  mod._load = lazyLoad;
}
