import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../tests/prng.js';
import { isJobstreamError } from './errors.js';
import type { EventDraft, JobEvent } from './events.js';
import type { Job } from './job.js';
import { MemoryJobStore } from './memory-store.js';
import { foldEvents, reduce } from './reduce.js';
import { prepareCommit, prepareCreate } from './store-helpers.js';

const STEPS = [
  { name: 'fetch_questions', label: 'Fetching questions', weight: 1 },
  { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
  { name: 'save_course' },
];

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function created(): { job: Job; event: JobEvent } {
  return prepareCreate({ ownerId: 'u1', kind: 'course', input: { examId: 'e1' }, steps: STEPS });
}

function apply(job: Job, ...drafts: EventDraft[]): { job: Job; events: JobEvent[] } {
  return prepareCommit(job, job.id, job.version, drafts);
}

function expectCode(fn: () => unknown, code: string) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isJobstreamError(caught), `expected a JobstreamError, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
}

describe('reduce', () => {
  it('job_created builds a pending job with normalised steps', () => {
    const { job, event } = created();
    expect(event.id).toBe(1);
    expect(job).toMatchObject({
      status: 'pending',
      ownerId: 'u1',
      kind: 'course',
      input: { examId: 'e1' },
      totalSteps: 3,
      currentStepIndex: 0,
      currentStep: null,
      progress: 0,
      version: 1,
      createdAt: event.at,
    });
    expect(job.steps.map((s) => [s.name, s.label, s.weight, s.status])).toEqual([
      ['fetch_questions', 'Fetching questions', 1, 'pending'],
      ['generate_lessons', 'Writing lessons', 3, 'pending'],
      ['save_course', 'save_course', 1, 'pending'],
    ]);
  });

  it('never mutates its input snapshot', () => {
    const { job } = created();
    deepFreeze(job);
    const { job: running } = apply(job, { type: 'job_started', data: {} });
    deepFreeze(running);
    expect(() =>
      apply(
        running,
        { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
        {
          type: 'step_progress',
          data: { step: 'fetch_questions', progress: 10, stepProgress: 50 },
        },
        { type: 'job_failed', data: { error: { message: 'x' }, failedStep: 'fetch_questions' } },
      ),
    ).not.toThrow();
    expect(running.status).toBe('running');
  });

  it('follows a whole run: steps, topics, weighted progress, completion', () => {
    let { job } = created();
    ({ job } = apply(
      job,
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1, message: 'Reading' } },
    ));
    expect(job).toMatchObject({
      status: 'running',
      currentStep: 'fetch_questions',
      currentStepIndex: 1,
      message: 'Reading',
    });
    ({ job } = apply(job, {
      type: 'step_completed',
      data: { step: 'fetch_questions', stepIndex: 1, duration: 1200 },
    }));
    expect(job.progress).toBe(20); // weight 1 of 5
    expect(job.steps[0]).toMatchObject({ status: 'completed', duration: 1200, progress: 100 });
    ({ job } = apply(
      job,
      { type: 'step_started', data: { step: 'generate_lessons', stepIndex: 2 } },
      { type: 'topic_started', data: { topicName: 'Cardiology', topicIndex: 3, topicCount: 8 } },
      { type: 'topic_progress', data: { topicName: 'Cardiology', progress: 50 } },
    ));
    expect(job.currentTopic).toMatchObject({
      name: 'Cardiology',
      index: 3,
      count: 8,
      progress: 50,
    });
    ({ job } = apply(job, {
      type: 'topic_completed',
      data: { topicName: 'Cardiology', topicIndex: 3, duration: 10, lessonsGenerated: 4 },
    }));
    expect(job.topicsCompleted).toBe(1);
    ({ job } = apply(job, {
      type: 'step_progress',
      data: { step: 'generate_lessons', progress: 50, stepProgress: 50 },
    }));
    expect(job.progress).toBe(50);
    // A lower overall value never moves progress back.
    ({ job } = apply(job, {
      type: 'step_progress',
      data: { step: 'generate_lessons', progress: 30, stepProgress: 40 },
    }));
    expect(job.progress).toBe(50);
    expect(job.steps[1]?.progress).toBe(50);
    ({ job } = apply(job, {
      type: 'job_completed',
      data: { result: { courseId: 'c1' }, totalDuration: 5000 },
    }));
    expect(job).toMatchObject({ status: 'completed', progress: 100, result: { courseId: 'c1' } });
    expect(job.completedAt).not.toBeNull();
    expect(job.steps[1]?.status).toBe('completed');
    expect(job.steps[2]?.status).toBe('pending');
  });

  it('failure marks the running step failed; resume puts it back to pending', () => {
    let { job } = created();
    ({ job } = apply(
      job,
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
      {
        type: 'job_failed',
        data: {
          error: { message: 'Invalid API key', code: 'anthropic_auth' },
          failedStep: 'fetch_questions',
        },
      },
    ));
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({
      message: 'Invalid API key',
      code: 'anthropic_auth',
      step: 'fetch_questions',
    });
    expect(job.steps[0]?.status).toBe('failed');
    ({ job } = apply(job, { type: 'job_resumed', data: {} }));
    expect(job).toMatchObject({ status: 'pending', error: null, completedAt: null });
    expect(job.steps[0]?.status).toBe('pending');
  });

  it('cancel marks the running step cancelled and records the reason', () => {
    let { job } = created();
    ({ job } = apply(
      job,
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
      {
        type: 'job_cancelled',
        data: { reason: 'User cancelled', cancelledAt: new Date().toISOString() },
      },
    ));
    expect(job).toMatchObject({ status: 'cancelled', cancelReason: 'User cancelled' });
    expect(job.steps[0]?.status).toBe('cancelled');
  });

  it('refuses events that do not follow, naming the problem', () => {
    const { job, event } = created();
    expectCode(() => reduce(job, event), 'invalid_event'); // created twice
    expectCode(() => reduce(null, { ...event, id: 2 }), 'invalid_event');
    expectCode(
      () => reduce(null, { id: 1, jobId: job.id, type: 'job_started', at: event.at, data: {} }),
      'invalid_event',
    );
    expectCode(
      () => reduce(job, { id: 3, jobId: job.id, type: 'job_started', at: event.at, data: {} }),
      'invalid_event',
    ); // gap
    expectCode(
      () => reduce(job, { id: 2, jobId: 'other', type: 'job_started', at: event.at, data: {} }),
      'invalid_event',
    );
    expectCode(
      () => apply(job, { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } }),
      'invalid_transition',
    );
    expectCode(
      () => apply(job, { type: 'job_completed', data: { result: null, totalDuration: 0 } }),
      'invalid_transition',
    );
    const { job: running } = apply(job, { type: 'job_started', data: {} });
    expectCode(
      () => apply(running, { type: 'step_started', data: { step: 'nope', stepIndex: 1 } }),
      'unknown_step',
    );
    expectCode(
      () =>
        apply(running, {
          type: 'step_progress',
          data: { step: 'fetch_questions', progress: 1, stepProgress: 1 },
        }),
      'invalid_event',
    );
    expectCode(
      () => apply(running, { type: 'topic_progress', data: { topicName: 'x', progress: 1 } }),
      'invalid_event',
    );
    const { job: stepping } = apply(running, {
      type: 'step_started',
      data: { step: 'fetch_questions', stepIndex: 1 },
    });
    expectCode(
      () => apply(stepping, { type: 'step_started', data: { step: 'save_course', stepIndex: 3 } }),
      'invalid_event',
    );
  });
});

const ALL_DRAFTS = (job: Job, rnd: () => number): EventDraft[] => {
  const step = job.steps[Math.floor(rnd() * job.steps.length)]!.name;
  const pct = Math.round(rnd() * 100);
  return [
    { type: 'job_started', data: {} },
    { type: 'step_started', data: { step, stepIndex: 1 } },
    {
      type: 'step_progress',
      data: { step: job.currentStep ?? step, progress: pct, stepProgress: pct },
    },
    {
      type: 'step_completed',
      data: { step: job.currentStep ?? step, stepIndex: 1, duration: pct },
    },
    {
      type: 'topic_started',
      data: { topicName: `t${pct % 3}`, topicIndex: (pct % 3) + 1, topicCount: 3 },
    },
    { type: 'topic_progress', data: { topicName: job.currentTopic?.name ?? 't0', progress: pct } },
    {
      type: 'topic_completed',
      data: { topicName: job.currentTopic?.name ?? 't0', topicIndex: 1, duration: 1 },
    },
    { type: 'job_completed', data: { result: { n: pct }, totalDuration: pct } },
    { type: 'job_failed', data: { error: { message: `e${pct}` }, failedStep: job.currentStep } },
    { type: 'job_cancelled', data: { reason: null, cancelledAt: new Date().toISOString() } },
    { type: 'job_resumed', data: {} },
  ];
};

describe('the stored job is the fold of its events (generated sequences)', () => {
  it('holds for 200 random sequences of valid and invalid events, through MemoryJobStore', async () => {
    const store = new MemoryJobStore();
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = mulberry32(seed);
      const { job: first } = await store.createJob({
        ownerId: 'u',
        kind: 'k',
        input: { seed },
        steps: STEPS,
      });
      let job = first;
      let lastProgress = 0;
      for (let i = 0; i < 40; i++) {
        const candidates = ALL_DRAFTS(job, rnd);
        const batch = Array.from(
          { length: 1 + Math.floor(rnd() * 2) },
          () => candidates[Math.floor(rnd() * candidates.length)]!,
        );
        try {
          ({ job } = await store.commit(job.id, { expectedVersion: job.version, events: batch }));
        } catch (error) {
          expect(isJobstreamError(error), `seed ${seed}: ${String(error)}`).toBe(true);
          // A refused commit writes nothing.
          expect(await store.getJob(job.id), `seed ${seed}`).toBe(job);
        }
        if (job.status === 'pending') lastProgress = 0;
        expect(job.progress, `seed ${seed}: progress went back`).toBeGreaterThanOrEqual(
          job.status === 'pending' ? 0 : lastProgress,
        );
        lastProgress = job.progress;
        expect(job.steps.filter((s) => s.status === 'running').length).toBeLessThanOrEqual(1);
      }
      const events = await store.readEvents(job.id, { limit: 10_000 });
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
      expect(foldEvents(events), `seed ${seed}`).toEqual(await store.getJob(job.id));
      expect(job.version).toBe(events.length);
    }
  }, 60_000);
});
