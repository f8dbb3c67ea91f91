// maxStreamsPerOwner: one owner cannot hold more than N event streams on an instance.
import { MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobServer, JobServerConfigError } from '../src/index.js';
import { post, startServer, type TestServer, waitingJob } from './helpers.js';

let server: TestServer | null = null;
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const abort of aborts.splice(0)) abort.abort();
  await server?.close();
  server = null;
});

async function startJob(base: string, user: string, input: object = {}): Promise<string> {
  const res = await post(`${base}/start`, input, user);
  expect(res.status).toBe(202);
  return ((await res.json()) as { jobId: string }).jobId;
}

/** Opens a stream and reads its first bytes (the stream is really open); returns its abort. */
async function openStream(base: string, jobId: string, user: string) {
  const abort = new AbortController();
  aborts.push(abort);
  const res = await fetch(`${base}/stream/${jobId}`, {
    headers: { 'x-user': user },
    signal: abort.signal,
  });
  if (res.status === 200) await res.body?.getReader().read();
  return { res, abort };
}

describe('maxStreamsPerOwner', () => {
  it('answers 429 with Retry-After past the limit, per owner, and admits again once one closes', async () => {
    server = await startServer({ jobs: [waitingJob], maxStreamsPerOwner: 2 });
    const { base } = server;
    const job = await startJob(base, 'alice');
    const first = await openStream(base, job, 'alice');
    const second = await openStream(base, job, 'alice');
    expect([first.res.status, second.res.status]).toEqual([200, 200]);

    const third = await openStream(base, job, 'alice');
    expect(third.res.status).toBe(429);
    expect(third.res.headers.get('retry-after')).toBe('5');
    expect(await third.res.json()).toEqual({
      error: {
        code: 'rate_limited',
        message: 'You have 2 event streams open (the limit); close one, or wait.',
      },
    });

    // Another owner is not held back by alice's streams.
    const bobJob = await startJob(base, 'bob');
    expect((await openStream(base, bobJob, 'bob')).res.status).toBe(200);

    // Closing one of alice's gives her room again (the server sees the close).
    first.abort.abort();
    const deadline = Date.now() + 10_000;
    let again = await openStream(base, job, 'alice');
    while (again.res.status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await openStream(base, job, 'alice');
    }
    expect(again.res.status).toBe(200);
  });

  it('counts streams that end by themselves out again', async () => {
    server = await startServer({ maxStreamsPerOwner: 1 });
    const { base } = server;
    // quickJob runs to the end; each full replay ends after job_completed.
    const job = await startJob(base, 'alice', { examId: 'e1' });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${base}/stream/${job}`, { headers: { 'x-user': 'alice' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('job_completed');
    }
    expect(server.jobServer.activeStreams).toBe(0);
  });

  it('refuses a limit below 1 when the server is made', () => {
    const make = (maxStreamsPerOwner: number) => () =>
      createJobServer({
        store: new MemoryJobStore(),
        jobs: [waitingJob],
        authenticate: () => 'x',
        maxStreamsPerOwner,
      });
    expect(make(0)).toThrow(JobServerConfigError);
    expect(make(0)).toThrow(/maxStreamsPerOwner must be at least 1/);
    expect(make(Number.NaN)).toThrow(JobServerConfigError);
    expect(make(Number.POSITIVE_INFINITY)).not.toThrow();
  });
});
