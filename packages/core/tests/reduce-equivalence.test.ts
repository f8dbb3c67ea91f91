import { describe, expect, it } from 'vitest';
import { applyEvent } from '../src/apply-event.js';
import { isJobstreamError } from '../src/errors.js';
import { EVENT_TYPES, type JobEvent } from '../src/events.js';
import type { Job } from '../src/job.js';
import { reduce } from '../src/reduce.js';
import { mulberry32 } from './prng.js';
import { referenceReduce } from './reference-reduce.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

type Outcome = { job: Job } | { code: string };

function outcome(fold: () => Job): Outcome {
  try {
    return { job: fold() };
  } catch (error) {
    if (!isJobstreamError(error)) throw error;
    return { code: error.code };
  }
}

const STEP_NAMES = ['a', 'b', 'c'];

/**
 * Raw events, most of them valid for `job`, many not: wrong ids, another job, unknown
 * steps, steps and topics in the wrong state, optional fields present, absent or null.
 * They bypass the stores' validation on purpose: the browser folds unvalidated events.
 */
function randomEvent(job: Job | null, rnd: () => number): JobEvent {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const maybe = <T>(value: T): T | undefined => (rnd() < 0.5 ? value : undefined);
  const pct = Math.round(rnd() * 1000) / 10;
  const version = job?.version ?? 0;
  const id = rnd() < 0.93 ? version + 1 : pick([version, version + 2, 1, 0]);
  const jobId = rnd() < 0.97 ? (job?.id ?? 'j1') : 'other';
  const at = new Date(Date.UTC(2026, 0, 1) + (id + Math.floor(rnd() * 3)) * 1000).toISOString();
  const topicName = rnd() < 0.8 ? (job?.currentTopic?.name ?? pick(['t1', 't2'])) : 't3';
  const message = pick([undefined, 'msg', `m${pct}`, null]) as string | undefined;
  const withMessage = message === undefined ? {} : { message };
  const running = job?.steps.find((s) => s.status === 'running');
  const likely: readonly JobEvent['type'][] =
    job === null
      ? ['job_created']
      : job.status === 'pending'
        ? ['job_started', 'job_started', 'job_started', 'job_cancelled']
        : job.status === 'failed'
          ? ['job_resumed']
          : job.status !== 'running'
            ? ['job_resumed', 'job_started']
            : running
              ? [
                  'step_progress',
                  'step_progress',
                  'step_completed',
                  'step_completed',
                  'topic_started',
                  'topic_progress',
                  'topic_completed',
                  'job_failed',
                  'job_cancelled',
                ]
              : ['step_started', 'step_started', 'step_started', 'topic_started', 'job_completed'];
  const type = rnd() < 0.75 ? pick(likely) : pick(EVENT_TYPES);
  const pending = job?.steps.find((s) => s.status === 'pending')?.name;
  const step =
    rnd() < 0.9
      ? (running?.name ??
        (type === 'step_started' ? pending : job?.currentStep) ??
        pick(STEP_NAMES))
      : pick([...STEP_NAMES, 'x']);
  const data = {
    job_created: () => ({
      kind: 'k',
      ownerId: 'u',
      input: { n: pct },
      steps: STEP_NAMES.slice(0, 1 + Math.floor(rnd() * 3)).map((name) => ({
        name,
        label: `L${name}`,
        weight: pick([0, 1, 2, 3]),
      })),
      ...(rnd() < 0.5 ? { estimatedDuration: pct * 100 } : {}),
    }),
    job_started: () => withMessage,
    step_started: () => ({ step, stepIndex: 1, ...withMessage }),
    step_progress: () => ({
      step,
      progress: pct,
      stepProgress: pick([pct, 0, 100]),
      ...withMessage,
    }),
    step_completed: () => ({
      step,
      stepIndex: 1,
      duration: Math.floor(pct * 10),
      ...withMessage,
      ...(rnd() < 0.5 ? { meta: { tokens: pct } } : {}),
    }),
    topic_started: () => ({
      topicName: pick(['t1', 't2']),
      topicIndex: pick([1, 2]),
      topicCount: maybe(pick([2, 5])),
    }),
    topic_progress: () => ({ topicName, progress: pct }),
    topic_completed: () => ({ topicName, topicIndex: 1, duration: 5, lessonsGenerated: 2 }),
    job_completed: () => ({ result: maybe({ courseId: 'c' }) ?? null, totalDuration: 9 }),
    job_failed: () => ({
      error: { message: `e${pct}`, ...(rnd() < 0.5 ? { code: 'boom', step } : {}) },
      failedStep: pick([null, step]),
    }),
    job_cancelled: () => ({ reason: pick([null, 'user']), cancelledAt: at }),
    job_resumed: () => withMessage,
  }[type]();
  return { id, jobId, type, at, data } as JobEvent;
}

describe('the compact reduce is the reference reduce', () => {
  it('gives the same job, or the same error code, for 3,000 random event sequences, and applyEvent alone gives that job for every accepted event', () => {
    let folded = 0;
    let refused = 0;
    const foldedTypes = new Set<string>();
    for (let seed = 1; seed <= 3000; seed++) {
      const rnd = mulberry32(seed);
      let job: Job | null = null;
      for (let i = 0; i < 30; i++) {
        // A finished job takes no more events worth folding: start another.
        if (job && (job.status === 'completed' || job.status === 'cancelled') && rnd() < 0.5) {
          job = null;
        }
        const event = deepFreeze(randomEvent(job, rnd));
        const expected = outcome(() => referenceReduce(job, event));
        const actual = outcome(() => reduce(job, event));
        expect(actual, `seed ${seed}, event ${i}: ${JSON.stringify(event)}`).toStrictEqual(
          expected,
        );
        if ('job' in actual) {
          // What a browser does with an event the server accepted: apply it unchecked.
          expect(applyEvent(job, event), `applyEvent, seed ${seed}, event ${i}`).toStrictEqual(
            actual.job,
          );
          folded++;
          foldedTypes.add(event.type);
          job = deepFreeze(actual.job);
        } else refused++;
      }
    }
    // Both sides of the comparison were exercised in earnest.
    expect(folded).toBeGreaterThan(40_000);
    expect(refused).toBeGreaterThan(20_000);
    expect(foldedTypes.size).toBe(12);
  }, 60_000);
});
