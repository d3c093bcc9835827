/**
 * Stage's unparsed comparison of an unchanged file's record with its parent's tree line: whether the
 * stored line is exactly the line TreeWriter (src/repo/tree.ts) would write for the record, and the
 * chunk ids it carries. Kept apart from the tree reader and writer: it depends on the writer's field
 * order and number formatting, which it restates.
 */
import type { FileRecord } from './tree';

/** The offset after `piece` when text has it at p (p ≥ 0), else -1. (A loop: startsWith with a position costs several times more here.) */
function after(text: string, p: number, piece: string): number {
  if (p < 0 || p + piece.length > text.length) return -1;
  for (let k = 0; k < piece.length; k++) if (text.charCodeAt(p + k) !== piece.charCodeAt(k)) return -1;
  return p + piece.length;
}

/** The offset after the decimal digits of the non-negative safe integer v when text has exactly them at p, else -1. */
function afterInt(text: string, p: number, v: number): number {
  if (p < 0) return -1;
  let q = p;
  let x = 0;
  for (; q < text.length && q - p < 16; q++) {
    const c = text.charCodeAt(q);
    if (c < 48 || c > 57) break;
    x = x * 10 + (c - 48);
  }
  if (q === p || (q - p > 1 && text.charCodeAt(p) === 48)) return -1;
  const c = text.charCodeAt(q);
  return x === v && !(c >= 48 && c <= 57) ? q : -1;
}

/** Whether JSON.stringify writes s between its quotes unchanged (no quote, backslash, control character or lone surrogate). */
function plainJsonString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 34 || c === 92) return false;
    if (c >= 0xd800 && c <= 0xdfff) {
      // a surrogate pair is written as it is; a lone surrogate is escaped
      if (c > 0xdbff || i + 1 >= s.length) return false;
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return false;
      i++;
    }
  }
  return true;
}

/**
 * When `text` is exactly the line TreeWriter writes for `rec` with some chunk list (no holes, no
 * hard-link key): the chunk ids of that list; else undefined. Lets stage take an unchanged file's
 * record from its parent's tree by comparing text, without parsing the line: the name, mode, owner,
 * mtime, size, ctime and inode are all in the part compared, and the chunk list is checked strictly
 * (64 lowercase hex digits and a decimal length per chunk).
 */
export function chunkIdsIfSameLine(text: string, rec: FileRecord): string[] | undefined {
  // Compared piece by piece at increasing offsets, numbers digit by digit: building the expected
  // line's head as a string and comparing it cost 3× more per file (number-to-string conversions,
  // flattening the concatenation).
  const n = rec.n;
  let p: number;
  if (after(text, 0, '{"t":"f","n":"') === 14 && after(text, 14, n) > 0 && text.charCodeAt(14 + n.length) === 34 && plainJsonString(n)) p = 15 + n.length;
  else {
    const quoted = JSON.stringify(n);
    p = after(text, after(text, 0, '{"t":"f","n":'), quoted);
  }
  p = afterInt(text, after(text, p, ',"m":'), rec.m);
  p = afterInt(text, after(text, p, ',"u":'), rec.u);
  p = afterInt(text, after(text, p, ',"g":'), rec.g);
  p = after(text, after(text, after(text, p, ',"mt":"'), rec.mt), '"');
  p = afterInt(text, after(text, p, ',"s":'), rec.s);
  p = after(text, p, ',"c":[');
  if (p < 0) return undefined;
  // The tail, `],"ct":"…","i":"…"}`, ends the line.
  const end = text.length - (17 + rec.ct!.length + rec.i!.length);
  if (end < p || after(text, after(text, after(text, after(text, after(text, end, '],"ct":"'), rec.ct!), '","i":"'), rec.i!), '"}') !== text.length)
    return undefined;
  const ids: string[] = [];
  let i = p;
  while (i < end) {
    // ["<64 hex>",<digits>] then "," or the end
    if (text.charCodeAt(i) !== 91 || text.charCodeAt(i + 1) !== 34 || text.charCodeAt(i + 66) !== 34 || text.charCodeAt(i + 67) !== 44) return undefined;
    for (let k = i + 2; k < i + 66; k++) {
      const c = text.charCodeAt(k);
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
    }
    let j = i + 68;
    const digits = j;
    while (j < end && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
    if (j === digits || j - digits > 15 || text.charCodeAt(j) !== 93 || (text.charCodeAt(digits) === 48 && j - digits > 1)) return undefined;
    ids.push(text.slice(i + 2, i + 66));
    i = j + 1;
    if (i < end) {
      if (text.charCodeAt(i) !== 44) return undefined;
      i++;
      if (i === end) return undefined; // a trailing comma
    }
  }
  return ids;
}
