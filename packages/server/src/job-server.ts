import {
  failStaleJob,
  failStaleJobs,
  isJobStale,
  isTerminalStatus,
  type Job,
  type JobStore,
  JobstreamError,
  ProgressTracker,
  type ProgressTrackerOptions,
  type StaleJobRules,
} from '@jobstream/core';
import { JobServerConfigError } from './config-error.js';
import { type CorsOptions, corsHeaders, isRefusedCrossSite, preflight } from './cors.js';
import type { AnyJobDefinition } from './define-job.js';
import { StreamRegistry } from './event-stream.js';
import { errorResponse, json, problem } from './http-problem.js';
import { parseListQuery } from './list-query.js';
import { KeyedLock } from './owner-lock.js';
import { readJsonBody, readTextBody } from './read-body.js';
import { runJob } from './run-job.js';
import { withSeedAliases } from './seed-aliases.js';
import {
  DEFAULT_SIGNATURE_TOLERANCE_MS,
  SIGNATURE_HEADER,
  signBody,
  verifyBody,
} from './signature.js';
import { DEFAULT_HEARTBEAT_MS, SSE_HEADERS } from './sse-encoder.js';
import { describeIssues } from './standard-schema.js';

export type Handler = (request: Request) => Promise<Response>;

/** What a dispatcher is given to hand a job to whoever will run it. */
export interface DispatchContext {
  /** Runs the job in this process (what the default dispatcher does). Never rejects. */
  run(): Promise<void>;
  /**
   * A signed `POST` of `{ jobId }` to your `/process` route (needs `secret`), for handing
   * the job to another instance: `await fetch(await ctx.processRequest(url))`.
   */
  processRequest(url: string | URL): Promise<Request>;
}

export interface DispatchedJob {
  jobId: string;
  kind: string;
  ownerId: string;
}

