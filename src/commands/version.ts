/** `driveseed version` / RPC `version`: versions of driveseed, the protocol, Node and the native addon. */
import { defineCommand } from '../core/command';
import { type VersionInfo, versionInfo } from '../core/version';

export const versionCommand = defineCommand<Record<string, unknown>, Record<string, never>, VersionInfo>({
  name: 'version',
  rpcMethod: 'version',
  summary: 'Show the versions of driveseed, its RPC protocol, Node and the native addon (and, on Windows, the PowerShell prep runs)',
  options: [],
  cook: () => ({}),
  run: async () => versionInfo(),
  renderText: (v) =>
    [
      `driveseed ${v.driveseed} (protocol ${v.protocol})`,
      `node ${v.node}, Node-API ${v.napi ?? 'unknown'}, ${v.platform}-${v.arch}`,
      v.native.loaded ? `native addon: loaded (ABI ${v.native.abiVersion})` : `native addon: NOT loaded (${v.native.code})\n${v.native.message}`,
      ...(v.powershell
        ? [
            `PowerShell for Windows prep: ${v.powershell.file}${v.powershell.from === 'DRIVESEED_POWERSHELL' ? ' (DRIVESEED_POWERSHELL)' : ''}, ${v.powershell.version ? `version ${v.powershell.version}` : `NOT usable: ${v.powershell.error ?? 'no version'}`}`,
          ]
        : []),
    ].join('\n'),
});
