/**
 * The source walker with the addon's directory listing (readdir + fstatat) against the walker with
 * Node's readdirSync + lstatSync: the same events, in the same order, with the same fields, over a
 * tree with files, nested and empty directories, symlinks (also dangling), hard links, a FIFO, names
 * that are not UTF-8, names that sort differently by bytes and by UTF-16 code units, and an entry that
 * vanishes. Also the listing's own contract (fields, errors).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DIR_FIELDS, F_ERRNO, F_INO, F_MODE, F_MTIME_NS, F_SIZE, nativeListDir } from '../src/native/dir';
import { type WalkEvent, walkSource } from '../src/repo/walker';
import { tmpDir } from './helpers';

const list = nativeListDir();
const posix = process.platform !== 'win32';

/** An event as plain data: every stat field as a string, so that the two walks compare with deepEqual. */
function plain(ev: WalkEvent): Record<string, unknown> {
  if (!('st' in ev)) return { ...ev };
  const { st, ...rest } = ev;
  const fields = ['mode', 'uid', 'gid', 'nlink', 'size', 'dev', 'ino', 'mtimeNs', 'ctimeNs'] as const;
  return { ...rest, st: Object.fromEntries(fields.map((f) => [f, String(st[f])])) };
}

function buildTree(): string {
  const root = path.join(tmpDir('driveseed-walk-'), 'src');
  fs.mkdirSync(path.join(root, 'a', 'b', 'c'), { recursive: true });
  fs.mkdirSync(path.join(root, 'empty'));
  fs.writeFileSync(path.join(root, 'a', 'one.txt'), 'one');
  fs.writeFileSync(path.join(root, 'a', 'b', 'c', 'deep.bin'), Buffer.alloc(5000, 7));
  fs.writeFileSync(path.join(root, 'zero'), '');
  fs.linkSync(path.join(root, 'a', 'one.txt'), path.join(root, 'hard-one'));
  fs.symlinkSync('a/one.txt', path.join(root, 'link'));
  fs.symlinkSync('nowhere', path.join(root, 'dangling'));
  // Sorted by UTF-16 code units, U+FF5E (one unit) comes after U+1F600 (a surrogate pair, 0xD83D…);
  // by UTF-8 bytes it comes before. The walk's order is the former on both paths.
  fs.writeFileSync(path.join(root, '\u{ff5e}wave'), 'w');
  fs.writeFileSync(path.join(root, '\u{1f600}smile'), 's');
  fs.writeFileSync(path.join(root, 'Zeta'), 'Z');
  fs.writeFileSync(path.join(root, 'alpha'), 'a');
  if (posix) {
    fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/bad-`), Buffer.from([0xff, 0xfe])]), 'x');
    fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/a/cesu-`), Buffer.from([0xed, 0xa0, 0x80])]), 'x'); // an encoded surrogate
    fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/a/overlong-`), Buffer.from([0xc0, 0xaf])]), 'x');
    const fifo = spawnSync('mkfifo', [path.join(root, 'fifo')]);
    assert.is(fifo.status, 0, 'mkfifo');
  }
  return root;
}

test('the listing and Node agree on every field of every entry', () => {
  if (!list) {
    assert.ok(!posix || process.env.DRIVESEED_WALK === 'node', 'the addon exports listDir on POSIX');
    return;
  }
  const root = buildTree();
  const got = list(root);
  assert.is(got.stats.length, got.names.length * DIR_FIELDS);
  assert.is(got.invalid.length, 1, 'the one name in the root that is not UTF-8');
  assert.equal([...got.invalid[0]!.subarray(-2)], [0xff, 0xfe]);
  const expected = fs.readdirSync(root).filter((n) => !n.startsWith('bad-'));
  assert.equal([...got.names].sort(), expected.sort());
  for (const [i, name] of got.names.entries()) {
    const st = fs.lstatSync(path.join(root, name), { bigint: true });
    const o = i * DIR_FIELDS;
    assert.is(got.stats[o + F_ERRNO], 0n, name);
    assert.is(got.stats[o + F_MODE], st.mode, `${name} mode`);
    assert.is(got.stats[o + F_SIZE], st.size, `${name} size`);
    assert.is(got.stats[o + F_INO], st.ino, `${name} ino`);
    assert.is(got.stats[o + F_MTIME_NS], st.mtimeNs, `${name} mtime`);
  }
});

test('times before 1970 come back negative, as lstat gives them', () => {
  const dir = tmpDir('driveseed-walk-');
  const old = path.join(dir, 'old');
  fs.writeFileSync(old, '');
  // fs.utimes takes no time before 1970
  assert.is(spawnSync('touch', ['-d', '1969-12-31 00:00:00.5 UTC', old]).status, 0, 'touch -d');
  const events = [...walkSource(dir, { prefetch: false })].filter((e) => e.kind === 'file');
  assert.is(events.length, 1);
  const st = (events[0] as Extract<WalkEvent, { kind: 'file' }>).st;
  assert.is(st.mtimeNs, -86399500000000n);
  assert.is(st.mtimeNs, fs.lstatSync(old, { bigint: true }).mtimeNs);
});

test('a directory that cannot be listed throws as readdirSync does', () => {
  if (!list) return;
  const dir = tmpDir('driveseed-walk-');
  for (const bad of [path.join(dir, 'missing'), path.join(dir, 'file')]) {
    if (bad.endsWith('file')) fs.writeFileSync(bad, 'x');
    let native: NodeJS.ErrnoException | undefined;
    let node: NodeJS.ErrnoException | undefined;
    try {
      list(bad);
    } catch (err) {
      native = err as NodeJS.ErrnoException;
    }
    try {
      fs.readdirSync(bad);
    } catch (err) {
      node = err as NodeJS.ErrnoException;
    }
    assert.ok(native && node, bad);
    assert.is(native!.code, node!.code);
    assert.is(native!.syscall, node!.syscall);
  }
});

test('walkSource gives the same events through the listing (also done ahead) and through Node', async () => {
  const root = buildTree();
  const withNative = [...walkSource(root)].filter((e) => e.kind !== 'wait').map(plain);
  const withNode = [...walkSource(root, { native: false })].map(plain);
  assert.equal(withNative, withNode);
  // Awaiting the listings done ahead (as stage does) gives the same events too.
  const awaited: Record<string, unknown>[] = [];
  let waits = 0;
  for (const ev of walkSource(root)) {
    if (ev.kind === 'wait') {
      waits++;
      await ev.promise;
    } else awaited.push(plain(ev));
  }
  assert.equal(awaited, withNode);
  if (list) assert.ok(waits > 0, 'a listing done ahead was waited for');
  const names = withNative.filter((e) => e.kind !== 'end' && e.kind !== 'problem').map((e) => e.name);
  assert.ok(names.indexOf('\u{1f600}smile') < names.indexOf('\u{ff5e}wave'), 'UTF-16 order');
  const problems = withNative.filter((e) => e.kind === 'problem').map((e) => e.code);
  assert.equal(problems.sort(), posix ? ['NAME_NOT_UTF8', 'NAME_NOT_UTF8', 'NAME_NOT_UTF8', 'UNSUPPORTED_TYPE'] : []);
});

test('entry paths are what path.join gives, also below a source named with "./" and a trailing separator', () => {
  const root = buildTree();
  const parents: string[] = [];
  for (const ev of walkSource(`${root}${path.sep}.${path.sep}`, { prefetch: false })) {
    if (ev.kind === 'end') parents.pop();
    if (ev.kind === 'problem' || ev.kind === 'end') continue;
    if (parents.length) assert.is(ev.path, path.join(parents[parents.length - 1]!, ev.name));
    if (ev.kind === 'dir') parents.push(ev.path);
  }
});

test('an entry deleted after its directory was listed: a file on the listing path, FILE_VANISHED through Node', () => {
  if (!list) return;
  const root = buildTree();
  for (const native of [true, false]) {
    const dir = path.join(root, 'gone');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a'), 'x');
    fs.writeFileSync(path.join(dir, 'b'), 'x');
    const events: WalkEvent[] = [];
    for (const ev of walkSource(dir, { native, prefetch: false })) {
      events.push(ev);
      // The directory is listed when its first entry is visited; 'b' goes before its own visit. The listing
      // took its fields already, so that path reports it as a file (stage then reports FILE_VANISHED when
      // the read finds it gone); Node's lstat at the visit finds it gone.
      if (ev.kind === 'file' && ev.name === 'a') fs.rmSync(path.join(dir, 'b'));
    }
    const kinds = events.map((e) => (e.kind === 'problem' ? e.code : e.kind));
    assert.equal(kinds, native ? ['dir', 'file', 'file', 'end'] : ['dir', 'file', 'FILE_VANISHED', 'end']);
    fs.rmSync(dir, { recursive: true });
  }
});

test('listings done ahead: a deep and wide tree walks to the same events, with every directory listed once', async () => {
  if (!list) return;
  const root = path.join(tmpDir('driveseed-walk-'), 'wide');
  // 3 levels, 6 directories per level, 5 files each: more directories than listings run at once
  const make = (dir: string, level: number) => {
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 5; f++) fs.writeFileSync(path.join(dir, `f${f}`), `${dir}/${f}`);
    if (level < 3) for (let d = 0; d < 6; d++) make(path.join(dir, `d${d}`), level + 1);
  };
  make(root, 0);
  const expected = [...walkSource(root, { prefetch: false })].map(plain);
  const got: Record<string, unknown>[] = [];
  for (const ev of walkSource(root)) {
    if (ev.kind === 'wait') await ev.promise;
    else got.push(plain(ev));
  }
  assert.equal(got, expected);
  assert.is(got.filter((e) => e.kind === 'dir').length, 1 + 6 + 36 + 216);
});

test.run();
