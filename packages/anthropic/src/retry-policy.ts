import type { AnthropicJobError } from './anthropic-errors.js';

export interface RetryOptions {
  /**
   * Retries after an overloaded API (529, or `overloaded_error` in the stream), a 5xx
   * answer, or a connection that failed before any answer. 0 turns retries off.
   * Rate limits (429), bad requests and keys are never retried: waiting is the caller's call.
   * @default 3
   */
  maxRetries?: number;
  /** First backoff delay; each retry doubles it (with jitter). @default 1000 */
  baseDelayMs?: number;
  /** Longest single wait, `retry-after` included. @default 30000 */
  maxDelayMs?: number;
}

export interface ResolvedRetry {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export function resolveRetry(options: RetryOptions = {}): ResolvedRetry {
  const resolved = {
    maxRetries: options.maxRetries ?? 3,
    baseDelayMs: options.baseDelayMs ?? 1000,
    maxDelayMs: options.maxDelayMs ?? 30_000,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`retry.${name} must be a finite number >= 0, got ${value}.`);
    }
  }
  return resolved;
}

export function isRetryable(error: AnthropicJobError): boolean {
  return (
    error.code === 'anthropic_overloaded' ||
    error.code === 'anthropic_api_error' ||
    error.code === 'anthropic_connection_error'
  );
}

/**
 * Exponential backoff with equal jitter for retry number `retry` (1-based): half the
 * doubled delay is fixed, half random, so a crowd of workers does not return in step.
 * A `retry-after` from the API is honoured when longer, up to `maxDelayMs`.
 */
export function backoffDelay(
  retry: number,
  policy: ResolvedRetry,
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = exponential / 2 + (random() * exponential) / 2;
  const asked = retryAfterSeconds === undefined ? 0 : retryAfterSeconds * 1000;
  return Math.min(policy.maxDelayMs, Math.max(jittered, asked));
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
