import { applyEvent, type Job } from '@jobstream/core/lite';
import { JobClientError } from './errors.js';
import type { JobClient } from './job-client.js';
import type { ConnectionState, Subscription } from './subscribe.js';

export interface JobWatchSnapshot<TJob extends Job<any, any, any> = Job> {
  /** The fold (core's `applyEvent`) of every event received; null until the first one. */
  job: TJob | null;
  connection: ConnectionState;
  /** The last connection or HTTP error; null again once reconnected. */
  error: JobClientError | null;
  lastEventId: number;
}

export interface JobWatcher<TJob extends Job<any, any, any> = Job> {
  /** The same object until something changes (what `useSyncExternalStore` needs). */
  getSnapshot(): JobWatchSnapshot<TJob>;
  /** Called after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** `POST /cancel`; the snapshot shows the cancelled job at once. */
  cancel(reason?: string): Promise<void>;
  /**
   * `POST /resume` of a failed job, then keeps following it (also when another tab
   * resumed it first).
   */
  resume(): Promise<void>;
  /** Releases this handle; the connection closes when the last handle is released. */
  close(): void;
}

/** One job's connection and snapshot, shared by every handle on it. */
interface Shared extends Omit<JobWatcher, 'close'> {
  refs: number;
  release(): void;
}

const registry = new WeakMap<object, Map<string, Shared>>();

/**
 * The record without the seed's snake_case aliases (`current_step`, `created_at`…) that
 * `status` and `cancel` add (docs/protocol.md): a fold would leave them stale. Job fields
 * are all camelCase, so any key with an underscore is one of those.
 */
function jobRecord(job: Job): Job {
  const copy: Record<string, unknown> = { ...job };
  for (const key in copy) if (key.includes('_')) delete copy[key];
  return copy as unknown as Job;
}

function share(client: JobClient<any>, jobId: string, jobs: Map<string, Shared>): Shared {
  let snapshot: JobWatchSnapshot = { job: null, connection: 'idle', error: null, lastEventId: 0 };
  const listeners = new Set<() => void>();
  let subscription: Subscription | undefined;
  /** Bumped by every resync and by the teardown, so a late status answer is dropped. */
  let generation = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** True from a status seed until an event folds onto it. */
  let justSeeded = false;
  /** The status request of a resync in flight, aborted by the next resync and the teardown. */
  let statusRequest: AbortController | undefined;
  /** Set once the last handle is released: nothing may open a connection after that. */
  let tornDown = false;

  const update = (patch: Partial<JobWatchSnapshot>) => {
    const next = { ...snapshot, ...patch };
    if ((Object.keys(patch) as (keyof JobWatchSnapshot)[]).some((k) => next[k] !== snapshot[k])) {
      snapshot = next;
      for (const listener of [...listeners]) listener();
    }
  };
  const stop = () => {
    const current = subscription;
    subscription = undefined;
    current?.close();
  };
  const adopt = (job: Job) => {
    if (!snapshot.job || job.version > snapshot.job.version) {
      update({ job: jobRecord(job), lastEventId: job.version });
    }
  };

  const follow = () => {
    stop();
    // A resume answered after the release must not open a stream nobody will close.
    if (tornDown) return;
    const mine = client.subscribe(jobId, {
      lastEventId: snapshot.lastEventId,
      onEvent: (event) => {
        const { job } = snapshot;
        const version = job ? job.version : 0;
        if (event.id <= version) return;
        // Each event was checked by the server's reduce on this job, in this order, so it
        // only has to be the next one here (no second check shipped to the browser).
        if (event.id === version + 1) {
          try {
            update({ job: applyEvent(job, event), lastEventId: event.id });
            justSeeded = false;
            return;
          } catch {
            // An event type this client does not know (a newer server): fall through.
          }
        }
        // Not a continuation of what we hold (a gap, a stream resumed without
        // job_created, an unknown type): the server's record is the truth, start from it.
        if (justSeeded) {
          stop();
          update({
            connection: 'closed',
            error: new JobClientError(
              'validation',
              `Event ${event.id} does not fold onto job ${jobId}.`,
            ),
          });
        } else resync();
      },
      onStateChange: (connection) => {
        if (subscription === mine)
          update(connection === 'open' ? { connection, error: null } : { connection });
      },
      onError: (error) => {
        if (subscription === mine) update({ error });
      },
    });
    subscription = mine;
  };

  const resync = async () => {
    stop();
    clearTimeout(retryTimer);
    const mine = ++generation;
    statusRequest?.abort();
    const request = new AbortController();
    statusRequest = request;
    update({ connection: 'reconnecting' });
    try {
      const { job } = await client.status(jobId, { signal: request.signal });
      if (mine !== generation) return;
      update({ job: jobRecord(job), lastEventId: job.version, error: null });
      justSeeded = true;
      follow();
    } catch (error) {
      if (mine !== generation) return;
      const retryable = (error as JobClientError).retryable;
      update({ error: error as JobClientError, connection: retryable ? 'reconnecting' : 'closed' });
      if (retryable) retryTimer = setTimeout(resync, 2000);
    }
  };

  const shared: Shared = {
    refs: 0,
    getSnapshot: () => snapshot,
    subscribe: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    cancel: async (reason) => adopt(await client.cancel(jobId, reason)),
    resume: async () => {
      try {
        await client.resume(jobId);
      } catch (error) {
        // No longer failed: resumed from another tab (or instance) meanwhile. Follow it
        // as if this resume had done it, rather than show an error about a live job.
        if ((error as JobClientError).code !== 'invalid_transition') throw error;
      }
      follow();
    },
    release: () => {
      if (--shared.refs) return;
      // On a microtask: a handle released and taken again in one tick (React
      // StrictMode's effect replay) keeps the connection.
      queueMicrotask(() => {
        if (shared.refs) return;
        tornDown = true;
        generation++;
        clearTimeout(retryTimer);
        statusRequest?.abort();
        stop();
        if (jobs.get(jobId) === shared) jobs.delete(jobId);
      });
    },
  };
  follow();
  return shared;
}

/**
 * Follows a job for a UI: a snapshot folded from its events with core's `applyEvent`, the
 * connection state beside it, and a listener API for `useSyncExternalStore`. Watchers
 * of the same job on the same client share one connection.
 *
 * @example
 * const watcher = watchJob(client, jobId);
 * const off = watcher.subscribe(() => render(watcher.getSnapshot()));
 * // later: off(); watcher.close();
 */
export function watchJob<TJob extends Job<any, any, any> = Job>(
  client: JobClient<any>,
  jobId: string,
): JobWatcher<TJob> {
  let jobs = registry.get(client);
  if (!jobs) {
    jobs = new Map();
    registry.set(client, jobs);
  }
  let shared = jobs.get(jobId);
  if (!shared) {
    shared = share(client, jobId, jobs);
    jobs.set(jobId, shared);
  }
  shared.refs++;
  const { refs, release, ...watcher } = shared;
  let released = false;
  return {
    ...(watcher as unknown as Omit<JobWatcher<TJob>, 'close'>),
    close: () => {
      if (!released) {
        released = true;
        release();
      }
    },
  };
}
