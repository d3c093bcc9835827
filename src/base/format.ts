/** Human formatting for the text reporter and renderText implementations. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; binary units, because disks and Azure block sizes are powers of two. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return `${n < 0 ? '-' : ''}${s} ${UNITS[i]}`;
}

/** 3725 → "1h02m05s", 65 → "1m05s", 7 → "7s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const pad = (x: number) => String(x).padStart(2, '0');
  if (h > 0) return `${h}h${pad(m)}m${pad(r)}s`;
  if (m > 0) return `${m}m${pad(r)}s`;
  return `${r}s`;
}