export interface JobServerOptions {
  store: JobStore;
  /** The kinds of job this server runs. */
  jobs: readonly AnyJobDefinition[];
  /**
   * Who is asking: an owner id, or null for 401. A job owned by someone else answers
   * 404, exactly like one that does not exist.
   * @example authenticate: async (req) => (await getSession(req))?.userId ?? null
   */
  authenticate: (
    request: Request,
  ) => string | null | undefined | Promise<string | null | undefined>;
  /**
   * Hands a new or resumed job to whoever runs it. Default: run it in this process once
   * the current request has been answered.
   * @example dispatch: async (job, ctx) => { await fetch(await ctx.processRequest(`${origin}/api/generation/process`)) }
   */
  dispatch?: (job: DispatchedJob, ctx: DispatchContext) => void | Promise<void>;
  /**
   * HMAC secret of `POST /process` and `ctx.processRequest()`: a long random string, the
   * same on every instance. Required when `dispatch` is set (unless `processRoute` is
   * false); without it, `/process` answers 401 to everything.
   */
  secret?: string;
  /**
   * Serve `POST /process`. Set false when your `dispatch` runs jobs without it
   * (`ctx.run()`, or `runJob` in a queue consumer): then no `secret` is needed and the
   * route answers 404. @default true
   */
  processRoute?: boolean;
  /** How old a signed `/process` request may be. @default 300_000 */
  signatureToleranceMs?: number;
  /** Heartbeat comment interval on SSE streams. @default 15_000 */
  heartbeatMs?: number;
  /** `retry:` sent to SSE clients, ms. @default 3_000 */
  retryMs?: number;
  /** Where the routes are mounted. @default '' @example '/api/generation' */
  basePath?: string;
  /**
   * Per-owner limit of pending and running jobs; past it `start` and `resume` answer 429.
   * Starts hold it across instances too: concurrent starts by one owner are checked one
   * at a time within a process, and after creating, a start that finds `limit` active
   * jobs created before its own cancels its job (never run) and answers 429, so the
   * newest lose (exact up to the instances' clock skew on `createdAt`). Resumes are
   * checked within the process only. Off by default.
   * @example maxActiveJobsPerOwner: 3
   */
  maxActiveJobsPerOwner?: number;
  /**
   * Per-owner limit of open event streams on this instance; past it `GET /stream` answers
   * 429 `rate_limited` with `Retry-After: 5` (the client waits and tries again, so a tab
   * gets its stream once another closes). One page holds one stream per job it shows
   * (watchers share), so the default leaves room for many tabs while keeping one user
   * from holding thousands of connections. A stream counts until it ends: its client goes
   * away, its job ends, or at the latest its age limit (`maxStreamAgeMs`), which is what
   * frees the place of a viewer that vanished without closing its connection.
   * `Infinity` turns it off.
   * @default 32
   */
  maxStreamsPerOwner?: number;
  /**
   * The longest an event stream stays open. Each stream draws its own limit between 80 %
   * and 100 % of this (so streams opened together, by a deploy, do not come back
   * together); there the server sends `retry: 0` and ends the stream between two events.
   * The client reconnects at once with Last-Event-ID: nothing is lost or repeated, and
   * `@jobstream/client` stays `open` throughout, so the progress modal shows nothing (a
   * browser `EventSource` reconnects at once too, firing `error` first).
   *
   * Why: a viewer that vanishes without closing its connection (a phone changing
   * networks, a laptop shut) cannot be told from a quiet one, and would hold its place in
   * `maxStreamsPerOwner` and its memory until TCP gives up, about 15 minutes; and proxies
   * and platforms cut long requests anyway (Cloud Run's and Vercel's default limit is 5
   * minutes), which the viewer sees as a dropped connection. The default frees such a
   * place within 4 minutes, stays under those 5-minute cuts, and costs one reconnection
   * per viewer every 3.2 to 4 minutes: most jobs of a few minutes see none or one. Lower
   * it below a proxy's cut; `false` (or `Infinity`) turns rotation off.
   * @default 240_000 (4 minutes)
   * @example maxStreamAgeMs: 50_000 // a load balancer that ends requests at 60 s
   */
  maxStreamAgeMs?: number | false;
  /**
   * A `running` job not written for this long is taken for abandoned (its process died:
   * a deploy, a crash, a serverless time limit) and failed with `error.code`
   * `worker_lost` when its status or stream is read (or it is resumed), so no viewer
   * watches a frozen job; the user can resume it. Must exceed the longest time a live job goes without a
   * write (a long model call with no progress reported): a live job failed by mistake is
   * stopped (its tracker's `signal` aborts). `false` turns detection off.
   * @default 600_000 (10 minutes)
   * @example staleAfterMs: 20 * 60_000 // steps that wait on one slow call
   */
  staleAfterMs?: number | false;
  /**
   * A `pending` job not started for this long is failed with `error.code`
   * `never_started` (it was lost in dispatch). Default: `staleAfterMs` with the built-in
   * dispatcher (a job is pending for milliseconds there), off with a custom `dispatch`
   * (a queue may hold a job for long; set it above your queue's worst delay).
   */
  stalePendingAfterMs?: number | false;
  /**
   * The longest one run of a job may take (a kind's `timeLimitMs` overrides it). Past it
   * the job is failed with `error.code` `time_limit`, resumable (the next run skips the
   * completed steps), and the run's `signal` aborts. On serverless set it a little below
   * the function's limit (`maxDuration`), so a job that would be killed mid-write is ended
   * cleanly and the user sees it at once, not after `staleAfterMs`. Off by default.
   * @example timeLimitMs: 280_000 // Vercel, maxDuration = 300
   */
  timeLimitMs?: number;
  /**
   * Also look for stale jobs of this server's kinds every this many ms, on a timer that
   * never keeps the process alive and stops on `close()`. Off by default: the status and
   * stream routes already check the job they serve, which needs no timer (serverless);
   * a sweep also catches jobs nobody is watching (they count toward
   * `maxActiveJobsPerOwner`). On serverless, call `sweepStaleJobs()` from a cron route.
   * @example staleSweepIntervalMs: 60_000
   */
  staleSweepIntervalMs?: number;
  /** Clock for the staleness checks, for tests. @default () => new Date() */
  now?: () => Date;
  /** Cross-origin access, off by default. @example cors: { origins: ['https://app.example.com'] } */
  cors?: CorsOptions;
  /** Largest accepted request body. @default 65_536 */
  maxBodyBytes?: number;
  /** Copy payload fields to the top level of each SSE `data` (the seed's clients read them). @default true */
  topLevelFields?: boolean;
  /** Slow SSE consumers: bytes held per connection, and how long unread data may wait. */
  slowConsumer?: { maxQueuedBytes?: number; stallTimeoutMs?: number };
  /**
   * Passed to every job's `ProgressTracker`. A job's writes wait out a store outage for
   * `storeOutageMs` (30 s by default); writes made while answering a request (cancel,
   * resume) wait at most 2 s and then answer 503, which the client may retry. Both count
   * from the store's first failed call: a store whose client holds calls while it
   * reconnects (ioredis' defaults: over a minute) makes every request wait that long.
   */
  tracker?: ProgressTrackerOptions;
  /** Serverless runtimes: keeps the function alive for in-process work (`ctx.waitUntil`). */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Told about unexpected errors (store down, a failed dispatch). @default console.error */
  onError?: (error: unknown) => void;
}

