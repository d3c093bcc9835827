#!/bin/sh
# `driveseed` run from this source tree through tsx, for the PowerShell suites: the uvu side points
# $DRIVESEED_EXE here, so the module's `driveseed rpc` is the code under test, built or not.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec node --require "$ROOT/node_modules/tsx/dist/cjs/index.cjs" "$ROOT/src/cli/main.ts" "$@"
