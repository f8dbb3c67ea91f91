import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryJobStore } from './memory-store.js';
import { runJobStoreConformance } from './testing.js';

runJobStoreConformance({
  name: 'MemoryJobStore',
  create: () => new MemoryJobStore(),
  cleanup: (store) => store.close(),
  listenerCount: (store) => store.listenerCount(),
});

describe('MemoryJobStore retention', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps finished jobs past their TTL on a timer that does not hold the process', async () => {
    vi.useFakeTimers();
    const store = new MemoryJobStore({
      retention: { finishedJobTtlMs: 1000, sweepIntervalMs: 500 },
    });
    const { job } = await store.createJob({
      ownerId: 'u',
      kind: 'k',
      input: null,
      steps: [{ name: 'a' }],
    });
    const { job: keep } = await store.createJob({
      ownerId: 'u',
      kind: 'k',
      input: null,
      steps: [{ name: 'a' }],
    });
    await store.commit(job.id, {
      expectedVersion: 1,
      events: [
        { type: 'job_cancelled', data: { reason: null, cancelledAt: new Date().toISOString() } },
      ],
    });
    await vi.advanceTimersByTimeAsync(600);
    expect(await store.getJob(job.id)).not.toBeNull();
    await vi.advanceTimersByTimeAsync(1000);
    expect(await store.getJob(job.id)).toBeNull();
    expect(await store.getJob(keep.id)).not.toBeNull();
    store.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a listener that throws does not undo the commit or starve other listeners', async () => {
    const store = new MemoryJobStore();
    const { job } = await store.createJob({
      ownerId: 'u',
      kind: 'k',
      input: null,
      steps: [{ name: 'a' }],
    });
    const seen: number[] = [];
    await store.subscribe(job.id, () => {
      throw new Error('boom');
    });
    await store.subscribe(job.id, (e) => seen.push(e.id));
    const { job: after } = await store.commit(job.id, {
      expectedVersion: 1,
      events: [{ type: 'job_started', data: {} }],
    });
    expect(after.status).toBe('running');
    expect(seen).toEqual([2]);
  });
});