export interface JobServer {
  /** The router: every route under `basePath`. */
  handle: Handler;
  /** `POST /start` (`/start/:kind` when the URL names a kind). */
  start: Handler;
  /** `POST /process`: runs a dispatched job, signed requests only. */
  process: Handler;
  /**
   * `GET /stream/:jobId`; without a string `jobId` (a framework's context object is
   * ignored) the job id is the URL's last path segment.
   */
  stream: (request: Request, jobId?: unknown) => Promise<Response>;
  cancel: Handler;
  resume: Handler;
  status: (request: Request, jobId?: unknown) => Promise<Response>;
  /**
   * `GET /jobs`: the caller's own jobs, newest first, `{ jobs, nextCursor }`. Query:
   * `status` (comma-separated or repeated), `kind`, `limit` (1–100, default 20), `cursor`
   * (the previous page's `nextCursor`). What a reloaded page asks to reopen its job.
   * @example GET /api/generation/jobs?status=pending,running
   */
  list: Handler;
  /**
   * Fails every stale job of this server's kinds now (see `staleAfterMs`) and returns
   * them. For a cron route on serverless; does nothing when detection is off.
   * @example export async function GET() { await jobServer.sweepStaleJobs(); return new Response(null, { status: 204 }); }
   */
  sweepStaleJobs(): Promise<Job[]>;
  /** Open SSE connections. */
  readonly activeStreams: number;
  /** Ends every open SSE stream and stops the stale-job timer (for shutdown and tests). */
  close(): void;
}

/**
 * What a job id may be: 1 to 200 characters, no `/` (it is a path segment) and no control
 * character (PostgreSQL text cannot hold NUL: a store would fail with a 500, not a 400).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
const JOB_ID = /^[^/\u0000-\u001f\u007f]{1,200}$/;
const JOB_ID_RULE = "jobId must be 1 to 200 characters, without '/' or control characters.";
/** How long a write made while a request waits rides out a store outage. */
const REQUEST_OUTAGE_MS = 2000;

/**
 * Creates the HTTP side of jobstream: Web-standard `(Request) => Promise<Response>`
 * handlers for every route of docs/protocol.md and a router over them.
 *
 * @example
 * const server = createJobServer({ store, jobs: [courseJob], authenticate, basePath: '/api/generation' });
 * http.createServer(toNodeHandler(server)).listen(3000);
 */
