import { ERROR_HTTP_STATUS, isJobstreamError, type JobstreamErrorCode } from '@jobstream/core';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' } as const;

/** A JSON response. */
export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS,
  });
}

/** The problem body every error answers with: `{ error: { code, message } }`, never a stack. */
export function problem(
  code: JobstreamErrorCode,
  message: string,
  headers?: Record<string, string>,
): Response {
  return json({ error: { code, message } }, ERROR_HTTP_STATUS[code] ?? 500, headers);
}

/**
 * Turns anything thrown into a problem response. Our own errors keep their code and
 * message (they are written for users); anything else is reported and answered with a
 * generic 500 so internals never leak.
 */
export function errorResponse(error: unknown, report: (error: unknown) => void): Response {
  if (isJobstreamError(error)) {
    const status = ERROR_HTTP_STATUS[error.code] ?? 500;
    if (status >= 500) report(error);
    return problem(error.code, status >= 500 ? 'Internal server error.' : error.message);
  }
  report(error);
  return problem('internal', 'Internal server error.');
}
