import { isJobstreamError, JobstreamError } from './errors.js';
import { type EventDraft, isTerminalEventType, type JobEvent } from './events.js';
import type { Job, JobError, JobStatus, JobStep, NewJob } from './job.js';
import { roundProgress, weightedProgress } from './progress-math.js';
import { isTerminalStatus } from './state-machine.js';
import type { JobStore } from './store.js';

export interface ProgressTrackerOptions {
  /**
   * Minimum time between two progress events. Bursts in between are coalesced into
   * one event carrying the latest value. @default 50 (at most ~20 events a second)
   */
  coalesceMs?: number;
  /** Retries of a write that lost a version race to another writer. @default 5 */
  maxConflictRetries?: number;
  /**
   * How long a write waits out a store that answers `store_unavailable` (a database
   * restart, a failover, a dropped connection), retrying with backoff from 100 ms doubling
   * to 2 s; after that the write rejects with that error. A write whose answer was lost is
   * not written twice: before retrying, the tracker looks for its own events in the store.
   * 0 retries nothing. @default 30000
   */
  storeOutageMs?: number;
}

/** A batch sent to the store whose outcome is unknown (the answer was lost). */
interface UnconfirmedBatch {
  base: number;
  drafts: Draft[];
}

type Draft = EventDraft;

interface PendingProgress {
  stepProgress: number;
  message: string | undefined;
}

function checkPercent(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new JobstreamError(
      'invalid_input',
      `${what} must be a number from 0 to 100, got ${String(value)}.`,
    );
  }
  return roundProgress(value);
}

function toJobError(error: unknown): JobError {
  if (typeof error === 'string') return { message: error };
  if (typeof error !== 'object' || error === null) return { message: 'The job failed.' };
  const { message, code, details } = error as {
    message?: unknown;
    code?: unknown;
    details?: unknown;
  };
  const text =
    typeof message === 'string' && message
      ? message
      : error instanceof Error
        ? error.name
        : 'The job failed.';
  return {
    message: text,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof details === 'object' && details !== null && !Array.isArray(details)
      ? { details: JSON.parse(JSON.stringify(details)) as Record<string, unknown> }
      : {}),
  };
}

/**
 * What a job's code calls to report what it is doing. Every call becomes one or more
 * events committed to the store; bursts of `progress()` are coalesced so a model that
 * streams tokens does not flood the wire, and the last value is always written.
 *
 * `signal` aborts when the job is cancelled by anyone sharing the store (another
 * request, another process): pass it to the model call so it stops at once.
 *
 * @example
 * const tracker = await ProgressTracker.create(store, { ownerId, kind: 'course', input, steps });
 * await tracker.start();
 * await tracker.startStep('fetch_questions');
 * tracker.progress(40, 'Read 40 of 100 questions');
 * await tracker.completeStep();
 * await tracker.complete({ courseId });
 */
export class ProgressTracker<TInput = unknown, TResult = unknown, TStep extends string = string> {
  readonly store: JobStore;
  readonly jobId: string;
  readonly #coalesceMs: number;
  readonly #maxRetries: number;
  readonly #outageMs: number;
  #job: Job<TInput, TResult, TStep> | null = null;
  /** Serialises writes so this tracker never races itself. */
  #chain: Promise<unknown> = Promise.resolve();
  #pendingStep: PendingProgress | null = null;
  #pendingTopic: number | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #lastFlushAt = 0;
  #backgroundError: unknown = null;
  readonly #abort = new AbortController();
  #unwatch: (() => void) | null = null;
  #watching: Promise<void> | null = null;
  /** The watch failed; set up again after the next write that reaches the store. */
  #rewatch = false;
  /** This tracker's own commit of a terminal event is under way or done. */
  #terminalInFlight = false;
  #wroteTerminal = false;
  /** Set once another writer ended (or restarted) the run this tracker was driving. */
  #lost: JobstreamError | null = null;

