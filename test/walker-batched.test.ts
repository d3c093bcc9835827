/**
 * walkSourceBatched (src/repo/walker.ts) gives the same events, in the same order, with the same
 * stats, as walkSource: over a tree with nested and empty directories, files, symlinks (one
 * dangling), a FIFO, a name that is not UTF-8 and directories wider than a stat chunk, for chunk
 * sizes that put chunk boundaries everywhere; and a file removed between listing and stat is
 * FILE_VANISHED in both.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type WalkEvent, walkSource, walkSourceBatched } from '../src/repo/walker';
import { tmpDir } from './helpers';

const root = path.join(tmpDir('driveseed-walker-'), 'src');

function build(): void {
  fs.mkdirSync(path.join(root, 'empty'), { recursive: true });
  for (let d = 0; d < 3; d++) {
    const dir = path.join(root, `wide${d}`);
    fs.mkdirSync(path.join(dir, 'deeper', 'deepest'), { recursive: true });
    for (let i = 0; i < 40 + d * 17; i++) fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}`), 'x'.repeat(i));
    fs.writeFileSync(path.join(dir, 'deeper', 'deepest', 'leaf'), 'leaf');
  }
  fs.symlinkSync('wide0/f001', path.join(root, 'link'));
  fs.symlinkSync('nowhere', path.join(root, 'dangling'));
  fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x62, 0xff, 0x61, 0x64])]), 'not utf-8');
  spawnSync('mkfifo', [path.join(root, 'fifo')]);
}

/** An event as comparable data: the stat fields the snapshot uses. */
function plain(ev: WalkEvent): unknown {
  if (!('st' in ev)) return ev;
  const { st, ...rest } = ev;
  return { ...rest, st: [st.mode, st.size, st.ino, st.mtimeNs, st.ctimeNs, st.nlink, st.uid, st.gid].map(String) };
}

async function batched(src: string, chunk: number): Promise<{ events: unknown[]; sizes: number[] }> {
  const events: unknown[] = [];
  const sizes: number[] = [];
  for await (const evs of walkSourceBatched(src, chunk)) {
    sizes.push(evs.length);
    for (const ev of evs) events.push(plain(ev));
  }
  return { events, sizes };
}

build();

test('the same events as walkSource, for every chunk size', async () => {
  const want = [...walkSource(root)].map(plain);
  const kinds = new Set(want.map((e) => (e as { kind: string; code?: string }).code ?? (e as { kind: string }).kind));
  for (const k of ['dir', 'end', 'file', 'symlink', 'NAME_NOT_UTF8', 'UNSUPPORTED_TYPE']) assert.ok(kinds.has(k), `the tree has a ${k}`);
  for (const chunk of [1, 2, 3, 7, 16, 256]) {
    const { events, sizes } = await batched(root, chunk);
    assert.equal(events, want, `chunk ${chunk}`);
    assert.ok(
      sizes.every((n) => n > 0 && n <= chunk + 8),
      `chunk ${chunk}: arrays of ${sizes.join(',')}`,
    );
  }
});

test('a single file as the source, and a source that does not exist', async () => {
  const file = path.join(root, 'wide0', 'f010');
  assert.equal((await batched(file, 4)).events, [...walkSource(file)].map(plain));
  const gone = path.join(root, 'no-such');
  const ev = (await batched(gone, 4)).events;
  assert.equal(ev, [...walkSource(gone)].map(plain));
  assert.is((ev[0] as { code: string }).code, 'FILE_VANISHED');
});

test('a file removed after its directory was listed: FILE_VANISHED, and the walk goes on', async () => {
  const dir = path.join(root, 'wide2');
  const it = walkSourceBatched(dir, 4);
  const first = (await it.next()).value as WalkEvent[];
  // the first chunk's stats are done and the next chunk is in flight: remove a file of a later chunk
  const victim = path.join(dir, 'f050');
  fs.rmSync(victim);
  const rest: WalkEvent[] = [...first];
  for await (const evs of it) rest.push(...evs);
  const gone = rest.find((e) => e.path === victim);
  assert.ok(gone && gone.kind === 'problem' && gone.code === 'FILE_VANISHED', JSON.stringify(gone));
  assert.ok(rest.some((e) => e.path === path.join(dir, 'f056')));
  assert.is(rest[rest.length - 1]!.kind, 'end');
});

test.run();
