import { MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createJobServer, defineJob } from '../src/index.js';
import { post, startServer, type TestServer, waitingJob } from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const roundTrip = () => new Promise((resolve) => setTimeout(resolve, 2));

/**
 * A store whose reads and writes take a round trip, as a real database's do, so other
 * requests run between a start's check and its create (in memory, nothing would).
 */
class SlowListStore extends MemoryJobStore {
  override async listJobs(...args: Parameters<MemoryJobStore['listJobs']>) {
    await roundTrip();
    return super.listJobs(...args);
  }
  override async createJob(...args: Parameters<MemoryJobStore['createJob']>) {
    await roundTrip();
    return super.createJob(...args);
  }
  override async commit(...args: Parameters<MemoryJobStore['commit']>) {
    await roundTrip();
    return super.commit(...args);
  }
}

async function activeOf(store: MemoryJobStore, ownerId: string) {
  const { jobs } = await store.listJobs({ ownerId, status: ['pending', 'running'] });
  return jobs;
}

describe('maxActiveJobsPerOwner under concurrency', () => {
  it('admits exactly the limit when 30 starts arrive at once (direct handler calls)', async () => {
    const store = new SlowListStore();
    const jobServer = createJobServer({
      store,
      jobs: [waitingJob],
      authenticate: (request) => request.headers.get('x-user'),
      maxActiveJobsPerOwner: 3,
      onError: () => {},
    });
    const start = (user: string) =>
      jobServer.start(
        new Request('http://localhost/start', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user': user },
          body: '{}',
        }),
      );
    const responses = await Promise.all([
      ...Array.from({ length: 30 }, () => start('alice')),
      ...Array.from({ length: 5 }, () => start('bob')),
    ]);
    const statuses = responses.map((r) => r.status);
    expect(statuses.slice(0, 30).filter((s) => s === 202)).toHaveLength(3);
    expect(statuses.slice(0, 30).filter((s) => s === 429)).toHaveLength(27);
    expect(statuses.slice(30).filter((s) => s === 202)).toHaveLength(3);
    expect(await activeOf(store, 'alice')).toHaveLength(3);
    expect(await activeOf(store, 'bob')).toHaveLength(3);
    for (const job of [...(await activeOf(store, 'alice')), ...(await activeOf(store, 'bob'))]) {
      await jobServer.cancel(
        new Request('http://localhost/cancel', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user': job.ownerId },
          body: JSON.stringify({ jobId: job.id }),
        }),
      );
    }
    jobServer.close();
  });

  it('holds over real sockets, for starts and resumes racing together', async () => {
    const store = new SlowListStore();
    server = await startServer({ store, jobs: [waitingJob], maxActiveJobsPerOwner: 2 });
    const base = server.base;
    // Two failed jobs a resume would bring back.
    const failed: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { job } = await store.createJob({
        ownerId: 'alice',
        kind: 'waiting',
        input: {},
        steps: [{ name: 'wait' }],
      });
      await store.commit(job.id, {
        expectedVersion: 1,
        events: [
          { type: 'job_started', data: {} },
          { type: 'job_failed', data: { error: { message: 'flaky' }, failedStep: null } },
        ],
      });
      failed.push(job.id);
    }
    const responses = await Promise.all([
      ...Array.from({ length: 20 }, () => post(`${base}/start`, {})),
      ...failed.map((jobId) => post(`${base}/resume`, { jobId })),
    ]);
    const admitted = responses.filter((r) => r.status === 202);
    expect(admitted).toHaveLength(2);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(20);
    const active = await activeOf(store, 'alice');
    expect(active).toHaveLength(2);
    for (const job of active) await post(`${base}/cancel`, { jobId: job.id });
  });

  it('holds across two instances on one store: the newest starts lose and never run', async () => {
    const store = new SlowListStore();
    let runs = 0;
    const counted = defineJob({
      ...waitingJob,
      kind: 'waiting',
      input: z.object({}),
      steps: ['wait'],
      run: (input, ctx) => {
        runs++;
        return waitingJob.run(input, ctx as never);
      },
    });
    // Two servers, as two processes behind a load balancer: separate locks, one store.
    const instances = [0, 1].map(() =>
      createJobServer({
        store,
        jobs: [counted],
        authenticate: (request) => request.headers.get('x-user'),
        maxActiveJobsPerOwner: 1,
        onError: () => {},
      }),
    );
    const start = (i: number) =>
      (instances[i % 2] as (typeof instances)[number]).start(
        new Request('http://localhost/start', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user': 'alice' },
          body: '{}',
        }),
      );
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => start(i)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(19);
    const active = await activeOf(store, 'alice');
    expect(active).toHaveLength(1);
    // Every job a losing start created is cancelled, with a reason, and none of them ran.
    const { jobs: all } = await store.listJobs({ ownerId: 'alice', limit: 100 });
    for (const job of all.filter((j) => !active.some((a) => a.id === j.id))) {
      expect(job.status).toBe('cancelled');
      expect(job.cancelReason).toBe('Over the limit of active jobs (1).');
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toBe(1);
    const problem = (await responses[statuses.indexOf(429)]?.json()) as {
      error: { code: string };
    };
    expect(problem.error.code).toBe('rate_limited');
    for (const job of active) {
      await (instances[0] as (typeof instances)[number]).cancel(
        new Request('http://localhost/cancel', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user': 'alice' },
          body: JSON.stringify({ jobId: job.id }),
        }),
      );
    }
    for (const instance of instances) instance.close();
  });
});
