import { describe, expect, it } from 'vitest';
import { httpStatusOf } from './error-status.js';
import { ConflictError, isJobstreamError, JobstreamError } from './errors.js';

describe('JobstreamError', () => {
  it('carries a code, an HTTP status, details and a cause', () => {
    const cause = new Error('db down');
    const error = new JobstreamError('store_unavailable', 'Store is down', {
      cause,
      details: { retry: true },
    });
    expect(error.code).toBe('store_unavailable');
    expect(httpStatusOf(error.code)).toBe(503);
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ retry: true });
    expect(error).toBeInstanceOf(Error);
  });

  it('ConflictError is a JobstreamError with code conflict and status 409', () => {
    const error = new ConflictError('stale');
    expect(isJobstreamError(error, 'conflict')).toBe(true);
    expect(httpStatusOf(error.code)).toBe(409);
  });

  it('isJobstreamError recognises an error from another copy of the package by name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'JobstreamError', code: 'not_found' });
    expect(isJobstreamError(foreign)).toBe(true);
    expect(isJobstreamError(foreign, 'not_found')).toBe(true);
    expect(isJobstreamError(foreign, 'conflict')).toBe(false);
    // A newer copy may know codes this one does not: still a JobstreamError.
    const newer = Object.assign(new Error('x'), { name: 'JobstreamError', code: 'made_up' });
    expect(isJobstreamError(newer)).toBe(true);
    expect(isJobstreamError(Object.assign(new Error('x'), { name: 'JobstreamError' }))).toBe(false);
    expect(isJobstreamError(new Error('plain'))).toBe(false);
    expect(isJobstreamError(null)).toBe(false);
  });
});
