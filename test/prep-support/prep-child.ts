// Child process for the kill -9 test: prepares <staging> onto <dev> one file per batch.
import { prep } from '../../src/core/prep';
import { silentReporter } from '../../src/base/reporter';

const [staging, dev] = process.argv.slice(2) as [string, string];
prep(
  { staging, targets: [dev], container: 'seed', format: true, yes: true, encryption: 'none', verify: true, batchFiles: 1 },
  { reporter: silentReporter, signal: new AbortController().signal, env: {} },
).then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
