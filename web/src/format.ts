// How values read on the page: ages, byte sizes, percentages.
import { signal } from "@preact/signals";

/** Seconds since the Unix epoch, ticking every 15 s (ages re-render with it). */
export const nowSecs = signal(Math.floor(Date.now() / 1000));
setInterval(() => (nowSecs.value = Math.floor(Date.now() / 1000)), 15_000);

/** `secs` ago as `45s`, `12m`, `3h`, `5d`. */
export function age(since: number, now = nowSecs.value): string {
  const s = Math.max(0, now - since);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** `bytes` in binary units: `512 B`, `1.5 KiB`, `2.0 GiB`. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A percentage with one decimal. */
export function percent(p: number): string {
  return `${p.toFixed(1)}%`;
}
