// An in-test JobClient whose watcher folds events the test pushes, with core's reduce.

import type {
  ConnectionState,
  JobClient,
  JobClientError,
  JobWatcher,
  JobWatchSnapshot,
} from '@jobstream/client';
import { type Job, type JobEvent, reduce } from '@jobstream/core/lite';

export interface FakeJob {
  snapshot: JobWatchSnapshot;
  push(...events: JobEvent[]): void;
  setConnection(connection: ConnectionState, error?: JobClientError): void;
  listeners: Set<() => void>;
  cancelled: (string | undefined)[];
  resumed: number;
  /** What resume() answers after counting the call (it resolves at once when unset). */
  resumeAnswer?: Promise<void>;
}

export function fakeClient() {
  const jobs = new Map<string, FakeJob>();
  const stats = { watch: 0, close: 0, open: 0 };
  const jobFor = (jobId: string): FakeJob => {
    let job = jobs.get(jobId);
    if (job) return job;
    const listeners = new Set<() => void>();
    const emit = () => {
      for (const l of [...listeners]) l();
    };
    const j: FakeJob = {
      snapshot: { job: null, connection: 'connecting', error: null, lastEventId: 0 },
      listeners,
      cancelled: [],
      resumed: 0,
      push(...events) {
        let next = j.snapshot.job as Job | null;
        for (const e of events) if (e.id > (next?.version ?? 0)) next = reduce(next, e);
        j.snapshot = { ...j.snapshot, job: next, lastEventId: next?.version ?? 0 };
        emit();
      },
      setConnection(connection, error) {
        j.snapshot = { ...j.snapshot, connection, error: error ?? j.snapshot.error };
        emit();
      },
    };
    jobs.set(jobId, j);
    job = j;
    return j;
  };
  // Like the real client: handles share one "connection" per job, counted by refs.
  const refs = new Map<string, number>();
  const client = {
    baseUrl: 'http://fake',
    stats,
    job: jobFor,
    async cancel() {
      throw new Error('not used');
    },
    watch(jobId: string): JobWatcher {
      stats.watch++;
      const n = refs.get(jobId) ?? 0;
      if (n === 0) stats.open++;
      refs.set(jobId, n + 1);
      const j = jobFor(jobId);
      let closed = false;
      return {
        getSnapshot: () => j.snapshot,
        subscribe(listener) {
          j.listeners.add(listener);
          return () => j.listeners.delete(listener);
        },
        async cancel(reason) {
          j.cancelled.push(reason);
        },
        async resume() {
          j.resumed++;
          await j.resumeAnswer;
        },
        close() {
          if (closed) return;
          closed = true;
          stats.close++;
          refs.set(jobId, (refs.get(jobId) ?? 1) - 1);
        },
      };
    },
  };
  // Only what the React bindings use is implemented.
  return client as typeof client & JobClient;
}

let clock = Date.now() - 60_000;
const at = () => {
  clock += 1000;
  return new Date(clock).toISOString();
};

/** Events of a three-step course job, numbered from 1. */
export function courseEvents(jobId: string) {
  let id = 0;
  const ev = (type: string, data: Record<string, unknown>) =>
    ({ id: ++id, jobId, type, at: at(), data }) as JobEvent;
  return {
    created: () =>
      ev('job_created', {
        kind: 'course',
        ownerId: 'u1',
        input: { examId: 'e1' },
        estimatedDuration: 60_000,
        steps: [
          { name: 'fetch_questions', label: 'Reading questions', weight: 1 },
          { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
          { name: 'save_course', label: 'Saving the course', weight: 1 },
        ],
      }),
    started: () => ev('job_started', {}),
    stepStarted: (step: string, stepIndex: number, message?: string) =>
      ev('step_started', { step, stepIndex, message }),
    stepProgress: (step: string, progress: number, stepProgress: number, message?: string) =>
      ev('step_progress', { step, progress, stepProgress, message }),
    stepCompleted: (step: string, stepIndex: number, duration: number) =>
      ev('step_completed', { step, stepIndex, duration }),
    topicStarted: (topicName: string, topicIndex: number, topicCount?: number) =>
      ev('topic_started', { topicName, topicIndex, topicCount }),
    completed: (result: unknown) => ev('job_completed', { result, totalDuration: 5000 }),
    failed: (message: string, failedStep: string) =>
      ev('job_failed', { error: { message, code: 'model_error' }, failedStep }),
    cancelled: (reason: string | null) => ev('job_cancelled', { reason, cancelledAt: at() }),
  };
}
