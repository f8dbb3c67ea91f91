import {
  type AnyJobDefinition,
  type ConnectionState,
  createJobClient,
  type JobClient,
  type JobClientError,
  type JobOf,
  type JobWatcher,
  type JobWatchSnapshot,
  type ResultOf,
  type StepOf,
} from '@jobstream/client';
import type { JobError, JobStatus, JobStep, JobTopic } from '@jobstream/core/lite';
import {
  createContext,
  createElement,
  type ReactNode,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useSyncExternalStore,
} from 'react';

export interface UseJobProgressOptions<TDef = AnyJobDefinition> {
  /** The job to follow; `null` (or undefined) means idle: nothing is opened. */
  jobId: string | null | undefined;
  /** The client to follow it with. Falls back to `<JobClientProvider>`, then to `baseUrl`. */
  client?: JobClient<TDef> | undefined;
  /**
   * Where the jobstream routes are mounted, used when no client is given.
   * @default '/api/generation'
   */
  baseUrl?: string | undefined;
  /** Called once per job when it completes (also when it had completed before the page opened). */
  onComplete?: ((result: ResultOf<TDef>, job: JobOf<TDef>) => void) | undefined;
  /**
   * Called once per failure: the job's own error when it fails, or the client's error when
   * the job cannot be followed at all (e.g. 404).
   */
  onError?: ((error: JobError | JobClientError, job: JobOf<TDef> | null) => void) | undefined;
}

/** What the seed's `useGenerationProgress` returned as `progress`, derived from the job. */
export interface JobProgress<TDef = AnyJobDefinition> {
  /** `idle` while there is no job id or nothing has arrived yet. */
  status: JobStatus | 'idle';
  /** Overall 0–100. */
  progress: number;
  message: string | null;
  steps: JobStep<StepOf<TDef>>[];
  currentStep: StepOf<TDef> | null;
  currentStepIndex: number;
  totalSteps: number;
  topic: JobTopic | null;
  result: ResultOf<TDef> | null;
  error: JobError | null;
  /** A failed job can be resumed (`resumeJob()`). */
  canResume: boolean;
  /** The whole job record, null until its first event arrives. */
  job: JobOf<TDef> | null;
}

export interface UseJobProgressResult<TDef = AnyJobDefinition> {
  progress: JobProgress<TDef>;
  connection: ConnectionState;
  /** Last connection/HTTP error; null again once reconnected. */
  connectionError: JobClientError | null;
  /** Cancels the job on the server. Rejects with the client's error. */
  cancelJob(reason?: string): Promise<void>;
  /** Resumes a failed job and keeps following it. */
  resumeJob(): Promise<void>;
}

const IDLE: JobWatchSnapshot = { job: null, connection: 'idle', error: null, lastEventId: 0 };

const ClientContext = createContext<JobClient<any> | null>(null);

/** Gives every `useJobProgress` / `<JobProgressModal>` below it a client. */
export function JobClientProvider(props: { client: JobClient<any>; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: props.client }, props.children);
}

// One client per base URL, so that hooks given only `baseUrl` share the client's
// ref-counted watchers (one connection per job per page).
const clients = new Map<string, JobClient<any>>();
function clientFor(baseUrl: string): JobClient<any> {
  let client = clients.get(baseUrl);
  if (!client) {
    client = createJobClient({ baseUrl });
    clients.set(baseUrl, client);
  }
  return client;
}

/**
 * Holds one `client.watch(jobId)` handle for the components using it. Nothing is opened
 * until React subscribes (never during render, so server rendering touches no network),
 * and the release waits a tick so StrictMode's unsubscribe/resubscribe reuses the handle
 * instead of closing and reopening the connection.
 */
function watchStore(client: JobClient<any>, jobId: string) {
  let watcher: JobWatcher | null = null;
  let listeners = 0;
  let releaseTimer: ReturnType<typeof setTimeout> | undefined;
  return {
    subscribe(listener: () => void) {
      clearTimeout(releaseTimer);
      watcher ??= client.watch(jobId);
      listeners++;
      const off = watcher.subscribe(listener);
      return () => {
        off();
        if (--listeners > 0) return;
        releaseTimer = setTimeout(() => {
          if (listeners === 0 && watcher) {
            watcher.close();
            watcher = null;
          }
        });
      };
    },
    getSnapshot: (): JobWatchSnapshot => (watcher ? watcher.getSnapshot() : IDLE),
    get watcher() {
      return watcher;
    },
  };
}

