/**
 * Every error jobstream throws on purpose. `code` is the contract: match on it,
 * not on the message (messages say what to fix and may improve over time).
 */

import type { ERROR_HTTP_STATUS } from './error-status.js';

export type JobstreamErrorCode = keyof typeof ERROR_HTTP_STATUS;

export interface JobstreamErrorOptions {
  cause?: unknown;
  /** Extra machine-readable facts (e.g. the expected and actual version of a conflict). */
  details?: Record<string, unknown>;
}

export class JobstreamError extends Error {
  override readonly name: string = 'JobstreamError';
  // `declare`: assigned in the constructor, so no field initialisers are emitted.
  declare readonly code: JobstreamErrorCode;
  declare readonly details: Record<string, unknown> | undefined;

  constructor(code: JobstreamErrorCode, message: string, options: JobstreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/** A commit was made against a stale `expectedVersion`; nothing was written. */
export class ConflictError extends JobstreamError {
  override readonly name: string = 'ConflictError';
  constructor(message: string, options: JobstreamErrorOptions = {}) {
    super('conflict', message, options);
  }
}

/**
 * True for any jobstream error, even one thrown by a second copy of the package
 * (two versions in one bundle make `instanceof` unreliable, so the name and code are checked).
 */
export function isJobstreamError(
  error: unknown,
  code?: JobstreamErrorCode,
): error is JobstreamError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { name?: unknown; code?: unknown };
  const named =
    error instanceof JobstreamError ||
    ((candidate.name === 'JobstreamError' || candidate.name === 'ConflictError') &&
      typeof candidate.code === 'string');
  return named && (code === undefined || candidate.code === code);
}
