// Tree comparison for the demo: same entries, types, sizes, permission bits, mtimes (to the
// millisecond), symlink targets and byte-identical contents (MD5 of both sides, streamed).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

async function md5(file) {
  const h = createHash('md5');
  for await (const c of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(c);
  return h.digest('hex');
}

/** Returns the list of differences (empty when the trees are identical). */
export async function compareTrees(a, b) {
  const diffs = [];
  const walk = async (rel) => {
    const pa = path.join(a, rel);
    const pb = path.join(b, rel);
    const names = new Set([...fs.readdirSync(pa), ...fs.readdirSync(pb)]);
    for (const n of [...names].sort()) {
      const r = path.join(rel, n);
      let sa, sb;
      try {
        sa = fs.lstatSync(path.join(a, r));
      } catch {
        diffs.push(`${r}: only in the restore`);
        continue;
      }
      try {
        sb = fs.lstatSync(path.join(b, r));
      } catch {
        diffs.push(`${r}: missing from the restore`);
        continue;
      }
      const type = (s) => (s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isFile() ? 'file' : 'other');
      if (type(sa) !== type(sb)) {
        diffs.push(`${r}: ${type(sa)} became ${type(sb)}`);
        continue;
      }
      if ((sa.mode & 0o7777) !== (sb.mode & 0o7777) && !sa.isSymbolicLink())
        diffs.push(`${r}: mode ${(sa.mode & 0o7777).toString(8)} became ${(sb.mode & 0o7777).toString(8)}`);
      if (sa.isDirectory()) {
        await walk(r);
        continue;
      }
      if (sa.isSymbolicLink()) {
        if (fs.readlinkSync(path.join(a, r)) !== fs.readlinkSync(path.join(b, r))) diffs.push(`${r}: symlink target differs`);
        continue;
      }
      if (Math.floor(sa.mtimeMs) !== Math.floor(sb.mtimeMs)) diffs.push(`${r}: mtime ${sa.mtime.toISOString()} became ${sb.mtime.toISOString()}`);
      if (sa.size !== sb.size) diffs.push(`${r}: ${sa.size} bytes became ${sb.size}`);
      else if ((await md5(path.join(a, r))) !== (await md5(path.join(b, r)))) diffs.push(`${r}: contents differ`);
    }
  };
  await walk('.');
  return diffs;
}
