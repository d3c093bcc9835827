/**
 * Looks for secrets where they must not be: in what driveseed printed and in every file it wrote.
 * A secret is searched for in each form it could leak in (as text, UTF-16LE as Windows tools write
 * it, URL-encoded; keys also as raw bytes, hex and base64), file by file in bounded chunks, so a scan
 * of a few hundred MiB of staging, disk images and emulator state stays cheap and memory stays flat.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Needle {
  /** what it is, for the failure message (never the value) */
  name: string;
  forms: Buffer[];
}

/** The forms a text secret (passphrase, account key, recovery password) can leak in. */
export function textNeedle(name: string, value: string): Needle {
  const forms = new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]);
  return { name, forms: [...[...forms].map((f) => Buffer.from(f, 'utf8')), Buffer.from(value, 'utf16le')] };
}

/** The forms a binary key can leak in. */
export function keyNeedle(name: string, key: Buffer): Needle {
  const text = [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url')];
  return { name, forms: [key, ...text.map((t) => Buffer.from(t, 'utf8'))] };
}

/** Patterns that are a leak whatever the value: an unredacted SAS signature, a BitLocker recovery password. */
export const LEAK_PATTERNS: { name: string; re: RegExp }[] = [
  { name: 'SAS signature', re: /[?&]sig=(?!\[redacted\])[A-Za-z0-9%+/=]{16,}/ },
  { name: 'BitLocker recovery password', re: /\b\d{6}(?:-\d{6}){7}\b/ },
];

export interface Hit {
  where: string;
  secret: string;
}

const CHUNK = 4 * 1024 * 1024;

/** The names of the needles found in `file` (read in chunks that overlap by the longest form). */
export function scanFile(file: string, needles: Needle[]): string[] {
  const overlap = Math.max(1, ...needles.flatMap((n) => n.forms.map((f) => f.length))) - 1;
  const found = new Set<string>();
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(CHUNK + overlap);
    let carry = 0;
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, carry, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      const view = buf.subarray(0, carry + n);
      for (const needle of needles) if (!found.has(needle.name) && needle.forms.some((f) => view.includes(f))) found.add(needle.name);
      carry = Math.min(overlap, view.length);
      view.copyWithin(0, view.length - carry);
    }
  } finally {
    fs.closeSync(fd);
  }
  return [...found];
}

/** The leak patterns found in a text (an output stream or a text file). */
export function scanText(text: string, needles: Needle[]): string[] {
  const buf = Buffer.from(text, 'utf8');
  const hits = needles.filter((n) => n.forms.some((f) => buf.includes(f))).map((n) => n.name);
  for (const p of LEAK_PATTERNS) if (p.re.test(text)) hits.push(p.name);
  return hits;
}

export interface TreeScan {
  hits: Hit[];
  files: number;
  bytes: number;
}

/**
 * Scans every regular file under `root`. `allowed` maps a path relative to root to the needle names
 * that file may hold (the service's own key store, the input file the user gave); such a file must
 * also be readable by its owner only.
 */
export function scanTree(root: string, needles: Needle[], allowed: Record<string, string[]> = {}): TreeScan {
  const out: TreeScan = { hits: [], files: 0, bytes: 0 };
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) walk(file);
      if (!e.isFile()) continue;
      const rel = path.relative(root, file);
      const st = fs.statSync(file);
      out.files++;
      out.bytes += st.size;
      const ok = allowed[rel] ?? [];
      for (const name of scanFile(file, needles)) {
        if (!ok.includes(name)) out.hits.push({ where: rel, secret: name });
        else if ((st.mode & 0o077) !== 0) out.hits.push({ where: rel, secret: `${name} in a file of mode ${(st.mode & 0o777).toString(8)} (expected 0600)` });
      }
      if (st.size < 16 * 1024 * 1024 && /\.(json|jsonl|xml|txt|log|jrn|stdout|stderr)$/.test(e.name)) {
        const text = fs.readFileSync(file, 'utf8');
        for (const p of LEAK_PATTERNS) if (p.re.test(text) && !ok.includes(p.name)) out.hits.push({ where: rel, secret: p.name });
      }
    }
  };
  walk(root);
  return out;
}
