import { describe, expect, it } from 'vitest';
import type { JobEvent } from './events.js';
import { followJob } from './follow-job.js';
import { MemoryJobStore } from './memory-store.js';
import type { EventListener, JobStore } from './store.js';

const STEPS = [{ name: 'work' }];

async function runningJob(store: JobStore) {
  const { job } = await store.createJob({ ownerId: 'u', kind: 'k', input: null, steps: STEPS });
  const { job: running } = await store.commit(job.id, {
    expectedVersion: 1,
    events: [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'work', stepIndex: 1 } },
    ],
  });
  return running;
}

async function write(store: JobStore, jobId: string, count: number) {
  for (let i = 0; i < count; i++) {
    const job = await store.getJob(jobId);
    await store.commit(jobId, {
      expectedVersion: job!.version,
      events: [
        { type: 'step_progress', data: { step: 'work', progress: i % 100, stepProgress: i % 100 } },
      ],
    });
  }
}

async function finish(store: JobStore, jobId: string) {
  const job = await store.getJob(jobId);
  await store.commit(jobId, {
    expectedVersion: job!.version,
    events: [{ type: 'job_completed', data: { result: null, totalDuration: 1 } }],
  });
}

/** Delivers only every other live event, as a lossy pub/sub might. */
class LossyStore extends MemoryJobStore {
  override async subscribe(jobId: string, onEvent: EventListener) {
    return super.subscribe(jobId, (event) => {
      if (event.id % 2 === 0) onEvent(event);
    });
  }
}

describe('followJob', () => {
  it("goes past a job_failed that a resume followed, to the job's last event", async () => {
    const store = new MemoryJobStore();
    const job = await runningJob(store);
    const failed = await store.commit(job.id, {
      expectedVersion: job.version,
      events: [{ type: 'job_failed', data: { error: { message: 'lost' }, failedStep: 'work' } }],
    });
    await store.commit(job.id, {
      expectedVersion: failed.job.version,
      events: [{ type: 'job_resumed', data: {} }],
    });
    const resumed = await store.getJob(job.id);
    await store.commit(job.id, {
      expectedVersion: resumed!.version,
      events: [
        { type: 'job_started', data: {} },
        { type: 'step_started', data: { step: 'work', stepIndex: 1 } },
      ],
    });
    await finish(store, job.id);
    const seen: string[] = [];
    for await (const event of followJob(store, job.id)) seen.push(event.type);
    expect(seen).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'job_failed',
      'job_resumed',
      'job_started',
      'step_started',
      'job_completed',
    ]);
  });

  it('repairs live deliveries the store skipped by reading it', async () => {
    const store = new LossyStore();
    const job = await runningJob(store);
    const seen: number[] = [];
    const following = (async () => {
      for await (const event of followJob(store, job.id)) seen.push(event.id);
    })();
    await new Promise((r) => setTimeout(r, 5));
    await write(store, job.id, 30);
    await finish(store, job.id);
    await following;
    expect(seen).toEqual(Array.from({ length: 34 }, (_, i) => i + 1));
  });

  it('a slow consumer stays bounded and still sees every event once, in order', async () => {
    const store = new MemoryJobStore();
    const job = await runningJob(store);
    const seen: number[] = [];
    const following = (async () => {
      for await (const event of followJob(store, job.id, { maxBuffered: 10, pageSize: 7 })) {
        seen.push(event.id);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await new Promise((r) => setTimeout(r, 5));
    await write(store, job.id, 200);
    await finish(store, job.id);
    await following;
    expect(seen).toEqual(Array.from({ length: 204 }, (_, i) => i + 1));
    expect(store.listenerCount()).toBe(0);
  });

  it('abort ends the iteration quietly and releases the subscription', async () => {
    const store = new MemoryJobStore();
    const job = await runningJob(store);
    const controller = new AbortController();
    const seen: JobEvent[] = [];
    const following = (async () => {
      for await (const event of followJob(store, job.id, { signal: controller.signal }))
        seen.push(event);
    })();
    await new Promise((r) => setTimeout(r, 5));
    expect(store.listenerCount()).toBe(1);
    controller.abort();
    await following;
    expect(seen.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(store.listenerCount()).toBe(0);
  });

  it('a consumer that breaks out early releases the subscription', async () => {
    const store = new MemoryJobStore();
    const job = await runningJob(store);
    for await (const event of followJob(store, job.id)) {
      if (event.id === 2) break;
    }
    expect(store.listenerCount()).toBe(0);
  });

  it('rejects a negative or fractional after', async () => {
    const store = new MemoryJobStore();
    const job = await runningJob(store);
    await expect(followJob(store, job.id, { after: -1 }).next()).rejects.toThrow(/after/);
    await expect(followJob(store, job.id, { after: 1.5 }).next()).rejects.toThrow(/after/);
  });
});