  /**
   * Creates a job in `pending` and returns it (the seed's `ProgressTracker.createJob`).
   * Open a tracker on it with `new ProgressTracker(store, job.id)`.
   */
  static async createJob<TInput, TStep extends string>(
    store: JobStore,
    job: NewJob<TInput, TStep>,
  ): Promise<Job<TInput, unknown, TStep>> {
    const { job: created } = await store.createJob(job as NewJob);
    return created as Job<TInput, unknown, TStep>;
  }

  /** Creates a job and returns a tracker opened on it. */
  static async create<TInput, TResult = unknown, TStep extends string = string>(
    store: JobStore,
    job: NewJob<TInput, TStep>,
    options?: ProgressTrackerOptions,
  ): Promise<ProgressTracker<TInput, TResult, TStep>> {
    const { job: created } = await store.createJob(job as NewJob);
    const tracker = new ProgressTracker<TInput, TResult, TStep>(store, created.id, options);
    tracker.#job = created as Job<TInput, TResult, TStep>;
    return tracker;
  }

  /** Opens a tracker on an existing job (created here or by another process). */
  constructor(store: JobStore, jobId: string, options: ProgressTrackerOptions = {}) {
    if (typeof jobId !== 'string' || jobId.length === 0) {
      throw new JobstreamError('invalid_input', 'ProgressTracker needs a job id.');
    }
    this.store = store;
    this.jobId = jobId;
    this.#coalesceMs = options.coalesceMs ?? 50;
    this.#maxRetries = options.maxConflictRetries ?? 5;
    this.#outageMs = options.storeOutageMs ?? 30_000;
  }

  /**
   * Aborts when the job is cancelled from anywhere; its `reason` is a `JobstreamError`
   * with code `job_cancelled`. It also aborts, with code `job_finished`, when another
   * writer ends the run this tracker is driving, e.g. `failStaleJobs` declared the worker
   * lost while it was only quiet: the run must stop, as the user may already be retrying
   * it. Every later write then rejects with that reason. Reading it starts watching the store.
   */
  get signal(): AbortSignal {
    void this.watch().catch(() => {});
    return this.#abort.signal;
  }

  /** The job as this tracker last wrote or read it. */
  get job(): Job<TInput, TResult, TStep> | null {
    return this.#job;
  }

  /** Reads the job from the store. Throws `not_found` when it does not exist. */
  async load(): Promise<Job<TInput, TResult, TStep>> {
    const job = (await this.store.getJob(this.jobId)) as Job<TInput, TResult, TStep> | null;
    if (!job) throw new JobstreamError('not_found', `Job ${this.jobId} does not exist.`);
    this.#job = job;
    if (job.status === 'cancelled') this.#fireCancel(job.cancelReason);
    return job;
  }

