import type { JobStatus } from '@jobstream/core/lite';
import { httpError, JobClientError } from './errors.js';
import type { AnyJobDefinition, InputOf, JobEventOf, JobOf } from './job-types.js';
import {
  type HeadersOption,
  type SubscribeOptions,
  type Subscription,
  subscribeToJob,
} from './subscribe.js';
import { type JobWatcher, watchJob } from './watch-job.js';

export interface JobClientOptions {
  /**
   * Where the jobstream routes are mounted. Relative URLs work in browsers.
   * @example '/api/generation'
   */
  baseUrl: string;
  /** Sent with every request and stream connection; a function is called each time. */
  headers?: HeadersOption;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface StartedJob {
  jobId: string;
  /** The job's SSE stream, as the server names it (relative to the server's origin). */
  streamUrl: string;
}

/** What `list` asks for; every field is optional. */
export interface ListJobsQuery {
  /** Only jobs in these states. @example ['pending', 'running'] */
  status?: JobStatus | readonly JobStatus[];
  /** Only jobs of this kind (one the server defines). */
  kind?: string;
  /** Page size, 1–100. @default 20 */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
  /** Aborts the request (it then rejects). */
  signal?: AbortSignal;
}

export interface JobClient<TDef = AnyJobDefinition> {
  readonly baseUrl: string;
  /**
   * `POST /start`. With `kind`, `POST /start/:kind` (a server running several kinds).
   * @example const { jobId } = await client.start({ examId })
   */
  start(input: InputOf<TDef>, options?: { kind?: string }): Promise<StartedJob>;
  /** `POST /cancel`: the cancelled job. Rejects with `job_finished` (409) on a finished job. */
  cancel(jobId: string, reason?: string): Promise<JobOf<TDef>>;
  /** `POST /resume` of a failed job. */
  resume(jobId: string): Promise<StartedJob>;
  /** `GET /status/:jobId`. `signal` aborts the request (it then rejects). */
  status(
    jobId: string,
    options?: { signal?: AbortSignal },
  ): Promise<{ job: JobOf<TDef>; canResume: boolean }>;
  /**
   * `GET /jobs`: the caller's own jobs, newest first, a page at a time. What a page
   * reloaded mid-job asks to find the job it was showing.
   * @example const { jobs } = await client.list({ status: ['pending', 'running'] })
   */
  list(query?: ListJobsQuery): Promise<{ jobs: JobOf<TDef>[]; nextCursor: string | null }>;
  /** `subscribeToJob` on the job's stream, with the client's headers and fetch. */
  subscribe(jobId: string, options?: SubscribeOptions<JobEventOf<TDef>>): Subscription;
  /** Shared, ref-counted watcher: several watchers of one job in one page share one connection. */
  watch(jobId: string): JobWatcher<JobOf<TDef>>;
}

/**
 * A client for the routes of `@jobstream/server` (docs/protocol.md). Every failure
 * rejects with a `JobClientError`; a problem body's `code` and the status are on it.
 *
 * @example
 * import type { courseJob } from '../server/jobs';
 * const client = createJobClient<typeof courseJob>({ baseUrl: '/api/generation' });
 * const { jobId } = await client.start({ examId: 'e1' });
 * const watcher = client.watch(jobId);
 */
export function createJobClient<TDef = AnyJobDefinition>(
  options: JobClientOptions,
): JobClient<TDef> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const { headers, fetch: fetcher } = options;
  const id = encodeURIComponent;

  const call = async (path: string, body?: unknown, signal?: AbortSignal): Promise<any> => {
    const init = new Headers(typeof headers === 'function' ? await headers() : headers);
    const post = body !== undefined;
    if (post) init.set('content-type', 'application/json');
    let response: Response;
    try {
      response = await (fetcher ?? fetch)(baseUrl + path, {
        method: post ? 'POST' : 'GET',
        headers: init,
        body: post ? JSON.stringify(body) : null,
        ...(signal ? { signal } : {}),
      });
    } catch (cause) {
      throw new JobClientError(
        'network',
        `Connection failed: ${(cause as Error)?.message ?? cause}`,
        {
          retryable: true,
          cause,
        },
      );
    }
    if (!response.ok) throw await httpError(response);
    try {
      return await response.json();
    } catch (cause) {
      throw new JobClientError('parse', 'The answer is not JSON.', { cause });
    }
  };

  const client: JobClient<TDef> = {
    baseUrl,
    start: (input, start) => call(start?.kind ? `/start/${id(start.kind)}` : '/start', input ?? {}),
    cancel: async (jobId, reason) => (await call('/cancel', { jobId, reason })).job,
    resume: (jobId) => call('/resume', { jobId }),
    status: (jobId, statusOptions) =>
      call(`/status/${id(jobId)}`, undefined, statusOptions?.signal),
    list: ({ signal, ...query } = {}) =>
      call(
        // Arrays become `a,b`, as the route reads them; an absent field is left out.
        `/jobs?${new URLSearchParams(Object.entries(query).filter(([, value]) => value != null) as [string, string][])}`,
        undefined,
        signal,
      ),
    subscribe: (jobId, subscribeOptions) =>
      subscribeToJob(`${baseUrl}/stream/${id(jobId)}`, {
        headers,
        fetch: fetcher,
        ...subscribeOptions,
      }),
    watch: (jobId) => watchJob(client, jobId),
  };
  return client;
}