export function createJobServer(options: JobServerOptions): JobServer {
  const { store, authenticate } = options;
  if (!store) throw new JobServerConfigError('store', 'createJobServer needs a store.');
  if (typeof authenticate !== 'function') {
    throw new JobServerConfigError(
      'authenticate',
      'createJobServer needs authenticate(request) => ownerId | null.',
    );
  }
  const definitions = new Map<string, AnyJobDefinition>();
  for (const definition of options.jobs ?? []) {
    if (definitions.has(definition.kind)) {
      throw new JobServerConfigError(
        'jobs',
        `Two jobs are defined with kind "${definition.kind}".`,
      );
    }
    definitions.set(definition.kind, definition);
  }
  if (definitions.size === 0) {
    throw new JobServerConfigError('jobs', 'createJobServer needs at least one job.');
  }
  const processRoute = options.processRoute ?? true;
  if (options.secret !== undefined && (typeof options.secret !== 'string' || !options.secret)) {
    throw new JobServerConfigError(
      'secret',
      'secret is empty: set it to a long random string (the same on every instance), e.g. from process.env.JOBSTREAM_SECRET.',
    );
  }
  if (options.dispatch && processRoute && options.secret === undefined) {
    // Otherwise every ctx.processRequest() fails and /process refuses every request,
    // which only shows once a user starts a job in production.
    throw new JobServerConfigError(
      'secret',
      '`dispatch` is set but `secret` is not: set `secret` to a long random string, the same on every instance (e.g. process.env.JOBSTREAM_SECRET), so /process can verify ctx.processRequest(). If your dispatcher runs jobs without /process (ctx.run(), or runJob in a queue consumer), set `processRoute: false` instead.',
    );
  }
  const onlyDefinition = definitions.size === 1 ? [...definitions.values()][0] : undefined;

  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const report = options.onError ?? ((error: unknown) => console.error('[jobstream]', error));
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!(heartbeatMs > 0)) {
    throw new JobServerConfigError('heartbeatMs', 'heartbeatMs must be positive.');
  }
  const maxActive = options.maxActiveJobsPerOwner;
  if (maxActive !== undefined && !(Number.isSafeInteger(maxActive) && maxActive > 0)) {
    throw new JobServerConfigError(
      'maxActiveJobsPerOwner',
      'maxActiveJobsPerOwner must be a positive integer.',
    );
  }
  const timeLimit = options.timeLimitMs;
  if (timeLimit !== undefined && !(timeLimit > 0 && timeLimit < 2 ** 31)) {
    throw new JobServerConfigError(
      'timeLimitMs',
      'timeLimitMs must be a positive number of ms (below 2^31).',
    );
  }
  const ownerLock = new KeyedLock();
  /** Trackers that write while a request waits: a short outage wait, then a 503. */
  const requestTracker: ProgressTrackerOptions = {
    ...options.tracker,
    storeOutageMs: Math.min(options.tracker?.storeOutageMs ?? REQUEST_OUTAGE_MS, REQUEST_OUTAGE_MS),
  };
  const now = options.now ?? (() => new Date());
  const staleRules = staleRulesOf(options);
  const watchdogMs = staleWatchdogMs(options, staleRules);
  const maxStreams = options.maxStreamsPerOwner ?? 32;
  if (!(maxStreams >= 1)) {
    throw new JobServerConfigError(
      'maxStreamsPerOwner',
      'maxStreamsPerOwner must be at least 1 (Infinity turns the limit off).',
    );
  }
  const maxStreamAge = options.maxStreamAgeMs ?? 240_000;
  if (
    maxStreamAge !== false &&
    maxStreamAge !== Number.POSITIVE_INFINITY &&
    !(typeof maxStreamAge === 'number' && maxStreamAge > 0 && maxStreamAge < 2 ** 31)
  ) {
    throw new JobServerConfigError(
      'maxStreamAgeMs',
      'maxStreamAgeMs must be a positive number of ms (below 2^31), or false (or Infinity) to keep streams open until their job ends.',
    );
  }
  const streams = new StreamRegistry(store, {
    heartbeatMs,
    retryMs: options.retryMs ?? 3_000,
    topLevelFields: options.topLevelFields ?? true,
    maxQueuedBytes: options.slowConsumer?.maxQueuedBytes ?? 64 * 1024,
    stallTimeoutMs: options.slowConsumer?.stallTimeoutMs ?? 2 * heartbeatMs,
    maxBufferedEvents: 256,
    maxAgeMs:
      maxStreamAge === false || maxStreamAge === Number.POSITIVE_INFINITY ? null : maxStreamAge,
    onError: report,
    ...(watchdogMs === null
      ? {}
      : {
          stale: {
            quietMs: watchdogMs,
            now: () => now().getTime(),
            // A viewer's stream of a job whose worker died ends with job_failed, not silence.
            check: async (jobId: string) => {
              const job = await store.getJob(jobId);
              if (job?.status === 'running' || job?.status === 'pending') await settleStale(job);
            },
          },
        }),
  });

  const streamUrl = (jobId: string) => `${basePath}/stream/${encodeURIComponent(jobId)}`;

  function runInProcess(definition: AnyJobDefinition, jobId: string): Promise<void> {
    return runJob(store, definition, jobId, {
      tracker: options.tracker,
      onError: report,
      timeLimitMs: definition.timeLimitMs ?? options.timeLimitMs,
    });
  }

  async function dispatch(definition: AnyJobDefinition, job: Job): Promise<void> {
    const ctx: DispatchContext = {
      run: () => runInProcess(definition, job.id),
      processRequest: async (url) => {
        if (!options.secret || !processRoute) {
          throw new JobServerConfigError(
            'secret',
            'ctx.processRequest() needs the `secret` option and the /process route (processRoute: true).',
          );
        }
        const body = JSON.stringify({ jobId: job.id });
        const headers = await signBody(options.secret, body);
        return new Request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
      },
    };
    if (options.dispatch) {
      try {
        await options.dispatch({ jobId: job.id, kind: job.kind, ownerId: job.ownerId }, ctx);
      } catch (error) {
        // Nobody will run it: end the job rather than leave it pending forever.
        report(error);
        const tracker = new ProgressTracker(store, job.id, requestTracker);
        await tracker.fail({ message: 'The job could not be dispatched.' }).catch(report);
        tracker.close();
        throw new JobstreamError(
          'store_unavailable',
          'The job could not be dispatched; try again.',
        );
      }
      return;
    }
    // After the answer is on its way: a macrotask runs once the handler has returned.
    const work = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(ctx.run);
    options.waitUntil?.(work);
  }

  async function owner(request: Request): Promise<string> {
    const id = await authenticate(request);
    if (typeof id !== 'string' || id.length === 0) {
      throw new JobstreamError('unauthorized', 'Sign in to use this endpoint.');
    }
    return id;
  }

  /** The caller's job, or `not_found` for a missing job and for someone else's alike. */
  async function ownedJob(jobId: unknown, ownerId: string): Promise<Job> {
    if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
      throw new JobstreamError('invalid_input', JOB_ID_RULE);
    }
    const job = await store.getJob(jobId);
    if (!job || job.ownerId !== ownerId) {
      throw new JobstreamError('not_found', `Job ${jobId} does not exist.`);
    }
    return job;
  }

  /**
   * A running job whose worker is gone is failed before anyone is shown it (and before
   * it counts toward the active-job limit). Only kinds this server defines are judged.
   */
  async function settleStale(job: Job): Promise<Job> {
    const kindRules = rulesFor(job.kind);
    if (!kindRules) return job;
    const rules: StaleJobRules = { ...kindRules, now: now() };
    if (!isJobStale(job, rules)) return job;
    const failed = await failStaleJob(store, job, rules);
    // null: the worker (or another reader) wrote first; show what it wrote.
    return failed ?? (await store.getJob(job.id)) ?? job;
  }

  /** The staleness rules for a kind this server defines (its own override first), or null. */
  function rulesFor(kind: string): StaleJobRules | null {
    const own = definitions.get(kind)?.staleAfterMs;
    if (!definitions.has(kind) || own === false) return null;
    return own === undefined ? staleRules : { ...staleRules, staleAfterMs: own };
  }

  async function sweepStaleJobs(): Promise<Job[]> {
    const failed: Job[] = [];
    for (const kind of definitions.keys()) {
      const kindRules = rulesFor(kind);
      if (!kindRules) continue;
      for (let more = true; more; ) {
        const result = await failStaleJobs(store, { ...kindRules, kind, now: now() });
        failed.push(...result.failed);
        more = result.more;
      }
    }
    return failed;
  }

  let sweeping = false;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  if (options.staleSweepIntervalMs !== undefined && staleRules) {
    sweeper = setInterval(() => {
      if (sweeping) return; // a slow store: never stack sweeps
      sweeping = true;
      sweepStaleJobs()
        .catch(report)
        .finally(() => {
          sweeping = false;
        });
    }, options.staleSweepIntervalMs);
    // The server must never be the reason a process stays up.
    (sweeper as { unref?: () => void }).unref?.();
  }

  /**
   * Runs `section` (which creates or resumes a job) only while the owner is under the
   * limit. The check and the write run under a per-owner lock, so concurrent requests
   * in this process are admitted one at a time. Another instance's start is not seen
   * until its job is stored; `admittedAfterCreate` settles that race for starts.
   */
  function withinActiveLimit<T>(ownerId: string, section: () => Promise<T>): Promise<T> {
    if (maxActive === undefined) return section();
    return ownerLock.run(ownerId, async () => {
      await checkActiveLimit(ownerId, maxActive);
      return section();
    });
  }

  /**
   * Two instances can pass the check at once. So after creating, a start counts the
   * owner's active jobs ahead of its own in the store's order (`listJobs`: by creation
   * time, then id, the same for every instance); when `limit` are ahead, it cancels its
   * own job, never dispatched, and answers 429. The newest lose, so at most `limit` stay
   * admitted (give or take the instances' clock skew on `createdAt`).
   */
  async function admittedAfterCreate(job: Job, limit: number): Promise<void> {
    let ahead = 0;
    let seen = false;
    let cursor: string | null = null;
    do {
      const page = await store.listJobs({
        ownerId: job.ownerId,
        status: ['pending', 'running'],
        limit: 100,
        cursor,
      });
      // Newest first: the jobs after ours in the list were created before it.
      for (const other of page.jobs) {
        if (other.id === job.id) seen = true;
        else if (seen) ahead++;
      }
      cursor = ahead >= limit ? null : page.nextCursor;
    } while (cursor);
    if (!seen || ahead < limit) return;
    const tracker = new ProgressTracker(store, job.id, requestTracker);
    try {
      await tracker.cancel(`Over the limit of active jobs (${limit}).`);
    } finally {
      tracker.close();
    }
    throw new JobstreamError(
      'rate_limited',
      `You already have ${ahead} active jobs (the limit is ${limit}); wait for one to finish or cancel one.`,
    );
  }

  async function checkActiveLimit(ownerId: string, limit: number): Promise<void> {
    const list = () =>
      store.listJobs({ ownerId, status: ['pending', 'running'], limit }).then((p) => p.jobs);
    let jobs = await list();
    // An abandoned job must not hold a slot forever.
    const settled = await Promise.all(jobs.map(settleStale));
    if (settled.some((job, i) => job !== jobs[i])) jobs = await list();
    if (jobs.length >= limit) {
      throw new JobstreamError(
        'rate_limited',
        `You already have ${jobs.length} active jobs (the limit is ${limit}); wait for one to finish or cancel one.`,
      );
    }
  }

  function definitionFor(kind: string): AnyJobDefinition {
    const definition = definitions.get(kind);
    if (!definition) throw new JobstreamError('not_found', `There is no job kind "${kind}".`);
    return definition;
  }

  async function startJob(request: Request, kindFromPath?: string): Promise<Response> {
    const ownerId = await owner(request);
    const body = await readJsonBody(request, maxBodyBytes);
    let definition: AnyJobDefinition;
    let input: unknown;
    if (kindFromPath !== undefined) {
      definition = definitionFor(kindFromPath);
      input = body;
    } else if (onlyDefinition) {
      definition = onlyDefinition;
      input = body;
    } else {
      const envelope = body as { kind?: unknown; input?: unknown } | null;
      if (typeof envelope?.kind !== 'string') {
        throw new JobstreamError(
          'invalid_input',
          `Name the job: { "kind": one of ${[...definitions.keys()].join(', ')}, "input": {…} }, or POST /start/:kind.`,
        );
      }
      definition = definitionFor(envelope.kind);
      input = envelope.input;
    }
    const result = await definition.input['~standard'].validate(input);
    if (result.issues) {
      throw new JobstreamError('invalid_input', `Invalid input: ${describeIssues(result.issues)}`);
    }
    const estimate =
      typeof definition.estimatedDuration === 'function'
        ? definition.estimatedDuration(result.value)
        : definition.estimatedDuration;
    const { job } = await withinActiveLimit(ownerId, () =>
      store.createJob({
        ownerId,
        kind: definition.kind,
        input: result.value,
        steps: definition.steps,
        ...(estimate !== undefined ? { estimatedDuration: estimate } : {}),
      }),
    );
    if (maxActive !== undefined) await admittedAfterCreate(job, maxActive);
    await dispatch(definition, job);
    const url = streamUrl(job.id);
    return json({ jobId: job.id, streamUrl: url }, 202, { location: url });
  }

  async function processJob(request: Request): Promise<Response> {
    const body = await readTextBody(request, maxBodyBytes);
    const valid =
      options.secret !== undefined &&
      request.headers.has(SIGNATURE_HEADER) &&
      (await verifyBody(
        options.secret,
        body,
        request.headers,
        options.signatureToleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS,
      ));
    if (!valid) {
      throw new JobstreamError('invalid_signature', 'Missing, invalid or expired signature.');
    }
    let jobId: unknown;
    try {
      jobId = (JSON.parse(body) as { jobId?: unknown } | null)?.jobId;
    } catch {
      throw new JobstreamError('invalid_input', 'The body is not valid JSON.');
    }
    if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) {
      throw new JobstreamError('invalid_input', JOB_ID_RULE);
    }
    const job = await store.getJob(jobId);
    if (!job) throw new JobstreamError('not_found', `Job ${jobId} does not exist.`);
    const definition = definitionFor(job.kind);
    // Running a job that is no longer pending is a no-op, so a repeated delivery is harmless.
    const work = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() =>
      runInProcess(definition, job.id),
    );
    options.waitUntil?.(work);
    return json({ jobId: job.id }, 202);
  }

  async function streamJob(request: Request, jobIdArg?: unknown): Promise<Response> {
    const ownerId = await owner(request);
    const job = await settleStale(
      await ownedJob(typeof jobIdArg === 'string' ? jobIdArg : lastSegment(request), ownerId),
    );
    const after = lastEventId(request);
    if (isTerminalStatus(job.status) && after >= job.version) {
      return new Response(null, { status: 204 });
    }
    if (request.signal.aborted) return new Response(null, { status: 204 });
    if (streams.openBy(ownerId) >= maxStreams) {
      return problem(
        'rate_limited',
        `You have ${maxStreams} event streams open (the limit); close one, or wait.`,
        { 'retry-after': '5' },
      );
    }
    // An id past the job's last event (a client's bug or a lie) would skip every event,
    // the terminal one too, and the stream would never end: follow from the last one.
    const body = streams.open(job.id, Math.min(after, job.version), request.signal, ownerId);
    return new Response(body, { status: 200, headers: SSE_HEADERS });
  }

  async function cancelJob(request: Request): Promise<Response> {
    const ownerId = await owner(request);
    const body = (await readJsonBody(request, maxBodyBytes)) as {
      jobId?: unknown;
      reason?: unknown;
    } | null;
    const job = await ownedJob(body?.jobId, ownerId);
    const reason = body?.reason;
    if (reason !== undefined && reason !== null && typeof reason !== 'string') {
      throw new JobstreamError('invalid_input', 'reason must be a string.');
    }
    if (typeof reason === 'string' && reason.length > 1000) {
      throw new JobstreamError('invalid_input', 'reason must be at most 1000 characters.');
    }
    if (job.status === 'cancelled') return json({ job: withSeedAliases(job) });
    if (job.status === 'completed' || job.status === 'failed') {
      throw finished(job);
    }
    const tracker = new ProgressTracker(store, job.id, requestTracker);
    try {
      const cancelled = await tracker.cancel(reason ?? undefined);
      return json({ job: withSeedAliases(cancelled) });
    } catch (error) {
      // The job finished between our read and the cancel.
      const latest = await store.getJob(job.id);
      if (latest && (latest.status === 'completed' || latest.status === 'failed')) {
        throw finished(latest);
      }
      throw error;
    } finally {
      tracker.close();
    }
  }

  async function resumeJob(request: Request): Promise<Response> {
    const ownerId = await owner(request);
    const body = (await readJsonBody(request, maxBodyBytes)) as { jobId?: unknown } | null;
    // A frozen job can be retried directly, without a status read first.
    const job = await settleStale(await ownedJob(body?.jobId, ownerId));
    if (job.status !== 'failed') {
      throw new JobstreamError(
        'invalid_transition',
        `Only a failed job can be resumed; job ${job.id} is ${job.status}.`,
      );
    }
    const definition = definitionFor(job.kind);
    const resumed = await withinActiveLimit(ownerId, async () => {
      const tracker = new ProgressTracker(store, job.id, requestTracker);
      try {
        return await tracker.resume();
      } finally {
        tracker.close();
      }
    });
    await dispatch(definition, resumed);
    const url = streamUrl(job.id);
    return json({ jobId: job.id, streamUrl: url }, 202, { location: url });
  }

  async function statusOf(request: Request, jobIdArg?: unknown): Promise<Response> {
    const ownerId = await owner(request);
    const job = await settleStale(
      await ownedJob(typeof jobIdArg === 'string' ? jobIdArg : lastSegment(request), ownerId),
    );
    return json({ job: withSeedAliases(job), canResume: job.status === 'failed' });
  }

  /**
   * The caller's own jobs, newest first, a page at a time: what a page reloaded mid-job
   * asks to find what it was showing. The owner always comes from `authenticate`; a job
   * found stale is settled first, so none is listed as running when its worker is gone.
   */
  async function listOwnJobs(request: Request): Promise<Response> {
    const ownerId = await owner(request);
    const filter = parseListQuery(new URL(request.url).searchParams, definitions);
    const page = await store.listJobs({ ...filter, ownerId });
    const wanted = filter.status as readonly string[] | undefined;
    const jobs = (await Promise.all(page.jobs.map(settleStale))).filter(
      // Settling moves a job out of `running`: it no longer matches that filter.
      (job) => !wanted || wanted.includes(job.status),
    );
    return json({ jobs: jobs.map(withSeedAliases), nextCursor: page.nextCursor });
  }

  /** Wraps a handler: method check, CORS, and every error as a problem body. */
  function route<A extends unknown[]>(
    method: 'GET' | 'POST',
    handler: (request: Request, ...args: A) => Promise<Response>,
  ) {
    return async (request: Request, ...args: A): Promise<Response> => {
      let response: Response;
      if (request.method === 'OPTIONS' && options.cors) {
        return preflight(request, options.cors, method);
      }
      if (request.method !== method) {
        response = problem('method_not_allowed', `Use ${method} on this route.`, {
          allow: method,
        });
      } else if (method === 'POST' && isRefusedCrossSite(request, options.cors)) {
        response = problem(
          'forbidden',
          'Cross-site requests are refused; list the origin in the server option cors.origins to allow it.',
        );
      } else {
        try {
          response = await handler(request, ...args);
        } catch (error) {
          response = errorResponse(error, report);
        }
      }
      return options.cors ? withCors(request, response, options.cors) : response;
    };
  }

  const start = route('POST', (request: Request) => startJob(request));
  const startKind = route('POST', (request: Request, kind: string) => startJob(request, kind));
  const process = route('POST', processJob);
  const stream = route('GET', streamJob);
  const cancel = route('POST', cancelJob);
  const resume = route('POST', resumeJob);
  const status = route('GET', statusOf);
  const list = route('GET', listOwnJobs);

  async function handle(request: Request): Promise<Response> {
    let path: string;
    try {
      path = new URL(request.url).pathname;
    } catch {
      return problem('invalid_input', 'Bad request URL.');
    }
    if (basePath && path !== basePath && !path.startsWith(`${basePath}/`)) {
      return notFound(request);
    }
    const segments = path.slice(basePath.length).split('/').filter(Boolean);
    let decoded: string[];
    try {
      decoded = segments.map((segment) => decodeURIComponent(segment));
    } catch {
      return notFound(request);
    }
    const [name, param, extra] = decoded;
    if (extra !== undefined) return notFound(request);
    switch (name) {
      case 'start':
        return param === undefined ? start(request) : startKind(request, param);
      case 'process':
        return param === undefined && processRoute ? process(request) : notFound(request);
      case 'cancel':
        return param === undefined ? cancel(request) : notFound(request);
      case 'resume':
        return param === undefined ? resume(request) : notFound(request);
      case 'stream':
        return param === undefined ? notFound(request) : stream(request, param);
      case 'status':
        return param === undefined ? notFound(request) : status(request, param);
      case 'jobs':
        return param === undefined ? list(request) : notFound(request);
      default:
        return notFound(request);
    }
  }

  function notFound(request: Request): Response {
    const response = problem('not_found', 'No such route.');
    return options.cors ? withCors(request, response, options.cors) : response;
  }

  return {
    handle,
    start,
    process,
    stream,
    cancel,
    resume,
    status,
    list,
    sweepStaleJobs,
    get activeStreams() {
      return streams.size;
    },
    close: () => {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      streams.closeAll();
    },
  };
}

