import { type Job, MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { quickJob, startServer, type TestServer, waitingJob } from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

interface Page {
  jobs: (Job & { current_step_index?: number })[];
  nextCursor: string | null;
}

async function list(query: string, user: string | null = 'alice') {
  const response = await fetch(`${server?.base}/jobs${query}`, {
    headers: user ? { 'x-user': user } : {},
  });
  const text = await response.text();
  expect(text).not.toMatch(/at .+\(|node:internal|\.ts:\d+/); // never a stack trace
  return {
    status: response.status,
    body: JSON.parse(text) as Page & { error?: { code: string; message: string } },
  };
}

/** Jobs written straight to the store: `ownerId`'s, of `kind`, oldest first. */
async function jobsOf(store: MemoryJobStore, ownerId: string, count: number, kind = 'course') {
  const made: Job[] = [];
  for (let i = 0; i < count; i++) {
    const { job } = await store.createJob({
      ownerId,
      kind,
      input: kind === 'course' ? { examId: `e${i}` } : {},
      steps: [{ name: 'fetch_questions' }],
    });
    made.push(job);
  }
  return made;
}

/** The store's own order of `ownerId`'s jobs (newest first; same-millisecond ones by id). */
async function storeOrder(store: MemoryJobStore, ownerId: string) {
  return (await store.listJobs({ ownerId, limit: 100 })).jobs.map((job) => job.id);
}

/** Every page of `query`, followed by its cursors, `limit` at a time. */
async function allPages(query: string, user: string, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const after: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const { status, body } = await list(`?limit=${limit}${query}${after}`, user);
    expect(status).toBe(200);
    expect(body.jobs.length).toBeLessThanOrEqual(limit);
    ids.push(...body.jobs.map((job) => job.id));
    cursor = body.nextCursor;
  } while (cursor);
  return ids;
}

describe('GET /jobs: the caller’s own jobs', () => {
  it('lists only the caller’s jobs, newest first, with the seed’s column names too', async () => {
    server = await startServer();
    await jobsOf(server.store, 'alice', 3);
    await jobsOf(server.store, 'bob', 2);

    const { status, body } = await list('');
    expect(status).toBe(200);
    expect(body.jobs.map((job) => job.id)).toEqual(await storeOrder(server.store, 'alice'));
    expect(body.jobs.every((job) => job.ownerId === 'alice')).toBe(true);
    expect(body.jobs[0]).toMatchObject({ status: 'pending', current_step_index: 0 });
    expect(body.nextCursor).toBeNull();
  });

  it('pages through every job exactly once, and another owner’s cursor shows nothing of theirs', async () => {
    server = await startServer();
    await jobsOf(server.store, 'alice', 7);
    const bobs = await jobsOf(server.store, 'bob', 3);

    const ids = await allPages('', 'alice', 3);
    expect(ids).toHaveLength(7);
    expect(ids).toEqual(await storeOrder(server.store, 'alice'));
    // A cursor names a place in the order, not whose jobs: bob with alice's cursor
    // still gets only his own.
    const first = await list('?limit=2');
    const { body } = await list(
      `?cursor=${encodeURIComponent(first.body.nextCursor ?? '')}`,
      'bob',
    );
    expect(body.jobs.every((job) => job.ownerId === 'bob')).toBe(true);
    expect(bobs.map((job) => job.id)).toEqual(expect.arrayContaining(body.jobs.map((j) => j.id)));
    // No owner in the query can widen it.
    const widened = await list('?ownerId=bob&owner_id=bob');
    expect(widened.body.jobs.every((job) => job.ownerId === 'alice')).toBe(true);
  });

  it('filters by status (comma-separated or repeated) and by kind', async () => {
    server = await startServer({ jobs: [waitingJob, quickJob] });
    const [pending, cancelled] = (await jobsOf(server.store, 'alice', 2)) as [Job, Job];
    const [waiting] = (await jobsOf(server.store, 'alice', 1, 'waiting')) as [Job];
    await server.store.commit(cancelled.id, {
      expectedVersion: 1,
      events: [
        { type: 'job_cancelled', data: { reason: 'no', cancelledAt: new Date().toISOString() } },
      ],
    });
    // As sets: jobs made in one millisecond are ordered by id (the store's order).
    const ids = async (query: string) => (await list(query)).body.jobs.map((job) => job.id).sort();
    const set = (...jobs: Job[]) => jobs.map((job) => job.id).sort();

    expect(await ids('?status=cancelled')).toEqual(set(cancelled));
    expect(await ids('?status=pending,running')).toEqual(set(waiting, pending));
    expect(await ids('?status=pending&status=cancelled')).toEqual(set(waiting, cancelled, pending));
    expect(await ids('?kind=waiting')).toEqual(set(waiting));
    expect(await ids('?kind=course&status=pending')).toEqual(set(pending));
  });

  it('answers 400 with the rule for a bad query, 401 without identity, 405 for POST', async () => {
    server = await startServer();
    const bad = [
      ['?status=done', /status must be one or more of pending, running, completed/],
      ['?status=pending,bogus', /status must be/],
      ['?limit=0', /limit must be a whole number from 1 to 100/],
      ['?limit=101', /limit/],
      ['?limit=2.5', /limit/],
      ['?limit=abc', /limit/],
      ['?limit=', /limit/],
      ['?kind=report', /kind must be one of this server's kinds: course/],
      ['?cursor=not-a-cursor', /cursor/],
      [`?cursor=${'x'.repeat(5000)}`, /cursor/],
    ] as const;
    for (const [query, message] of bad) {
      const { status, body } = await list(query);
      expect({ query, status, code: body.error?.code }).toEqual({
        query,
        status: 400,
        code: 'invalid_input',
      });
      expect(body.error?.message).toMatch(message);
    }
    expect((await list('')).status).toBe(200); // unknown parameters (a cache-buster) are fine
    expect((await list('?_=123')).status).toBe(200);
    expect((await list('', null)).body.error?.code).toBe('unauthorized');
    const posted = await fetch(`${server.base}/jobs`, {
      method: 'POST',
      headers: { 'x-user': 'alice' },
    });
    expect(posted.status).toBe(405);
    const nested = await fetch(`${server.base}/jobs/x`, { headers: { 'x-user': 'alice' } });
    expect(nested.status).toBe(404);
  });

  it('settles a job whose worker is gone before listing it, so none is listed as running for ever', async () => {
    let now = Date.parse('2026-01-01T10:00:00.000Z');
    const clock = () => new Date(now);
    const store = new MemoryJobStore({ now: clock });
    server = await startServer({ store, now: clock, staleAfterMs: 600_000 });
    const [quiet, live] = (await jobsOf(store, 'alice', 2)) as [Job, Job];
    for (const job of [quiet, live]) {
      await store.commit(job.id, {
        expectedVersion: 1,
        events: [{ type: 'job_started', data: {} }],
      });
    }
    now += 11 * 60_000;
    await store.commit(live.id, {
      expectedVersion: 2,
      events: [{ type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } }],
    });

    const running = await list('?status=running');
    expect(running.body.jobs.map((job) => job.id)).toEqual([live.id]);
    const all = await list('');
    expect(all.body.jobs.find((job) => job.id === quiet.id)).toMatchObject({
      status: 'failed',
      error: { code: 'worker_lost' },
    });
  });
});