  /**
   * Subscribes to the job so `signal` fires on a cancel made elsewhere. Called for
   * you by `start()` and by reading `signal`; resolves once the subscription is live.
   */
  watch(): Promise<void> {
    if (this.#watching) return this.#watching;
    const watching = (async () => {
      const unsubscribe = await this.store.subscribe(this.jobId, (event: JobEvent) => {
        if (event.type === 'job_cancelled') this.#fireCancel(event.data.reason);
        else if (
          (event.type === 'job_failed' || event.type === 'job_completed') &&
          !this.#terminalInFlight &&
          !this.#wroteTerminal &&
          this.#job?.status === 'running'
        ) {
          this.#fireLost(event.type === 'job_failed' ? 'failed' : 'completed', event);
        }
      });
      if (this.#unwatch === null && !this.#closed) this.#unwatch = unsubscribe;
      else unsubscribe();
      // A cancel committed before we subscribed is seen by reading once.
      const job = await this.store.getJob(this.jobId);
      if (job?.status === 'cancelled') this.#fireCancel(job.cancelReason);
    })();
    this.#watching = watching;
    // Failed (the store was down): the next successful write tries again.
    watching.catch(() => {
      if (this.#watching === watching) {
        this.#watching = null;
        this.#rewatch = true;
      }
    });
    return watching;
  }

  #closed = false;

  /** Stops watching the store and drops pending timers. Terminal writes call it. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#unwatch?.();
    this.#unwatch = null;
  }

  #fireCancel(reason: string | null): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(
      new JobstreamError(
        'job_cancelled',
        `Job ${this.jobId} was cancelled${reason ? `: ${reason}` : '.'}`,
        {
          details: { reason },
        },
      ),
    ); // Nothing more will happen to this job through this tracker.
    this.close();
  }

  /** Stops this tracker for good: someone else ended the run it was driving. */
  #fireLost(status: JobStatus, event?: JobEvent): void {
    if (this.#lost || this.#abort.signal.aborted) return;
    const error = event?.type === 'job_failed' ? event.data.error : null;
    this.#lost = new JobstreamError(
      'job_finished',
      `Job ${this.jobId} was ${status === 'pending' || status === 'running' ? 'restarted' : status} by another writer${
        error ? ` (${error.code ? `${error.code}: ` : ''}${error.message})` : ''
      }; this run stops.`,
      { details: { status, ...(error ? { error } : {}) } },
    );
    this.#abort.abort(this.#lost);
    this.close();
  }

  /**
   * pending → running for exactly one caller: true when this call moved the job, false
   * when it was not pending (already claimed, finished, or missing). Two dispatches of
   * one job (a retried queue message) run it once. The claim carries a fresh `runId`,
   * so a claim whose answer was lost is recognised as this one's and not another's.
   */
  async claim(): Promise<boolean> {
    const runId = globalThis.crypto.randomUUID();
    let mine = false;
    try {
      await this.#write((job) => {
        mine = job.status === 'pending';
        return mine ? [{ type: 'job_started', data: { runId } }] : [];
      }, false);
    } catch (error) {
      if (isJobstreamError(error, 'not_found')) return false;
      throw error;
    }
    if (mine) void this.watch().catch(() => {});
    return mine;
  }

  /** pending → running. */
  async start(message?: string): Promise<Job<TInput, TResult, TStep>> {
    void this.watch().catch(() => {});
    return this.#write((job) => (job.status === 'pending' ? [startDraft(message)] : []), true);
  }

  /**
   * Starts a declared step (and starts the job if it is pending). A step still running
   * is completed first, as moving on means it is done.
   */
  async startStep(step: TStep, message?: string): Promise<Job<TInput, TResult, TStep>> {
    return this.#write((job) => {
      const { index, def } = findStep(job, step);
      const drafts: Draft[] = [];
      if (job.status === 'pending') drafts.push(startDraft());
      const running = job.steps.find((s) => s.status === 'running');
      if (running) drafts.push(completeStepDraft(job, running));
      drafts.push({
        type: 'step_started',
        data: { step, stepIndex: index + 1, message: message ?? `${def.label}…` },
      });
      return drafts;
    }, true);
  }

  /**
   * Progress inside the current step, 0–100. Cheap to call often: events are coalesced
   * to one per `coalesceMs`, the latest value wins, and nothing is awaited. A write that
   * fails is reported by the next awaited call (or `flush()`).
   */
  progress(stepProgress: number, message?: string): void {
    const value = checkPercent(stepProgress, 'progress');
    if (message !== undefined && typeof message !== 'string') {
      throw new JobstreamError('invalid_input', 'message must be a string.');
    }
    this.#pendingStep = { stepProgress: value, message };
    this.#schedule();
  }

  /** Progress inside the current topic, 0–100, coalesced like `progress()`. */
  topicProgress(progress: number): void {
    this.#pendingTopic = checkPercent(progress, 'topic progress');
    this.#schedule();
  }

  /** Writes coalesced progress now and reports a background write that failed. */
  async flush(): Promise<Job<TInput, TResult, TStep>> {
    return this.#write(() => [], false);
  }

  /** Completes the running step (or `step`, when given). Pending progress is written first. */
  async completeStep(
    messageOrOptions?: string | { message?: string; meta?: Record<string, unknown>; step?: TStep },
  ): Promise<Job<TInput, TResult, TStep>> {
    const options =
      typeof messageOrOptions === 'string'
        ? { message: messageOrOptions }
        : (messageOrOptions ?? {});
    return this.#write((job) => {
      const drafts: Draft[] = [];
      const target = options.step
        ? job.steps[findStep(job, options.step).index]
        : job.steps.find((s) => s.status === 'running');
      if (target?.status !== 'running') {
        if (target && target.status === 'completed') return drafts;
        throw new JobstreamError(
          'invalid_input',
          options.step
            ? `Step "${options.step}" is not running.`
            : 'No step is running: call startStep() first.',
        );
      }
      drafts.push(completeStepDraft(job, target, options.message, options.meta));
      return drafts;
    }, true);
  }

  /** Starts a topic inside the current step ("topic 3 of 8: Cardiology"). */
  async startTopic(
    topicName: string,
    options: { index?: number; count?: number } = {},
  ): Promise<Job<TInput, TResult, TStep>> {
    if (typeof topicName !== 'string' || topicName.length === 0) {
      throw new JobstreamError('invalid_input', 'startTopic needs a topic name.');
    }
    return this.#write((job) => {
      const drafts: Draft[] = [];
      const topicIndex = options.index ?? job.topicsCompleted + 1;
      const topicCount = options.count ?? job.currentTopic?.count ?? undefined;
      drafts.push({
        type: 'topic_started',
        data: { topicName, topicIndex, ...(topicCount != null ? { topicCount } : {}) },
      });
      return drafts;
    }, true);
  }

  /** Completes the current topic; `fields` are app data (the course app: `lessonsGenerated`). */
  async completeTopic(fields: Record<string, unknown> = {}): Promise<Job<TInput, TResult, TStep>> {
    return this.#write((job) => {
      const drafts: Draft[] = [];
      const topic = job.currentTopic;
      if (!topic)
        throw new JobstreamError('invalid_input', 'No topic is running: call startTopic() first.');
      drafts.push({
        type: 'topic_completed',
        data: {
          ...fields,
          topicName: topic.name,
          topicIndex: topic.index,
          duration: Math.max(0, Date.now() - Date.parse(topic.startedAt)),
        },
      });
      return drafts;
    }, true);
  }

  /** running → completed, with the job's result. A running step is completed first. */
  async complete(result: TResult): Promise<Job<TInput, TResult, TStep>> {
    const job = await this.#write((current) => {
      const drafts: Draft[] = [];
      const running = current.steps.find((s) => s.status === 'running');
      if (running) drafts.push(completeStepDraft(current, running));
      drafts.push({
        type: 'job_completed',
        data: { result: result ?? null, totalDuration: sinceMs(current.startedAt) },
      });
      return drafts;
    }, true);
    this.close();
    return job;
  }

  /** Ends the job as failed, recording which step failed. A pending job is started first. */
  async fail(error: unknown): Promise<Job<TInput, TResult, TStep>> {
    const jobError = toJobError(error);
    const job = await this.#write((current) => {
      const drafts: Draft[] = current.status === 'pending' ? [startDraft()] : [];
      const running = current.steps.find((s) => s.status === 'running');
      drafts.push({
        type: 'job_failed',
        data: { error: jobError, failedStep: running?.name ?? null },
      });
      return drafts;
    }, false);
    this.close();
    return job;
  }

  /** Cancels the job. Idempotent on a cancelled job; `invalid_transition` on a finished one. */
  async cancel(reason?: string): Promise<Job<TInput, TResult, TStep>> {
    const job = await this.#write(
      (current) =>
        current.status === 'cancelled'
          ? []
          : [
              {
                type: 'job_cancelled',
                data: { reason: reason ?? null, cancelledAt: new Date().toISOString() },
              },
            ],
      false,
    );
    this.#fireCancel(job.cancelReason);
    this.close();
    return job;
  }

  /** failed → pending, so the job can run again from its first unfinished step. */
  async resume(message?: string): Promise<Job<TInput, TResult, TStep>> {
    const job = await this.#write(
      () => [{ type: 'job_resumed', data: message === undefined ? {} : { message } }],
      false,
    );
    // fail() closed the watch; the next run must hear a cancel again.
    this.#wroteTerminal = false;
    this.#closed = false;
    this.#watching = null;
    void this.watch().catch(() => {});
    return job;
  }

  /** The seed's API: moves the job to `status` through the matching transition. */
  async updateStatus(status: JobStatus, detail?: unknown): Promise<Job<TInput, TResult, TStep>> {
    switch (status) {
      case 'running':
        return this.start();
      case 'completed':
        return this.complete((detail ?? null) as TResult);
      case 'failed':
        return this.fail(detail ?? 'The job failed.');
      case 'cancelled':
        return this.cancel(typeof detail === 'string' ? detail : undefined);
      case 'pending':
        return this.resume();
      default:
        throw new JobstreamError('invalid_input', `Unknown status "${String(status)}".`);
    }
  }

  /** The seed's API: starts step `name`, which must be declared at 1-based position `index`. */
  async updateStep(
    name: TStep,
    index?: number,
    message?: string,
  ): Promise<Job<TInput, TResult, TStep>> {
    if (index !== undefined) {
      const job = this.#job ?? (await this.load());
      const position = findStep(job, name).index + 1;
      if (index !== position) {
        throw new JobstreamError(
          'invalid_input',
          `Step "${name}" is step ${position} of ${job.totalSteps}, not ${index} (indexes are 1-based).`,
        );
      }
    }
    return this.startStep(name, message);
  }

  #schedule(): void {
    if (this.#timer) return;
    const delay = Math.max(0, this.#lastFlushAt + this.#coalesceMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#write(() => [], false).catch((error) => {
        if (this.#abort.signal.aborted) return; // the signal already tells the job
        if (!isJobstreamError(error, 'job_cancelled')) this.#backgroundError ??= error;
      });
    }, delay);
  }

  /** Takes the coalesced progress waiting to be written. */
  #takePending(): { step: PendingProgress | null; topic: number | null } {
    const pending = { step: this.#pendingStep, topic: this.#pendingTopic };
    this.#pendingStep = null;
    this.#pendingTopic = null;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    return pending;
  }

  /** Puts back progress a failed write took, unless newer progress came in meanwhile. */
  #restorePending(pending: { step: PendingProgress | null; topic: number | null }): void {
    if (this.#closed) return;
    this.#pendingStep ??= pending.step;
    this.#pendingTopic ??= pending.topic;
  }

  /** Pending progress as drafts valid against `job` (none once the job stopped running). */
  #pendingDrafts(
    job: Job<TInput, TResult, TStep>,
    pending: { step: PendingProgress | null; topic: number | null },
  ): Draft[] {
    const drafts: Draft[] = [];
    if (job.status !== 'running') return drafts;
    const running = job.steps.find((s) => s.status === 'running');
    if (pending.step && running) {
      const overall = Math.max(
        job.progress,
        weightedProgress(job.steps, pending.step.stepProgress),
      );
      drafts.push({
        type: 'step_progress',
        data: {
          step: running.name,
          progress: roundProgress(overall),
          stepProgress: pending.step.stepProgress,
          ...(pending.step.message !== undefined ? { message: pending.step.message } : {}),
        },
      });
    }
    if (pending.topic !== null && job.currentTopic) {
      drafts.push({
        type: 'topic_progress',
        data: { topicName: job.currentTopic.name, progress: pending.topic },
      });
    }
    if (drafts.length) this.#lastFlushAt = Date.now();
    return drafts;
  }

  /**
   * Runs `build` against the freshest job and commits what it returns, one write at a
   * time. A version race is retried on a re-read job; a job cancelled elsewhere fires
   * `signal` and rejects with `job_cancelled`.
   */
  #write(
    build: (job: Job<TInput, TResult, TStep>) => Draft[],
    reportBackground: boolean,
  ): Promise<Job<TInput, TResult, TStep>> {
    const run = async (): Promise<Job<TInput, TResult, TStep>> => {
      if (this.#lost) throw this.#lost;
      if (reportBackground && this.#backgroundError) {
        const error = this.#backgroundError;
        this.#backgroundError = null;
        throw error;
      }
      const pending = this.#takePending();
      try {
        const outage = new OutageWait(this.#outageMs, this.#abort.signal);
        const unconfirmed: UnconfirmedBatch[] = [];
        for (let attempt = 0; ; ) {
          let job: Job<TInput, TResult, TStep>;
          try {
            job = this.#job ?? (await this.load());
            const landed = await this.#findLanded(unconfirmed);
            if (landed) return landed;
          } catch (error) {
            if (await outage.wait(error)) continue;
            throw error;
          }
          let drafts: Draft[];
          try {
            drafts = [...this.#pendingDrafts(job, pending), ...build(job)];
          } catch (error) {
            this.#throwIfCancelled(job);
            throw error;
          }
          if (drafts.length === 0) return job;
          const terminal = drafts.some((d) => isTerminalEventType(d.type));
          if (terminal) this.#terminalInFlight = true;
          try {
            const { job: next } = await this.store.commit(this.jobId, {
              expectedVersion: job.version,
              events: drafts,
            });
            if (terminal) this.#wroteTerminal = true;
            this.#job = next as Job<TInput, TResult, TStep>;
            if (this.#rewatch && !this.#closed) {
              this.#rewatch = false;
              void this.watch().catch(() => {});
            }
            return this.#job;
          } catch (error) {
            if (isJobstreamError(error, 'store_unavailable')) {
              // Sent, maybe written: the next round looks for it before writing again.
              unconfirmed.push({ base: job.version, drafts });
              if (await outage.wait(error)) continue;
              throw error;
            }
            const retriable =
              isJobstreamError(error, 'conflict') || isJobstreamError(error, 'invalid_transition');
            if (!retriable) throw error;
            // A client that resends a command after a reconnect (ioredis does) can find its
            // own first send already written: that is a success, not a race lost.
            unconfirmed.push({ base: job.version, drafts });
            let fresh: Job<TInput, TResult, TStep>;
            try {
              const landed = await this.#findLanded(unconfirmed);
              if (landed) return landed;
              fresh = await this.load();
            } catch (readError) {
              if (await outage.wait(readError)) continue;
              throw readError;
            }
            this.#throwIfCancelled(fresh);
            await this.#throwIfRunLost(job, fresh);
            if (isJobstreamError(error, 'invalid_transition') || attempt++ >= this.#maxRetries)
              throw error;
          }
        }
      } catch (error) {
        // Not written: the latest progress must still reach the store with a later write.
        this.#restorePending(pending);
        throw error;
      }
    };
    const guarded = () =>
      run().finally(() => {
        this.#terminalInFlight = false;
      });
    const result = this.#chain.then(guarded, guarded);
    this.#chain = result.catch(() => {});
    return result;
  }

  /**
   * Whether one of the batches whose answer was lost is in the store: the events right
   * after its base version are its events (same types, same data). At most one can be,
   * as the store takes one batch per version. Returns the job re-read after it. A batch
   * whose base is followed by other events can never land and is dropped from the list.
   */
  async #findLanded(batches: UnconfirmedBatch[]): Promise<Job<TInput, TResult, TStep> | null> {
    for (const batch of [...batches]) {
      const { base, drafts } = batch;
      const events = await this.store.readEvents(this.jobId, { after: base, limit: drafts.length });
      if (events.length === 0) continue; // nothing after it yet: it may still be written
      const mine =
        events.length === drafts.length &&
        events.every((e, i) => e.type === drafts[i]?.type && sameJson(e.data, drafts[i]?.data));
      if (mine) {
        if (drafts.some((d) => isTerminalEventType(d.type))) this.#wroteTerminal = true;
        // Forgotten only once the re-read worked: if it fails, the next round must find
        // the batch again, not rebuild it (a rebuilt batch differs, e.g. in a duration).
        const job = await this.load();
        batches.length = 0;
        return job;
      }
      batches.splice(batches.indexOf(batch), 1);
    }
    return null;
  }

  /**
   * A write against a running job lost a race. When the writer that won ended the run
   * (failed, completed, or failed and resumed it, so a new run may be going), this run
   * must stop rather than write into a job it no longer owns.
   */
  async #throwIfRunLost(
    known: Job<TInput, TResult, TStep>,
    fresh: Job<TInput, TResult, TStep>,
  ): Promise<void> {
    if (known.status !== 'running' || this.#wroteTerminal) return;
    let ended = fresh.status === 'failed' || fresh.status === 'completed';
    // Still running or pending: look for a fail and resume in between.
    for (let after = known.version; !ended && after < fresh.version; ) {
      const events = await this.store.readEvents(this.jobId, { after, limit: 1000 });
      if (events.length === 0) break;
      ended = events.some((e) => e.id <= fresh.version && isTerminalEventType(e.type));
      after = (events[events.length - 1] as JobEvent).id;
    }
    if (!ended) return;
    this.#fireLost(fresh.status);
    throw this.#lost ?? this.#abort.signal.reason;
  }

  #throwIfCancelled(job: Job<TInput, TResult, TStep>): void {
    if (job.status !== 'cancelled') return;
    this.#fireCancel(job.cancelReason);
    throw this.#abort.signal.reason;
  }

  /** True once the job reached a terminal state (as far as this tracker knows). */
  get finished(): boolean {
    return this.#job !== null && isTerminalStatus(this.#job.status);
  }
}

/** JSON-equal, whatever the key order (PostgreSQL's jsonb reorders keys). */
function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}

