/** Reconnection delays. @see SubscribeOptions.retry */
export interface RetryOptions {
  /** Upper bound of the first delay. @default 1000 */
  initialDelayMs?: number;
  /** No delay grows past this (a `Retry-After` or server `retry:` may ask for more). @default 30000 */
  maxDelayMs?: number;
}

/**
 * Exponential backoff with full jitter: a random delay in [0, min(max, initial·2^attempt)),
 * so a crowd of clients dropped together does not come back together. `floorMs` (the
 * server's `retry:` field, a `Retry-After`) is the least it waits.
 */
export function backoffDelay(attempt: number, options: RetryOptions = {}, floorMs = 0): number {
  const { initialDelayMs = 1000, maxDelayMs = 30_000 } = options;
  return Math.max(floorMs, Math.random() * Math.min(maxDelayMs, initialDelayMs * 2 ** attempt));
}

/** A `Retry-After` header (seconds, or an HTTP date) in ms from `now`; 0 when absent or bad. */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (!value) return 0;
  const seconds = Number(value);
  if (seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return date > now ? date - now : 0;
}