/**
 * How long a live-followed job may be quiet before the stream watchdog asks whether its
 * worker is gone: the shortest stale limit of any kind, at most a minute (a check is one
 * `getJob`), or null when no kind is ever judged stale.
 */
function staleWatchdogMs(options: JobServerOptions, rules: StaleJobRules | null): number | null {
  const limits = (options.jobs ?? [])
    .map((job) => (job.staleAfterMs === undefined ? rules?.staleAfterMs : job.staleAfterMs))
    .filter((ms): ms is number => typeof ms === 'number');
  return limits.length ? Math.min(60_000, ...limits) : null;
}

/** The staleness rules of the options, or null when detection is off. */
function staleRulesOf(options: JobServerOptions): StaleJobRules | null {
  const positive = (value: unknown) => typeof value === 'number' && value > 0;
  const staleAfterMs = options.staleAfterMs ?? 600_000;
  if (staleAfterMs !== false && !positive(staleAfterMs)) {
    throw new JobServerConfigError(
      'staleAfterMs',
      'staleAfterMs must be a positive number of ms (longer than your slowest quiet step), or false to turn stale-job detection off.',
    );
  }
  const pending = options.stalePendingAfterMs ?? (options.dispatch ? false : staleAfterMs);
  if (pending !== false && !positive(pending)) {
    throw new JobServerConfigError(
      'stalePendingAfterMs',
      'stalePendingAfterMs must be a positive number of ms, or false.',
    );
  }
  const sweep = options.staleSweepIntervalMs;
  if (sweep !== undefined && !positive(sweep)) {
    throw new JobServerConfigError(
      'staleSweepIntervalMs',
      'staleSweepIntervalMs must be a positive number of ms.',
    );
  }
  if (staleAfterMs === false) {
    if (sweep !== undefined) {
      throw new JobServerConfigError(
        'staleSweepIntervalMs',
        'staleSweepIntervalMs needs stale-job detection: remove staleAfterMs: false, or the sweep.',
      );
    }
    return null;
  }
  return { staleAfterMs, ...(pending !== false ? { pendingAfterMs: pending } : {}) };
}