/**
 * The waits of one write through a store outage: backoff from 100 ms doubling to 2 s,
 * for at most `budgetMs` from the first failure.
 */
class OutageWait {
  #deadline: number | null = null;
  #delay = 100;
  constructor(
    readonly budgetMs: number,
    /** The tracker's signal: once the run is cancelled or lost, waiting is pointless. */
    readonly signal: AbortSignal,
  ) {}

  /**
   * Waits and resolves true when `error` is an outage worth waiting out, else false.
   * Rejects with the signal's reason when it aborts before or during the wait.
   */
  async wait(error: unknown): Promise<boolean> {
    if (!isJobstreamError(error, 'store_unavailable') || this.budgetMs <= 0) return false;
    this.signal.throwIfAborted();
    const now = Date.now();
    this.#deadline ??= now + this.budgetMs;
    if (now >= this.#deadline) return false;
    const delay = Math.min(this.#delay, this.#deadline - now);
    this.#delay = Math.min(this.#delay * 2, 2000);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      this.signal.addEventListener('abort', done);
    });
    this.signal.throwIfAborted();
    return true;
  }
}

function startDraft(message?: string): Draft {
  return { type: 'job_started', data: message === undefined ? {} : { message } };
}

function findStep(job: Job, name: string): { index: number; def: JobStep } {
  const index = job.steps.findIndex((s) => s.name === name);
  const def = job.steps[index];
  if (!def) {
    throw new JobstreamError(
      'unknown_step',
      `Job ${job.id} has no step "${name}". Declared steps: ${job.steps.map((s) => s.name).join(', ')}.`,
    );
  }
  return { index, def };
}

function completeStepDraft(
  job: Job,
  step: JobStep,
  message?: string,
  meta?: Record<string, unknown>,
): Draft {
  return {
    type: 'step_completed',
    data: {
      step: step.name,
      stepIndex: job.steps.indexOf(step) + 1,
      duration: sinceMs(step.startedAt),
      message: message ?? `${step.label} done`,
      ...(meta ? { meta } : {}),
    },
  };
}

function sinceMs(iso: string | null): number {
  return iso === null ? 0 : Math.max(0, Date.now() - Date.parse(iso));
}
