// Interleaved A/B timing of whole commands on a shared machine: runs A and B alternately (ABAB…, so
// both see the same load), each in a fresh process, and prints per side the median, the fastest and
// the slowest wall time, the median CPU time (user + sys of the child) and the load average before
// and after. Not a trial (bench/run.mjs does not run it); used for start-up and repeat-run changes,
// whose figures are below 1 s and drift with other users' load.
//
//   node bench/ab.mjs --runs 10 --a 'node old/dist/cli/main.js version' --b 'node new/dist/cli/main.js version'
//   [--prepare 'shell command run before every run'] [--json]
import { spawnSync } from 'node:child_process';
import os from 'node:os';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sides = [
  ['A', opt('a')],
  ['B', opt('b')],
].filter(([, c]) => c);
if (sides.length === 0) {
  process.stderr.write('usage: node bench/ab.mjs --runs <n> --a <command> [--b <command>] [--prepare <command>] [--json]\n');
  process.exit(2);
}
const runs = Number(opt('runs', '7'));
const prepare = opt('prepare');

function once(cmd) {
  if (prepare) spawnSync('sh', ['-c', prepare], { stdio: 'ignore' });
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', 'sh', '-c', `exec ${cmd}`], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const last = r.stderr.trim().split('\n').pop() ?? '';
  const [u, s, m] = last.split(/\s+/).map(Number);
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr.slice(-400)}`);
  return { wall, cpu: u + s, rssMiB: m / 1024 };
}

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const loadBefore = os.loadavg();
const results = Object.fromEntries(sides.map(([k]) => [k, []]));
for (const [, cmd] of sides) once(cmd); // one warm-up run each (page cache, disk cache of the CLI files)
for (let i = 0; i < runs; i++) for (const [k, cmd] of i % 2 ? [...sides].reverse() : sides) results[k].push(once(cmd));
const loadAfter = os.loadavg();
const summary = sides.map(([k, cmd]) => {
  const r = results[k];
  const w = r.map((x) => x.wall);
  return {
    side: k,
    cmd,
    runs: r.length,
    medianS: +median(w).toFixed(3),
    minS: +Math.min(...w).toFixed(3),
    maxS: +Math.max(...w).toFixed(3),
    cpuMedianS: +median(r.map((x) => x.cpu)).toFixed(3),
    peakRssMiB: +Math.max(...r.map((x) => x.rssMiB)).toFixed(1),
  };
});
const load = { before: loadBefore.map((x) => +x.toFixed(2)), after: loadAfter.map((x) => +x.toFixed(2)) };
if (args.includes('--json')) process.stdout.write(`${JSON.stringify({ summary, load })}\n`);
else {
  for (const s of summary)
    process.stdout.write(
      `${s.side}: median ${s.medianS}s  min ${s.minS}s  max ${s.maxS}s  cpu ${s.cpuMedianS}s  rss ${s.peakRssMiB} MiB  (${s.runs} runs)  ${s.cmd}\n`,
    );
  if (summary.length === 2) process.stdout.write(`B/A median ${(summary[1].medianS / summary[0].medianS).toFixed(3)}\n`);
  process.stdout.write(`load average before ${load.before.join(' ')}, after ${load.after.join(' ')}\n`);
}
