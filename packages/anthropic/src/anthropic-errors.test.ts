import { describe, expect, it } from 'vitest';
import {
  AnthropicJobError,
  isAnthropicJobError,
  retryAfterSeconds,
  toAnthropicJobError,
} from './anthropic-errors.js';
import { backoffDelay, resolveRetry } from './retry-policy.js';

const headers = (entries: Record<string, string>) => new Headers(entries);

describe('retryAfterSeconds', () => {
  it('reads seconds, milliseconds and HTTP dates', () => {
    expect(retryAfterSeconds(headers({ 'retry-after': '17' }))).toBe(17);
    expect(retryAfterSeconds(headers({ 'retry-after': '1.2' }))).toBe(2);
    expect(retryAfterSeconds(headers({ 'retry-after-ms': '2500', 'retry-after': '9' }))).toBe(3);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(
      retryAfterSeconds(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now),
    ).toBe(30);
  });

  it('is undefined when absent or unreadable', () => {
    expect(retryAfterSeconds(undefined)).toBeUndefined();
    expect(retryAfterSeconds(headers({}))).toBeUndefined();
    expect(retryAfterSeconds(headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});

describe('toAnthropicJobError', () => {
  const context = { streamStarted: false, attempts: 1 };
  const apiError = (status: number | undefined, type: string, message: string, h = {}) => ({
    name: 'APIError',
    status,
    headers: headers({ 'request-id': 'req_1', ...h }),
    error: { type: 'error', error: { type, message } },
    message: `${status} ${message}`,
  });

  it('maps statuses and stream error types to codes', () => {
    expect(
      toAnthropicJobError(apiError(401, 'authentication_error', 'bad key'), context).code,
    ).toBe('anthropic_auth');
    expect(toAnthropicJobError(apiError(403, 'permission_error', 'no'), context).code).toBe(
      'anthropic_auth',
    );
    expect(toAnthropicJobError(apiError(429, 'rate_limit_error', 'slow'), context).code).toBe(
      'anthropic_rate_limited',
    );
    expect(toAnthropicJobError(apiError(529, 'overloaded_error', 'busy'), context).code).toBe(
      'anthropic_overloaded',
    );
    expect(toAnthropicJobError(apiError(400, 'invalid_request_error', 'bad'), context).code).toBe(
      'anthropic_invalid_request',
    );
    expect(toAnthropicJobError(apiError(500, 'api_error', 'oops'), context).code).toBe(
      'anthropic_api_error',
    );
    expect(toAnthropicJobError(apiError(undefined, 'overloaded_error', 'busy'), context).code).toBe(
      'anthropic_overloaded',
    );
    expect(toAnthropicJobError(apiError(undefined, 'api_error', 'oops'), context).code).toBe(
      'anthropic_stream_error',
    );
  });

  it('says when to retry a rate limit, in the message and the details', () => {
    const error = toAnthropicJobError(
      apiError(429, 'rate_limit_error', 'slow down', { 'retry-after': '42' }),
      context,
    );
    expect(error.message).toBe('Anthropic rate limit reached (slow down); retry after 42 s.');
    expect(error.details).toEqual({
      status: 429,
      errorType: 'rate_limit_error',
      requestId: 'req_1',
      retryAfterSeconds: 42,
      attempts: 1,
    });
  });

  it('tells a failed connection from a broken stream', () => {
    const connection = { name: 'APIConnectionError', message: 'Connection error.' };
    expect(toAnthropicJobError(connection, context).code).toBe('anthropic_connection_error');
    expect(toAnthropicJobError(connection, { ...context, streamStarted: true }).code).toBe(
      'anthropic_stream_error',
    );
    expect(toAnthropicJobError(new TypeError('terminated'), context).code).toBe(
      'anthropic_stream_error',
    );
  });

  it('is recognised across package copies by name and code', () => {
    const error = new AnthropicJobError('anthropic_auth', 'x');
    expect(isAnthropicJobError(error, 'anthropic_auth')).toBe(true);
    expect(isAnthropicJobError(error, 'anthropic_overloaded')).toBe(false);
    expect(
      isAnthropicJobError({ name: 'AnthropicJobError', code: 'anthropic_auth', message: 'x' }),
    ).toBe(true);
    expect(isAnthropicJobError({ name: 'AnthropicJobError', code: 'something_else' })).toBe(false);
    expect(toAnthropicJobError(error, context)).toBe(error);
  });
});

describe('backoffDelay', () => {
  const policy = resolveRetry({ baseDelayMs: 1000, maxDelayMs: 10_000 });

  it('doubles per retry with jitter in the upper half, capped', () => {
    expect(backoffDelay(1, policy, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(3, policy, undefined, () => 1)).toBe(4000);
    expect(backoffDelay(10, policy, undefined, () => 1)).toBe(10_000);
  });

  it('honours a longer retry-after, up to the cap', () => {
    expect(backoffDelay(1, policy, 5, () => 0)).toBe(5000);
    expect(backoffDelay(1, policy, 60, () => 0)).toBe(10_000);
  });

  it('rejects negative settings', () => {
    expect(() => resolveRetry({ maxRetries: -1 })).toThrow(RangeError);
  });
});
