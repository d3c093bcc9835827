/**
 * Builds a staging directory in the repository layout (config, index/<id> + <id>.packs.json,
 * data/<xx>/<name>) with random pack contents and their recorded 4 MiB block MD5s, without the
 * stage pipeline, so that prep tests depend only on the layout contract (docs/format.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MiB = 1024 * 1024;

export function makeStaging(dir: string, packSizes: number[]): { packs: Array<{ path: string; size: number }> } {
  fs.mkdirSync(path.join(dir, 'index'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config'), randomBytes(300));
  const packs = packSizes.map((size) => {
    const data = randomBytes(size);
    const name = createHash('sha256').update(data).digest('hex');
    const rel = `data/${name.slice(0, 2)}/${name}`;
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
    const blockMd5: string[] = [];
    for (let o = 0; o < size; o += 4 * MiB)
      blockMd5.push(
        createHash('md5')
          .update(data.subarray(o, o + 4 * MiB))
          .digest('hex'),
      );
    return { name, path: rel, size, blockSize: 4 * MiB, blockMd5 };
  });
  const indexBody = randomBytes(512);
  const id = createHash('sha256').update(indexBody).digest('hex');
  fs.writeFileSync(path.join(dir, 'index', id), indexBody);
  fs.writeFileSync(path.join(dir, 'index', `${id}.packs.json`), JSON.stringify({ version: 1, index: id, packs }));
  return { packs: packs.map((p) => ({ path: p.path, size: p.size })) };
}
