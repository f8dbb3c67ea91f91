/**
 * Codes of the errors this package throws. They land on the failed job as
 * `job.error.code` (the tracker copies an error's string `code`), so a UI can say
 * "check your API key" or "try again in 20 s" without parsing messages.
 *
 * - `anthropic_auth`: the key is missing, invalid or lacks permission (401, 403).
 * - `anthropic_rate_limited`: 429; `retryAfterSeconds` says when to try again.
 * - `anthropic_overloaded`: 529 (or an `overloaded_error` in the stream) after every retry.
 * - `anthropic_invalid_request`: the request itself is wrong (400, 404, 413…): retrying will not help.
 * - `anthropic_api_error`: any other error answer from the API (500s).
 * - `anthropic_stream_error`: the response stream broke or ended before `message_stop`,
 *   or carried an `error` event.
 * - `anthropic_connection_error`: the API could not be reached (or timed out) before answering.
 */
export type AnthropicErrorCode =
  | 'anthropic_auth'
  | 'anthropic_rate_limited'
  | 'anthropic_overloaded'
  | 'anthropic_invalid_request'
  | 'anthropic_api_error'
  | 'anthropic_stream_error'
  | 'anthropic_connection_error';

export interface AnthropicJobErrorDetails {
  /** HTTP status of the error answer; absent for an error that arrived inside the stream. */
  status?: number;
  /** The API's error type (`rate_limit_error`, `overloaded_error`…), when it sent one. */
  errorType?: string;
  /** The API's `request-id` header, for a support ticket. */
  requestId?: string;
  /** Seconds to wait before trying again (from `retry-after`), when the API said. */
  retryAfterSeconds?: number;
  /** How many requests were made, retries included. */
  attempts?: number;
}

/**
 * A failed Claude call, mapped to a stable `code`. Thrown by `streamMessage`; when it
 * escapes a job's `run`, the job fails with this message and code.
 *
 * Not a `JobstreamError`: core's codes are a closed set answering HTTP statuses, while
 * these describe a third-party failure recorded on the job.
 */
export class AnthropicJobError extends Error {
  override readonly name: string = 'AnthropicJobError';
  readonly code: AnthropicErrorCode;
  readonly details: AnthropicJobErrorDetails;

  constructor(
    code: AnthropicErrorCode,
    message: string,
    details: AnthropicJobErrorDetails = {},
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
  }

  /** Seconds to wait before trying again, when the API said (429, sometimes 529). */
  get retryAfterSeconds(): number | undefined {
    return this.details.retryAfterSeconds;
  }
}

const CODES: ReadonlySet<string> = new Set<AnthropicErrorCode>([
  'anthropic_auth',
  'anthropic_rate_limited',
  'anthropic_overloaded',
  'anthropic_invalid_request',
  'anthropic_api_error',
  'anthropic_stream_error',
  'anthropic_connection_error',
]);

/**
 * True for an `AnthropicJobError`, even from a second copy of this package, and
 * optionally with the given code.
 */
export function isAnthropicJobError(
  error: unknown,
  code?: AnthropicErrorCode,
): error is AnthropicJobError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { name?: unknown; code?: unknown };
  const ours =
    error instanceof AnthropicJobError ||
    (candidate.name === 'AnthropicJobError' &&
      typeof candidate.code === 'string' &&
      CODES.has(candidate.code));
  return ours && (code === undefined || candidate.code === code);
}

/** The parts of the SDK's `APIError` we read; checked by shape so any SDK copy works. */
interface ApiErrorLike {
  status?: number | undefined;
  headers?: { get(name: string): string | null } | undefined;
  error?: unknown;
  message?: string;
  name?: string;
}

/** What went wrong, as far as mapping is concerned. */
export interface FailureContext {
  /** True once any event of the response stream was received. */
  streamStarted: boolean;
  attempts: number;
}

/**
 * Parses `retry-after` (seconds or an HTTP date) and `retry-after-ms` into whole
 * seconds, rounded up. Undefined when absent or unreadable.
 */
