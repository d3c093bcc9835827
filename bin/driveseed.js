#!/usr/bin/env node
// The installed entry point: runs the compiled CLI (dist/cli/main.js, from `npm run build`).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    `error: driveseed is not built: ${entry} is missing.\n` +
      'Fix: run `npm run build` in the driveseed directory (or `npm run build:ts` for the TypeScript part only). [NOT_BUILT]\n',
  );
  process.exit(70);
}
const { main, exitAfterFlush } = require(entry);
main().then(exitAfterFlush, (e) => {
  process.stderr.write(`error: ${e?.message ? e.message : e} [INTERNAL]\n`);
  process.exit(70);
});