function finished(job: Job): JobstreamError {
  return new JobstreamError(
    'job_finished',
    `Job ${job.id} already ${job.status === 'completed' ? 'completed' : 'failed'}; it cannot be cancelled.`,
  );
}

function lastSegment(request: Request): string {
  const segments = new URL(request.url).pathname.split('/').filter(Boolean);
  try {
    return decodeURIComponent(segments[segments.length - 1] ?? '');
  } catch {
    return '';
  }
}

/** `Last-Event-ID` header, else `?lastEventId=`; absent means 0. Anything else is a 400. */
function lastEventId(request: Request): number {
  const header = request.headers.get('last-event-id');
  const raw = header ?? new URL(request.url).searchParams.get('lastEventId');
  if (raw === null || raw.trim() === '') return 0;
  const text = raw.trim();
  if (!/^\d{1,15}$/.test(text)) {
    throw new JobstreamError(
      'invalid_input',
      'Last-Event-ID must be the id of an event: a non-negative integer.',
    );
  }
  return Number(text);
}

function withCors(request: Request, response: Response, cors: CorsOptions): Response {
  const headers = corsHeaders(request, cors);
  if (!headers) return response;
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'vary') response.headers.append('vary', value);
    else response.headers.set(name, value);
  }
  return response;
}

/** Next.js App Router: `export const { GET, POST, OPTIONS } = toNextHandlers(server);` */
export function toNextHandlers(server: Pick<JobServer, 'handle'>): {
  GET: Handler;
  POST: Handler;
  OPTIONS: Handler;
} {
  const handler: Handler = (request) => server.handle(request);
  return { GET: handler, POST: handler, OPTIONS: handler };
}