export function retryAfterSeconds(
  headers: { get(name: string): string | null } | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms / 1000);
  const raw = headers.get('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(raw);
  if (Number.isFinite(date)) return Math.max(0, Math.ceil((date - now) / 1000));
  return undefined;
}

function apiBody(error: ApiErrorLike): { type?: string; message?: string } {
  // The SDK keeps the JSON body: `{ type: 'error', error: { type, message } }`.
  const body = error.error as { error?: { type?: unknown; message?: unknown } } | undefined;
  const inner = body && typeof body === 'object' ? body.error : undefined;
  return {
    ...(typeof inner?.type === 'string' ? { type: inner.type } : {}),
    ...(typeof inner?.message === 'string' ? { message: inner.message } : {}),
  };
}

function codeFor(status: number | undefined, type: string | undefined): AnthropicErrorCode | null {
  if (status === 401 || status === 403) return 'anthropic_auth';
  if (type === 'authentication_error' || type === 'permission_error') return 'anthropic_auth';
  if (status === 429 || type === 'rate_limit_error') return 'anthropic_rate_limited';
  if (status === 529 || type === 'overloaded_error') return 'anthropic_overloaded';
  if (status !== undefined && status >= 400 && status < 500) return 'anthropic_invalid_request';
  if (type === 'invalid_request_error' || type === 'not_found_error') {
    return 'anthropic_invalid_request';
  }
  if (status !== undefined && status >= 500) return 'anthropic_api_error';
  return null;
}

function describe(
  code: AnthropicErrorCode,
  apiMessage: string | undefined,
  retryAfter: number | undefined,
  attempts: number,
): string {
  const said = apiMessage ? ` (${apiMessage})` : '';
  switch (code) {
    case 'anthropic_auth':
      return `Anthropic rejected the API key${said}: check ANTHROPIC_API_KEY and the key's permissions.`;
    case 'anthropic_rate_limited':
      return retryAfter === undefined
        ? `Anthropic rate limit reached${said}; try again later.`
        : `Anthropic rate limit reached${said}; retry after ${retryAfter} s.`;
    case 'anthropic_overloaded':
      return `Anthropic is overloaded${said}; gave up after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}.`;
    case 'anthropic_invalid_request':
      return `Anthropic refused the request${said}.`;
    case 'anthropic_api_error':
      return `Anthropic answered with an error${said}.`;
    case 'anthropic_stream_error':
      return `The Anthropic response stream broke before the message ended${said}.`;
    case 'anthropic_connection_error':
      return `Could not reach the Anthropic API${said}.`;
  }
}

/**
 * Maps anything the SDK throws (an `APIError` from an HTTP answer or an `error` event,
 * a connection failure, a broken body) to an `AnthropicJobError`. Cancellation is not
 * handled here: the caller checks its signal first.
 */
export function toAnthropicJobError(error: unknown, context: FailureContext): AnthropicJobError {
  if (isAnthropicJobError(error)) return error;
  const api = (typeof error === 'object' && error !== null ? error : {}) as ApiErrorLike;
  const status = typeof api.status === 'number' ? api.status : undefined;
  const body = apiBody(api);
  const requestId = api.headers?.get?.('request-id') ?? undefined;
  const retryAfter = retryAfterSeconds(api.headers);
  let code = codeFor(status, body.type);
  if (code === null) {
    const connection =
      api.name === 'APIConnectionError' || api.name === 'APIConnectionTimeoutError';
    // An error event with an unknown type, or a body that broke off, is a stream failure;
    // failing before any answer is a connection failure.
    code =
      body.type !== undefined || context.streamStarted || !connection
        ? 'anthropic_stream_error'
        : 'anthropic_connection_error';
  }
  const apiMessage =
    body.message ??
    (code === 'anthropic_stream_error' || code === 'anthropic_connection_error'
      ? (api.message ?? (typeof error === 'string' ? error : undefined))
      : undefined);
  return new AnthropicJobError(
    code,
    describe(code, apiMessage, retryAfter, context.attempts),
    {
      ...(status !== undefined ? { status } : {}),
      ...(body.type !== undefined ? { errorType: body.type } : {}),
      ...(requestId ? { requestId } : {}),
      ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
      attempts: context.attempts,
    },
    { cause: error },
  );
}
