/**
 * Durations as people read them in the modal: "<1s", "12s", "3m 05s", "1h 02m".
 * Negative or non-finite input reads as "0s".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  if (ms < 1000) return '<1s';
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/** A running clock, "m:ss" (or "h:mm:ss"), for the elapsed time. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * Estimated milliseconds left, or null when there is nothing to go on.
 *
 * Two sources: the job's declared `estimatedDuration` minus the time elapsed, and the
 * pace so far (elapsed × remaining / done). Early on the pace is noise, so the declared
 * estimate dominates; the further the job gets, the more the observed pace counts.
 * Below 3 % progress the pace is not used at all.
 */
export function estimateTimeLeft(
  progress: number,
  elapsedMs: number,
  estimatedDuration: number | null,
): number | null {
  const p = Math.min(100, Math.max(0, progress));
  if (p >= 100) return 0;
  const elapsed = Math.max(0, elapsedMs);
  const declared = estimatedDuration != null ? Math.max(0, estimatedDuration - elapsed) : null;
  const paced = p >= 3 && elapsed > 0 ? (elapsed * (100 - p)) / p : null;
  if (declared === null) return paced;
  if (paced === null) return declared;
  const w = p / 100;
  return w * paced + (1 - w) * declared;
}

/** "About 2 min left", "About 40s left", "Almost done"; null when there is no estimate. */
export function formatTimeLeft(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  if (ms < 5000) return 'Almost done';
  if (ms < 60_000) return `About ${Math.ceil(ms / 10_000) * 10}s left`;
  const min = Math.round(ms / 60_000);
  return min >= 90 ? `About ${Math.round(min / 60)} h left` : `About ${min} min left`;
}
