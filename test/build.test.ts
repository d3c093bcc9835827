/**
 * The build contract: one native source list feeds both cmake-js and node-gyp;
 * prebuildify's output loads through node-gyp-build; when nothing loads, the loader says what it
 * looked for and how to fix it. No step may download Node headers (the machine is offline for that).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tmpDir } from './helpers';

const root = path.resolve(__dirname, '..');
const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8')) as Record<string, string[] | string>;
const env = { ...process.env, npm_config_nodedir: '/usr' };

function exportsOf(file: string): string[] {
  const r = spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(file)})).sort()))`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test('native/sources.json lists every native source file, and only existing ones', () => {
  const listed = new Set(['common', 'posix', 'win32'].flatMap((k) => sources[k] as string[]));
  const onDisk = new Set<string>();
  const walk = (dir: string) => {
    for (const n of fs.readdirSync(path.join(root, dir))) {
      const rel = `${dir}/${n}`;
      if (fs.statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else if (rel.endsWith('.cc')) onDisk.add(rel);
    }
  };
  walk('native/src');
  assert.equal(
    [...onDisk].filter((f) => !listed.has(f)),
    [],
    'sources on disk but not in native/sources.json',
  );
  assert.equal(
    [...listed].filter((f) => !onDisk.has(f)),
    [],
    'sources listed but missing',
  );
  assert.ok(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').includes("require('./native/sources.json')"));
  assert.ok(fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8').includes('native/sources.json'));
});

test('cmake-js (development build) and node-gyp (release build) produce addons with the same exports', () => {
  const out = tmpDir('driveseed-cmake-');
  const r = spawnSync(path.join(root, 'node_modules/.bin/cmake-js'), ['build', '--out', out], { cwd: root, env, encoding: 'utf8' });
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`.slice(-3000));
  assert.not.match(r.stdout + r.stderr, /Downloading|download/i, 'cmake-js must not download Node headers');
  const cmakeAddon = path.join(out, 'Release', 'driveseed.node');
  // The addon users get: build/Release from node-gyp, or the prebuild node-gyp-build picks.
  const gypAddon = (require('node-gyp-build') as { path(dir: string): string }).path(root);
  assert.equal(exportsOf(cmakeAddon), exportsOf(gypAddon));
  fs.rmSync(out, { recursive: true, force: true });
});

test('prebuildify --napi writes a prebuild that node-gyp-build loads', () => {
  // In a scratch copy of the package: prebuildify rebuilds build/, which other tests load.
  const work = tmpDir('driveseed-prebuildify-');
  for (const f of ['package.json', 'binding.gyp', 'native']) fs.cpSync(path.join(root, f), path.join(work, f), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'));
  const r = spawnSync(path.join(root, 'node_modules/.bin/prebuildify'), ['--napi', '--strip'], { cwd: work, env, encoding: 'utf8' });
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`.slice(-3000));
  const dir = path.join(work, 'prebuilds', `${process.platform}-${process.arch}`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  assert.ok(files.length === 1, `expected one prebuild in ${dir}, found ${files.join(', ')}`);
  // A package directory that has only prebuilds/ (no build/): node-gyp-build must find the prebuild.
  const pkg = tmpDir('driveseed-prebuild-');
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'driveseed', version: '0.0.0' }));
  fs.cpSync(path.join(work, 'prebuilds'), path.join(pkg, 'prebuilds'), { recursive: true });
  const load = spawnSync(
    process.execPath,
    ['-e', `const b = require(${JSON.stringify(require.resolve('node-gyp-build'))})(${JSON.stringify(pkg)}); console.log(typeof b.counters)`],
    { encoding: 'utf8' },
  );
  assert.is(load.status, 0, load.stderr);
  assert.is(load.stdout.trim(), 'function');
  fs.rmSync(pkg, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

test('when no addon loads, the loader names what it looked for and how to build it', () => {
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', "require('./src/native/load').loadBinding()"], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DRIVESEED_NATIVE: '/nonexistent/driveseed.node' },
  });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /native addon could not be loaded for linux-x64/);
  assert.match(r.stderr, /\/nonexistent\/driveseed\.node: not found/);
  assert.match(r.stderr, /Node-API 8/);
  assert.match(r.stderr, /npm run build:native/);
});

test.run();
