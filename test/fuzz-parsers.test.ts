// Fuzzing of the TypeScript readers of untrusted input (test/fuzz/targets.ts), the short run CI
// does: every committed regression input replayed, then each target for a fixed number of inputs
// from a fixed seed (deterministic; a failure names the input). The long run: scripts/fuzz-ts.mjs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TARGETS, asInput, regressions, runTarget, seedDocuments } from './fuzz/targets';

/** Inputs per target in CI: the slowest targets (deeply nested XML) take about 2 s at this count on 2 cores. */
const RUNS = Number(process.env.DRIVESEED_FUZZ_RUNS ?? 1500);
const SEED = Number(process.env.DRIVESEED_FUZZ_SEED ?? 20261205);

test.before(async () => {
  await seedDocuments();
});

for (const name of Object.keys(TARGETS)) {
  test(`${name}: ${TARGETS[name]!.about}`, async () => {
    for (const r of regressions(name)) {
      try {
        await TARGETS[name]!.check(asInput(name, r.input));
      } catch (e) {
        assert.unreachable(`regression ${r.file}: ${(e as Error).message}`);
      }
    }
    const report = await runTarget(name, { numRuns: RUNS, seed: SEED });
    assert.is(report.runs, RUNS, 'every input ran');
    assert.not.ok(
      report.failure,
      report.failure &&
        `${report.failure.error}\ninput: ${JSON.stringify(typeof report.failure.input === 'string' ? report.failure.input : Buffer.from(report.failure.input).toString('base64'))}`,
    );
  });
}

test('the contract check itself fails on a reader that throws a stray exception', async () => {
  const { check } = TARGETS['repo-index-resealed']!;
  // A pack record that is null once made decodeIndex throw a TypeError; the fixed reader answers REPO_CORRUPT.
  await check('{"version":1,"packs":[null]}');
  const broken = {
    ...TARGETS['repo-config']!,
    check: () => {
      throw new TypeError('boom');
    },
  };
  let threw = false;
  try {
    await broken.check();
  } catch {
    threw = true;
  }
  assert.ok(threw);
});

test.run();
