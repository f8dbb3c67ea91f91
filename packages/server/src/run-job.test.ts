import { type CommitRequest, JobstreamError, MemoryJobStore } from '@jobstream/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from './define-job.js';
import { runJob } from './run-job.js';

async function pendingJob(store: MemoryJobStore) {
  const { job } = await store.createJob({
    ownerId: 'o',
    kind: 'k',
    input: {},
    steps: [{ name: 'a' }, { name: 'b' }],
  });
  return job.id;
}

/** Runs a job that starts steps a and b and returns; what runJob reported beside. */
async function runTwoSteps(store: MemoryJobStore) {
  const job = defineJob({
    kind: 'k',
    input: z.object({}),
    steps: ['a', 'b'],
    run: async (_input, { tracker }) => {
      await tracker.startStep('a');
      await tracker.startStep('b');
      return { ok: true };
    },
  });
  const id = await pendingJob(store);
  const errors: unknown[] = [];
  await runJob(store, job, id, { onError: (e) => errors.push(e) });
  return { id, errors };
}

describe('runJob', () => {
  it('fails the job on a synchronous throw of a non-Error, recording the running step', async () => {
    const store = new MemoryJobStore();
    const job = defineJob({
      kind: 'k',
      input: z.object({}),
      steps: ['a', 'b'],
      run: (_input, { tracker }) =>
        tracker.startStep('b').then(() => {
          throw 'plain string';
        }),
    });
    const id = await pendingJob(store);
    const errors: unknown[] = [];
    await runJob(store, job, id, { onError: (e) => errors.push(e) });
    const done = await store.getJob(id);
    expect(done?.status).toBe('failed');
    expect(done?.error?.message).toBe('plain string');
    const last = (await store.readEvents(id)).at(-1);
    expect(last).toMatchObject({ type: 'job_failed', data: { failedStep: 'b' } });
    expect(errors).toEqual([]);
    expect(store.listenerCount()).toBe(0);
  });

  it('runs a job once: a second runner of the same job does nothing', async () => {
    const store = new MemoryJobStore();
    let runs = 0;
    const job = defineJob({
      kind: 'k',
      input: z.object({}),
      steps: ['a'],
      async run() {
        runs++;
        return 1;
      },
    });
    const id = await pendingJob(store);
    await Promise.all([runJob(store, job, id), runJob(store, job, id), runJob(store, job, id)]);
    expect(runs).toBe(1);
    expect((await store.getJob(id))?.status).toBe('completed');
  });

  it('writes nothing more when run returns after its job was cancelled', async () => {
    const store = new MemoryJobStore();
    const job = defineJob({
      kind: 'k',
      input: z.object({}),
      steps: ['a'],
      async run(_input, { jobId, signal }) {
        const { ProgressTracker } = await import('@jobstream/core');
        const other = new ProgressTracker(store, jobId);
        await other.cancel('elsewhere');
        expect(signal.aborted).toBe(true);
        return 'ignored';
      },
    });
    const id = await pendingJob(store);
    await runJob(store, job, id);
    const events = await store.readEvents(id);
    expect(events.at(-1)?.type).toBe('job_cancelled');
    expect(events.map((e) => e.type)).not.toContain('job_completed');
    expect(store.listenerCount()).toBe(0);
  });

  it('runs a job whose claim was written but whose answer was lost (a dropped connection)', async () => {
    let lose = true;
    const store = new (class extends MemoryJobStore {
      override async commit(jobId: string, request: CommitRequest) {
        const written = await super.commit(jobId, request);
        if (lose) {
          lose = false;
          throw new JobstreamError('store_unavailable', 'connection reset');
        }
        return written;
      }
    })();
    const { id, errors } = await runTwoSteps(store);
    // Before, the claim's error was reported and the job sat in `running` with no worker.
    expect(errors).toEqual([]);
    expect((await store.getJob(id))?.status).toBe('completed');
    const types = (await store.readEvents(id)).map((e) => e.type);
    expect(types.filter((t) => t === 'job_started')).toHaveLength(1);
  });
});

describe('runJob through a store outage right after the claim', () => {
  it('runs the job it claimed, rather than leaving it running with no worker', async () => {
    /** Down for 300 ms from the moment the claim is written: every call fails meanwhile. */
    class DropsAfterClaim extends MemoryJobStore {
      down = false;
      #claimed = false;
      #check(): void {
        if (this.down) throw new JobstreamError('store_unavailable', 'connection refused');
      }
      override async commit(jobId: string, request: CommitRequest) {
        this.#check();
        const written = await super.commit(jobId, request);
        if (!this.#claimed) {
          this.#claimed = true;
          this.down = true;
          setTimeout(() => {
            this.down = false;
          }, 300);
        }
        return written;
      }
      override async getJob(id: string) {
        this.#check();
        return super.getJob(id);
      }
      override async readEvents(jobId: string, options?: { after?: number; limit?: number }) {
        this.#check();
        return super.readEvents(jobId, options);
      }
      override async subscribe(...args: Parameters<MemoryJobStore['subscribe']>) {
        this.#check();
        return super.subscribe(...args);
      }
    }
    const store = new DropsAfterClaim();
    const { id, errors } = await runTwoSteps(store);
    expect(errors).toEqual([]);
    expect((await store.getJob(id))?.status).toBe('completed');
    expect(store.listenerCount()).toBe(0);
  });
});
