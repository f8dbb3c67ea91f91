import { isJobstreamError } from '@jobstream/core';
import { describe, expect, it } from 'vitest';
import { toJobstreamError } from './supabase-errors.js';

// What supabase-js hands over in `error` for PostgREST's answers (PostgREST cannot run
// here; the bodies are PostgREST's documented shape: the SQLSTATE in `code`).
describe('toJobstreamError for PostgREST answers', () => {
  const answer = (code: string, message: string) => ({ code, message, details: null, hint: null });

  it.each([
    ['25006', 'cannot execute INSERT in a read-only transaction'],
    ['53100', 'could not extend file: No space left on device'],
    ['53300', 'too many connections for role "authenticator"'],
    ['57014', 'canceling statement due to statement timeout'],
    ['55P03', 'canceling statement due to lock timeout'],
    ['40001', 'could not serialize access due to concurrent update'],
    ['40P01', 'deadlock detected'],
    ['PGRST001', 'Could not connect with the database due to an internal error.'],
    ['57P01', 'terminating connection due to administrator command'],
  ])('%s (the database says "not now") is store_unavailable', (code, message) => {
    const error = toJobstreamError(answer(code, message), 'commit');
    expect(isJobstreamError(error, 'store_unavailable')).toBe(true);
    expect(error.message).toBe(`commit: ${message}`);
  });

  it.each([
    ['25001', 'SET TRANSACTION ISOLATION LEVEL must be called before any query'],
    ['42P10', 'there is no unique constraint matching the ON CONFLICT specification'],
    ['250060', 'not a SQLSTATE'],
  ])('%s (a bug, not an outage) stays internal', (code, message) => {
    expect(isJobstreamError(toJobstreamError(answer(code, message), 'commit'), 'internal')).toBe(
      true,
    );
  });
});
