import type { JobstreamErrorCode } from './errors.js';

/**
 * The HTTP status each error code answers with. Kept apart from the error class so
 * browser bundles that only throw or match errors do not carry the table.
 */
export const ERROR_HTTP_STATUS = {
  invalid_input: 400,
  invalid_event: 400,
  unknown_step: 400,
  unauthorized: 401,
  invalid_signature: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  invalid_transition: 409,
  conflict: 409,
  job_finished: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  job_cancelled: 409,
  schema_mismatch: 500,
  store_unavailable: 503,
  /** Thrown at start-up by a misconfigured server; never answered over HTTP. */
  invalid_config: 500,
  internal: 500,
} as const;

/** The HTTP status for an error code (500 for anything unknown). */
export function httpStatusOf(code: JobstreamErrorCode | string): number {
  return (ERROR_HTTP_STATUS as Record<string, number>)[code] ?? 500;
}
