#!/usr/bin/env node
// Long fuzz runs of the TypeScript readers (test/fuzz/targets.ts):
//   node scripts/fuzz-ts.mjs [--seconds N] [--seed S] [target...]      (default: 60 s each, every target)
// Prints the inputs run per target. A failing input is saved under test/fuzz/regressions/<target>/ and
// the exit code is 1; commit it with the fix (test/fuzz-parsers.test.ts replays every saved input).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const seconds = Number(opt('--seconds', 60));
const seed = opt('--seed', undefined);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error('--seconds must be a positive number');
  process.exit(2);
}
const script = `
const fs = require('node:fs'); const path = require('node:path'); const crypto = require('node:crypto');
const { TARGETS, runTarget } = require(${JSON.stringify(path.join(root, 'test', 'fuzz', 'targets.ts'))});
(async () => {
  const names = ${JSON.stringify(args)}.length ? ${JSON.stringify(args)} : Object.keys(TARGETS);
  let failed = 0;
  for (const name of names) {
    const r = await runTarget(name, { ms: ${seconds * 1000}${seed ? `, seed: ${Number(seed)}` : ''} });
    if (!r.failure) { console.log(\`ok   \${name}: \${r.runs} inputs in ${seconds} s\`); continue; }
    failed++;
    const dir = path.join(${JSON.stringify(path.join(root, 'test', 'fuzz', 'regressions'))}, name);
    fs.mkdirSync(dir, { recursive: true });
    const bytes = typeof r.failure.input === 'string' ? Buffer.from(r.failure.input, 'utf8') : Buffer.from(r.failure.input);
    const file = path.join(dir, 'crash-' + crypto.createHash('sha1').update(bytes).digest('hex').slice(0, 12));
    fs.writeFileSync(file, bytes);
    console.log(\`FAIL \${name} after \${r.runs} inputs (seed \${r.failure.seed}): \${r.failure.error}\\n     input saved: \${file}\`);
  }
  process.exit(failed ? 1 : 0);
})();`;
const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