const getServerSnapshot = () => IDLE;

function toProgress<TDef>(job: JobOf<TDef> | null): JobProgress<TDef> {
  return {
    status: job ? job.status : 'idle',
    progress: job?.progress ?? 0,
    message: job?.message ?? null,
    steps: job?.steps ?? [],
    currentStep: job?.currentStep ?? null,
    currentStepIndex: job?.currentStepIndex ?? 0,
    totalSteps: job?.totalSteps ?? 0,
    topic: job?.currentTopic ?? null,
    result: job?.result ?? null,
    error: job?.error ?? null,
    // The server resumes exactly the failed jobs (GET /status answers canResume so).
    canResume: job?.status === 'failed',
    job,
  };
}

/**
 * Follows a job live: its progress, the connection, and actions on it.
 *
 * @example
 * const { progress, connection, cancelJob } = useJobProgress<typeof courseJob>({
 *   jobId,
 *   baseUrl: '/api/generation',
 *   onComplete: ({ courseId }) => router.push(`/course/${courseId}`),
 * });
 */
export function useJobProgress<TDef = AnyJobDefinition>(
  options: UseJobProgressOptions<TDef>,
): UseJobProgressResult<TDef> {
  const { jobId, baseUrl = '/api/generation' } = options;
  const contextClient = useContext(ClientContext);
  const client = options.client ?? contextClient ?? clientFor(baseUrl);
  const store = useMemo(() => (jobId ? watchStore(client, jobId) : null), [client, jobId]);
  const snapshot = useSyncExternalStore(
    store ? store.subscribe : noopSubscribe,
    store ? store.getSnapshot : getServerSnapshot,
    getServerSnapshot,
  ) as JobWatchSnapshot<JobOf<TDef>>;
  // A snapshot of another job can linger for one render after jobId changes.
  const job = snapshot.job && snapshot.job.id === jobId ? snapshot.job : null;
  const progress = useMemo(() => toProgress<TDef>(job), [job]);

  const callbacks = useRef(options);
  callbacks.current = options;
  // Keys of what was reported, so a re-render or a replayed stream never reports twice.
  const reported = useRef(new Set<string>());
  const fatal = !job && snapshot.connection === 'closed' ? snapshot.error : null;
  useEffect(() => {
    const { onComplete, onError } = callbacks.current;
    if (job?.status === 'completed') {
      once(reported.current, `${job.id}:done`, () =>
        onComplete?.(job.result as ResultOf<TDef>, job),
      );
    } else if (job?.status === 'failed' && job.error) {
      // Keyed by version: a resumed job that fails again is a new failure.
      once(reported.current, `${job.id}:failed:${job.version}`, () =>
        onError?.(printable(job.error!), job),
      );
    } else if (fatal && jobId) {
      once(reported.current, `${jobId}:client`, () => onError?.(fatal, null));
    }
  }, [job, fatal, jobId]);

  const watcherOf = () => {
    if (!store?.watcher) throw new Error('useJobProgress: no job is being followed.');
    return store.watcher;
  };
  return {
    progress,
    connection: snapshot.connection,
    connectionError: snapshot.error,
    cancelJob: async (reason?: string) => watcherOf().cancel(reason),
    resumeJob: async () => watcherOf().resume(),
  };
}

function noopSubscribe() {
  return () => {};
}

function once(seen: Set<string>, key: string, fn: () => void) {
  if (seen.has(key)) return;
  seen.add(key);
  fn();
}

/**
 * The job's error with a `toString()` of its message, so the seed's
 * `alert(\`Generation failed: ${error}\`)` reads "Generation failed: Invalid API key"
 * instead of "[object Object]". Fields and JSON form are unchanged.
 */
function printable(error: JobError): JobError {
  return Object.defineProperty({ ...error }, 'toString', {
    value: () => error.message,
    enumerable: false,
  });
}
