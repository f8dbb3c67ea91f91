import { afterEach, describe, expect, it, vi } from 'vitest';
import { isJobstreamError } from './errors.js';
import { MemoryJobStore } from './memory-store.js';
import { ProgressTracker } from './progress-tracker.js';

const STEPS = [
  { name: 'fetch_questions', label: 'Fetching questions' },
  { name: 'analyze_topics', label: 'Analyzing topics' },
  { name: 'generate_outline', label: 'Outlining' },
  { name: 'generate_lessons', label: 'Writing lessons', weight: 4 },
  { name: 'save_course', label: 'Saving' },
] as const;
type Step = (typeof STEPS)[number]['name'];

function newJob(ownerId = 'user-1') {
  return { ownerId, kind: 'course', input: { examId: 'exam-1' }, steps: [...STEPS] };
}

async function rejectsWith(promise: Promise<unknown>, code: string) {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isJobstreamError(caught), `expected ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
  return caught as Error;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressTracker', () => {
  it("keeps the seed's API working: createJob, updateStatus, updateStep", async () => {
    const store = new MemoryJobStore();
    const job = await ProgressTracker.createJob(store, newJob());
    expect(job.status).toBe('pending');

    const tracker = new ProgressTracker(store, job.id);
    await tracker.updateStatus('running');
    await tracker.updateStep('fetch_questions', 1);

    const updated = await store.getJob(job.id);
    expect(updated?.status).toBe('running');
    expect(updated?.currentStep).toBe('fetch_questions');
    expect(updated?.currentStepIndex).toBe(1);

    // Moving to the next step completes the previous one.
    await tracker.updateStep('analyze_topics', 2);
    const next = await store.getJob(job.id);
    expect(next?.steps.map((s) => s.status)).toEqual([
      'completed',
      'running',
      'pending',
      'pending',
      'pending',
    ]);
    await rejectsWith(tracker.updateStep('save_course', 2), 'invalid_input');
    tracker.close();
  });

  it('runs a whole job and the events tell the story in order', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create<{ examId: string }, { courseId: string }, Step>(
      store,
      newJob(),
      {
        coalesceMs: 0,
      },
    );
    await tracker.start();
    await tracker.startStep('fetch_questions');
    await tracker.completeStep();
    await tracker.startStep('generate_lessons');
    await tracker.startTopic('Cardiology', { count: 2 });
    tracker.topicProgress(50);
    await tracker.completeTopic({ lessonsGenerated: 3 });
    await tracker.startTopic('Neurology');
    await tracker.completeTopic({ lessonsGenerated: 2 });
    const done = await tracker.complete({ courseId: 'course-9' });

    expect(done).toMatchObject({
      status: 'completed',
      progress: 100,
      result: { courseId: 'course-9' },
      topicsCompleted: 2,
    });
    const events = await store.readEvents(tracker.jobId);
    expect(events.map((e) => e.type)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'step_completed',
      'step_started',
      'topic_started',
      'topic_progress',
      'topic_completed',
      'topic_started',
      'topic_completed',
      'step_completed',
      'job_completed',
    ]);
    const secondTopic = events.find(
      (e) => e.type === 'topic_started' && e.data.topicName === 'Neurology',
    );
    expect(secondTopic?.data).toEqual({ topicName: 'Neurology', topicIndex: 2, topicCount: 2 });
    const topicDone = events.find((e) => e.type === 'topic_completed');
    expect(topicDone?.data).toMatchObject({
      topicName: 'Cardiology',
      topicIndex: 1,
      lessonsGenerated: 3,
    });
  });

  it('coalesces 10,000 progress calls in one second into about 20 events, writing the last value', async () => {
    vi.useFakeTimers();
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob());
    await tracker.startStep('generate_lessons');
    const before = (await store.readEvents(tracker.jobId)).length;
    for (let i = 1; i <= 10_000; i++) {
      tracker.progress((i / 10_000) * 100, `token ${i}`);
      if (i % 10 === 0) await vi.advanceTimersByTimeAsync(1); // 10,000 calls over 1,000 ms
    }
    await tracker.flush();
    const progress = (await store.readEvents(tracker.jobId)).slice(before);
    expect(progress.every((e) => e.type === 'step_progress')).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(10);
    expect(progress.length).toBeLessThanOrEqual(22);
    const last = progress.at(-1);
    expect(last?.type === 'step_progress' && last.data).toMatchObject({
      stepProgress: 100,
      message: 'token 10000',
    });
    const overall = progress.map((e) => (e.type === 'step_progress' ? e.data.progress : -1));
    expect(overall).toEqual([...overall].sort((a, b) => a - b));
    tracker.close();
  });

  it('a step completion flushes pending progress first', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob(), { coalesceMs: 10_000 });
    await tracker.startStep('fetch_questions');
    tracker.progress(10);
    await tracker.flush();
    tracker.progress(70, 'almost');
    await tracker.completeStep('fetched');
    const types = (await store.readEvents(tracker.jobId)).slice(-2);
    expect(types.map((e) => e.type)).toEqual(['step_progress', 'step_completed']);
    expect(types[0]?.type === 'step_progress' && types[0].data.stepProgress).toBe(70);
    tracker.close();
  });

  it('overall progress is weighted by the steps and never goes back', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob(), { coalesceMs: 0 });
    await tracker.startStep('fetch_questions');
    await tracker.completeStep();
    expect(tracker.job?.progress).toBe(12.5); // 1 of 8 weight units
    await tracker.startStep('generate_lessons');
    tracker.progress(50);
    const half = await tracker.flush();
    expect(half.progress).toBe(37.5); // 1 + 4*0.5 of 8
    tracker.progress(10);
    const lower = await tracker.flush();
    expect(lower.progress).toBe(37.5);
    tracker.close();
  });

  it('signal fires when another writer cancels the job, and later writes reject with job_cancelled', async () => {
    const store = new MemoryJobStore();
    const worker = await ProgressTracker.create(store, newJob());
    await worker.start();
    await worker.startStep('generate_lessons');
    const aborted = new Promise<unknown>((resolve) =>
      worker.signal.addEventListener('abort', () => resolve(worker.signal.reason)),
    );

    // Another request opens its own tracker on the job and cancels it.
    const canceller = new ProgressTracker(store, worker.jobId);
    const cancelled = await canceller.cancel('User cancelled');
    expect(cancelled.status).toBe('cancelled');
    expect(isJobstreamError(await aborted, 'job_cancelled')).toBe(true);

    worker.progress(80); // harmless: nothing is written after a cancel
    await rejectsWith(worker.startStep('save_course'), 'job_cancelled');
    await rejectsWith(worker.complete({}), 'job_cancelled');
    const events = await store.readEvents(worker.jobId);
    expect(events.at(-1)?.type).toBe('job_cancelled');
    // Cancelling again is idempotent.
    expect((await canceller.cancel('again')).cancelReason).toBe('User cancelled');
    expect(store.listenerCount()).toBe(0);
  });

  it('signal is already aborted when the tracker opens a job cancelled earlier', async () => {
    const store = new MemoryJobStore();
    const job = await ProgressTracker.createJob(store, newJob());
    await new ProgressTracker(store, job.id).cancel();
    const late = new ProgressTracker(store, job.id);
    await late.watch();
    expect(late.signal.aborted).toBe(true);
    late.close();
  });

  it('retries a write that lost a version race to another writer', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob(), { coalesceMs: 0 });
    await tracker.startStep('fetch_questions');
    // Someone else writes behind the tracker's back.
    const other = new ProgressTracker(store, tracker.jobId, { coalesceMs: 0 });
    other.progress(20);
    await other.flush();
    const after = await tracker.completeStep();
    expect(after.steps[0]?.status).toBe('completed');
    const ids = (await store.readEvents(tracker.jobId)).map((e) => e.id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    tracker.close();
  });

  it('fail records the message and the failed step', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob());
    await tracker.startStep('analyze_topics');
    const failed = await tracker.fail(
      Object.assign(new Error('Invalid API key'), { code: 'anthropic_auth' }),
    );
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({
      message: 'Invalid API key',
      code: 'anthropic_auth',
      step: 'analyze_topics',
    });
    const last = (await store.readEvents(tracker.jobId)).at(-1);
    expect(last?.type === 'job_failed' && last.data.failedStep).toBe('analyze_topics');
    // failed → pending → running again
    await tracker.resume();
    await tracker.startStep('analyze_topics');
    expect(tracker.job?.status).toBe('running');
    tracker.close();
  });

  it('refuses bad input with a specific code and writes nothing', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob(), { coalesceMs: 0 });
    expect(() => tracker.progress(Number.NaN)).toThrowError(/0 to 100/);
    expect(() => tracker.progress(101)).toThrowError(/0 to 100/);
    expect(() => tracker.progress(-1)).toThrowError(/0 to 100/);
    await rejectsWith(tracker.startStep('nope' as never), 'unknown_step');
    await rejectsWith(tracker.completeStep(), 'invalid_input');
    await rejectsWith(tracker.completeTopic(), 'invalid_input');
    await rejectsWith(tracker.startTopic(''), 'invalid_input');
    expect((await store.readEvents(tracker.jobId)).length).toBe(1);
    await rejectsWith(new ProgressTracker(store, 'missing').start(), 'not_found');
    expect(() => new ProgressTracker(store, '')).toThrowError(/job id/);
    await rejectsWith(
      ProgressTracker.createJob(store, { ...newJob(), steps: [] }),
      'invalid_input',
    );
    await tracker.start();
    await tracker.complete(null);
    await rejectsWith(tracker.cancel(), 'invalid_transition');
  });
});

describe('ProgressTracker.fail', () => {
  it('keeps an error’s machine-readable details for the UI', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob());
    await tracker.startStep('fetch_questions');
    const error = Object.assign(new Error('Rate limited: retry after 17 s'), {
      code: 'anthropic_rate_limited',
      details: { retryAfterSeconds: 17 },
    });
    const failed = await tracker.fail(error);
    expect(failed.error).toEqual({
      message: 'Rate limited: retry after 17 s',
      code: 'anthropic_rate_limited',
      step: 'fetch_questions',
      details: { retryAfterSeconds: 17 },
    });
  });
});

describe('ProgressTracker.resume', () => {
  it('watches for a cancel again after a failed job is resumed', async () => {
    const store = new MemoryJobStore();
    const tracker = await ProgressTracker.create(store, newJob());
    await tracker.startStep('fetch_questions');
    await tracker.fail(new Error('flaky'));
    expect(store.listenerCount()).toBe(0);
    await tracker.resume();
    await tracker.watch();
    await tracker.startStep('fetch_questions');
    await new ProgressTracker(store, tracker.jobId).cancel('changed my mind');
    expect(tracker.signal.aborted).toBe(true);
    expect(store.listenerCount()).toBe(0);
  });
});
