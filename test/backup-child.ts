// A backup in its own process, for the kill -9 test (test/backup-faults.test.ts). Not a test file.
import { backup } from '../src/core/backup';
import { PASS, ctxWith } from './backup-helpers';

const [src, staging] = process.argv.slice(2);
backup({ sources: [src!], staging: staging!, passphrase: { kind: 'param', secret: PASS }, forceUnlock: false, level: 3, threads: 2 }, ctxWith()).then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
