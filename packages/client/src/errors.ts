/** What went wrong, coarsely: match on it to decide what to show. */
export type JobClientErrorKind = 'http' | 'network' | 'parse' | 'validation' | 'aborted';

export interface JobClientErrorOptions {
  status?: number | undefined;
  code?: string | undefined;
  retryable?: boolean | undefined;
  cause?: unknown;
}

/**
 * Every error the client reports or throws. `kind` says where it came from; an `http`
 * error carries the status and the server's problem `code` (`not_found`, `job_finished`…).
 * `retryable` says whether the client will try again by itself (5xx, 408, 429, network).
 */
export class JobClientError extends Error {
  override readonly name = 'JobClientError';
  // `declare`: assigned in the constructor, so no field initialisers are emitted.
  declare readonly kind: JobClientErrorKind;
  declare readonly status: number | undefined;
  declare readonly code: string | undefined;
  declare readonly retryable: boolean;

  constructor(kind: JobClientErrorKind, message: string, options: JobClientErrorOptions = {}) {
    // Error reads only `cause` from its options, and only when the key is there.
    super(message, options);
    this.kind = kind;
    this.status = options.status;
    this.code = options.code;
    this.retryable = options.retryable ?? false;
  }
}

/** True for a `JobClientError`, even one from a second copy of this package. */
export function isJobClientError(error: unknown): error is JobClientError {
  return (
    error instanceof JobClientError ||
    (error instanceof Error && error.name === 'JobClientError' && 'kind' in error)
  );
}

/** Statuses worth another try: server errors, request timeout, too many requests. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Turns a non-2xx answer into a typed error, reading a `{ error: { code, message } }` body. */
export async function httpError(response: Response): Promise<JobClientError> {
  const { status } = response;
  let problem: { code?: unknown; message?: unknown } | undefined;
  try {
    problem = ((await response.json()) as { error?: typeof problem } | null)?.error;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the status says enough.
  }
  const message = problem?.message;
  const code = problem?.code;
  return new JobClientError('http', typeof message === 'string' ? message : `HTTP ${status}`, {
    status,
    code: typeof code === 'string' ? code : undefined,
    retryable: isRetryableStatus(status),
  });
}
