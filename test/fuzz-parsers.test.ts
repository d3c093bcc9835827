// Fuzzing of the TypeScript readers of untrusted input (test/fuzz/targets.ts), the short run CI
// does: every committed regression input replayed, then each target for a fixed number of inputs
// from a fixed seed (deterministic; a failure names the input). The long run: scripts/fuzz-ts.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriveseedError } from '../src/base/errors';
import { contractBreach, typedOnly } from './fuzz/harness';
import { TARGETS, asInput, regressions, runTarget, seedDocuments } from './fuzz/targets';

/** Inputs per target in CI (a fixed seed, so the same inputs every run). */
const RUNS = Number(process.env.DRIVESEED_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.DRIVESEED_FUZZ_SEED ?? 20261205);

test.before(async () => {
  await seedDocuments();
});

for (const name of Object.keys(TARGETS)) {
  test(`${name}: ${TARGETS[name]!.about}`, async () => {
    for (const r of regressions(name)) {
      try {
        await TARGETS[name]!.check(asInput(name, r.input, r.file));
      } catch (e) {
        assert.unreachable(`regression ${r.file}: ${(e as Error).message}`);
      }
    }
    const report = await runTarget(name, { numRuns: RUNS, seed: SEED });
    assert.not.ok(
      report.failure,
      report.failure &&
        `${report.failure.error}\ninput: ${JSON.stringify(typeof report.failure.input === 'string' ? report.failure.input : Buffer.from(report.failure.input).toString('base64'))}`,
    );
    assert.is(report.runs, RUNS, 'every input ran');
  });
}

test('every regression directory names a target', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const path = require('node:path') as typeof import('node:path');
  const dir = path.join(__dirname, 'fuzz', 'regressions');
  for (const d of fs.existsSync(dir) ? fs.readdirSync(dir) : []) assert.ok(d in TARGETS, `test/fuzz/regressions/${d} is not a target`);
});

test('the contract: a DriveseedError with a code passes; a stray exception, a garbled message or a bad code does not', () => {
  assert.is(contractBreach(new DriveseedError('REPO_CORRUPT', 'index x is corrupt', { category: 'FAILED' })), undefined);
  assert.match(contractBreach(new TypeError("Cannot read properties of null (reading 'name')"))!, /^TypeError/);
  assert.match(contractBreach(new RangeError('Invalid array length'))!, /^RangeError/);
  assert.match(
    contractBreach(new DriveseedError('MANIFEST_INVALID', 'fuzz.xml: <constructor>: function Object() { [native code] }', { category: 'FAILED' }))!,
    /garbled/,
  );
  assert.match(contractBreach(new DriveseedError('MANIFEST_INVALID', 'x: [object Object]', { category: 'FAILED' }))!, /garbled/);
  assert.match(contractBreach(new DriveseedError('', 'x', { category: 'FAILED' }))!, /code/);
  assert.throws(() => typedOnly('reader', () => JSON.parse('{')), /reader threw SyntaxError/);
  assert.is(
    typedOnly('reader', () => {
      throw new DriveseedError('X_Y', 'refused', { category: 'FAILED' });
    }),
    undefined,
  );
});

test.run();
