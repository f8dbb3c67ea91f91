// The client against the real @jobstream/server (built dist) over real sockets.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryJobStore } from '@jobstream/core';
import type { JobEvent } from '@jobstream/core/lite';
import {
  createJobServer,
  defineJob,
  type JobServerOptions,
  type StandardSchemaV1,
} from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionState,
  createJobClient,
  type JobClient,
  type JobClientError,
  type JobWatcher,
} from '../src/index.js';
import { delay, waitFor } from './helpers.js';

/** A pass-through Standard Schema (the client package has no zod). */
function schema<T>(): StandardSchemaV1<T> {
  return {
    '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: value as T }) },
  };
}

/** Gates a running job can wait on, opened by the test. */
const gates = new Map<string, () => void>();
const gate = (name: string) => new Promise<void>((resolve) => gates.set(name, resolve));
const open = async (name: string) => {
  await waitFor(() => gates.has(name));
  gates.get(name)?.();
  gates.delete(name);
};
const runs = new Map<string, number>();

const STEPS = ['fetch_questions', 'generate_lessons', 'save_course'] as const;
const courseJob = defineJob({
  kind: 'course',
  input: schema<{ examId: string; wait?: boolean; failOnce?: boolean; ticks?: number }>(),
  steps: STEPS,
  async run({ examId, wait, failOnce, ticks = 0 }, { tracker, isStepCompleted }) {
    const run = (runs.get(examId) ?? 0) + 1;
    runs.set(examId, run);
    for (const step of STEPS) {
      if (isStepCompleted(step)) continue;
      await tracker.startStep(step);
      tracker.progress(50, `${step}: half`);
      await tracker.flush();
      if (wait && step === 'generate_lessons') await gate(examId);
      for (let i = 1; step === 'generate_lessons' && i <= ticks; i++) {
        tracker.progress(50 + (50 * i) / ticks, `${step}: tick ${i}`);
        await tracker.flush();
        await delay(5);
      }
      if (failOnce && run === 1 && step === 'generate_lessons') throw new Error('model overloaded');
      tracker.progress(100, `${step}: done`);
      await tracker.completeStep();
    }
    return { courseId: `course-${examId}` };
  },
});

interface Running {
  base: string;
  client: JobClient<typeof courseJob>;
  streamRequests: (string | undefined)[];
  httpServer: http.Server;
  activeStreams(): number;
  close(): Promise<void>;
}

let running: Running | undefined;
const watchers: JobWatcher<any>[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await running?.close();
  running = undefined;
  for (const release of gates.values()) release();
  gates.clear();
});

async function startServer(overrides: Partial<JobServerOptions> = {}): Promise<Running> {
  const store = new MemoryJobStore();
  const jobServer = createJobServer({
    store,
    jobs: [courseJob],
    authenticate: (request) => request.headers.get('x-user'),
    basePath: '/api/generation',
    tracker: { coalesceMs: 0 },
    retryMs: 20,
    onError: () => {},
    ...overrides,
  });
  const handler = toNodeHandler(jobServer);
  const streamRequests: (string | undefined)[] = [];
  const httpServer = http.createServer((req, res) => {
    if (req.url?.includes('/stream/')) {
      const header = req.headers['last-event-id'];
      streamRequests.push(Array.isArray(header) ? header[0] : header);
    }
    void handler(req, res);
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/api/generation`;
  running = {
    base,
    client: createJobClient<typeof courseJob>({ baseUrl: base, headers: { 'x-user': 'alice' } }),
    streamRequests,
    httpServer,
    activeStreams: () => jobServer.activeStreams,
    async close() {
      jobServer.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      store.close();
    },
  };
  return running;
}

function collect(client: JobClient<typeof courseJob>, jobId: string, lastEventId?: number) {
  const events: JobEvent[] = [];
  const states: ConnectionState[] = [];
  const errors: JobClientError[] = [];
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const sub = client.subscribe(jobId, {
    ...(lastEventId === undefined ? {} : { lastEventId }),
    retry: { initialDelayMs: 10, maxDelayMs: 50 },
    onEvent: (e) => events.push(e),
    onStateChange: (s) => {
      states.push(s);
      if (s === 'closed') resolve();
    },
    onError: (e) => errors.push(e),
  });
  return { sub, events, states, errors, done };
}

/** Polls `/status` until the job has `status`. */
async function waitForStatus(client: JobClient<typeof courseJob>, jobId: string, status: string) {
  for (let i = 0; i < 500; i++) {
    const answer = await client.status(jobId);
    if (answer.job.status === status) return answer;
    await delay(10);
  }
  throw new Error(`job ${jobId} never became ${status}`);
}

const ids = (events: JobEvent[]) => events.map((e) => e.id);
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('client against the real @jobstream/server', () => {
  it('starts a job and follows it to completion: every event once, in order', async () => {
    const { client } = await startServer();
    const { jobId, streamUrl } = await client.start({ examId: 'e1' });
    expect(streamUrl).toBe(`/api/generation/stream/${jobId}`);
    const run = collect(client, jobId);
    await run.done;
    const last = run.events.at(-1);
    expect(last?.type).toBe('job_completed');
    expect(ids(run.events)).toEqual(oneToN(run.events.length));
    expect(run.errors).toEqual([]);
    expect(run.states).toEqual(['connecting', 'open', 'closed']);

    const { job, canResume } = await client.status(jobId);
    expect(canResume).toBe(false);
    expect(job.status).toBe('completed');
    expect(job.result).toEqual({ courseId: 'course-e1' });
    expect(job.version).toBe(last?.id);

    // A watcher replays the same events into the same record the server holds.
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    const { job: folded, ...rest } = watcher.getSnapshot();
    expect(rest).toEqual({ connection: 'closed', error: null, lastEventId: job.version });
    const {
      current_step,
      current_step_index,
      total_steps,
      created_at,
      started_at,
      completed_at,
      ...record
    } = job as typeof job & Record<string, unknown>;
    expect(current_step).toBe('save_course');
    expect(folded).toEqual(record);
  });

  it('survives dropped connections mid-job: resumes with Last-Event-ID, never repeats an event', async () => {
    const server = await startServer();
    const { client } = server;
    const { jobId } = await client.start({ examId: 'drop', wait: true });
    const run = collect(client, jobId);
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    // Waiting at the gate, in step 2: cut every connection, as a network drop would.
    await waitFor(() =>
      run.events.some((e) => e.type === 'step_progress' && e.data.step === 'generate_lessons'),
    );
    await waitFor(() => watcher.getSnapshot().job?.currentStep === 'generate_lessons');
    const seenBeforeDrop = run.events.length;
    server.httpServer.closeAllConnections();
    await waitFor(() => run.states.filter((s) => s === 'open').length >= 2);
    await open('drop');
    await run.done;
    await waitFor(() => watcher.getSnapshot().connection === 'closed');

    expect(ids(run.events)).toEqual(oneToN(run.events.length));
    expect(run.events.at(-1)?.type).toBe('job_completed');
    expect(run.states.slice(0, 4)).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(run.errors.every((e) => e.kind === 'network' && e.retryable)).toBe(true);
    // The reconnections resumed after the last event each client had.
    expect(server.streamRequests.filter((h) => h !== undefined)).toContain(String(seenBeforeDrop));
    expect(watcher.getSnapshot().job?.status).toBe('completed');
    expect(watcher.getSnapshot().job?.version).toBe(run.events.length);
    expect(watcher.getSnapshot().error).toBeNull();
  });

  it('shares one stream between watchers of a job', async () => {
    const server = await startServer();
    const { jobId } = await server.client.start({ examId: 'shared', wait: true });
    const a = server.client.watch(jobId);
    const b = server.client.watch(jobId);
    watchers.push(a, b);
    await waitFor(() => a.getSnapshot().job?.currentStep === 'generate_lessons');
    expect(server.activeStreams()).toBe(1);
    expect(server.streamRequests).toHaveLength(1);
    expect(b.getSnapshot()).toBe(a.getSnapshot());
    a.close();
    b.close();
    await waitFor(() => server.activeStreams() === 0);
  });

  it('cancels through the watcher; a second cancel of a finished job is a typed 409', async () => {
    const server = await startServer();
    const { client } = server;
    const { jobId } = await client.start({ examId: 'cancel', wait: true });
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().job?.currentStep === 'generate_lessons');
    await watcher.cancel('changed my mind');
    // At once, from the cancel's answer; then the stream's own job_cancelled changes nothing.
    expect(watcher.getSnapshot().job?.status).toBe('cancelled');
    expect(watcher.getSnapshot().job?.cancelReason).toBe('changed my mind');
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    expect(watcher.getSnapshot().error).toBeNull();
    // Idempotent on a cancelled job.
    expect((await client.cancel(jobId)).status).toBe('cancelled');

    const done = await client.start({ examId: 'done' });
    await collect(client, done.jobId).done;
    await expect(client.cancel(done.jobId)).rejects.toMatchObject({
      name: 'JobClientError',
      kind: 'http',
      status: 409,
      code: 'job_finished',
      retryable: false,
    });
  });

  it('resumes a failed job through the watcher and keeps following it', async () => {
    const { client } = await startServer();
    const { jobId } = await client.start({ examId: 'flaky', failOnce: true });
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    expect(watcher.getSnapshot().job?.status).toBe('failed');
    expect(watcher.getSnapshot().job?.error?.message).toBe('model overloaded');
    expect((await client.status(jobId)).canResume).toBe(true);

    await watcher.resume();
    await waitFor(() => watcher.getSnapshot().job?.status === 'completed');
    expect(watcher.getSnapshot().job?.result).toEqual({ courseId: 'course-flaky' });
    expect(watcher.getSnapshot().job).toEqual(
      (({
        current_step,
        current_step_index,
        total_steps,
        created_at,
        started_at,
        completed_at,
        ...j
      }) => j)((await client.status(jobId)).job as any),
    );
  });

  it('a watcher whose Resume comes after another tab resumed the job follows it, no error', async () => {
    const { client } = await startServer();
    const { jobId } = await client.start({ examId: 'two-tabs', failOnce: true });
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    expect(watcher.getSnapshot().job?.status).toBe('failed');

    // Another tab (its own client) resumes first; this tab's button is pressed after.
    const otherTab = createJobClient({
      baseUrl: running?.base ?? '',
      headers: { 'x-user': 'alice' },
    });
    await otherTab.resume(jobId);
    await expect(client.resume(jobId)).rejects.toMatchObject({ status: 409 });
    await watcher.resume();
    await waitFor(() => watcher.getSnapshot().job?.status === 'completed');
    expect(watcher.getSnapshot().error).toBeNull();
    expect(watcher.getSnapshot().job?.result).toEqual({ courseId: 'course-two-tabs' });
  });

  it('a viewer opened after a failed job was resumed follows it past the old job_failed', async () => {
    // Found by tests/chaos.test.ts: a full replay ended at the first job_failed, so a page
    // opened later showed "failed" (and offered a resume that answers 409) for a job that
    // had been resumed and completed.
    const { client } = await startServer();
    const { jobId } = await client.start({ examId: 'flaky-late', failOnce: true });
    await waitFor(() => runs.get('flaky-late') === 1);
    const first = collect(client, jobId);
    await first.done;
    expect(first.events.at(-1)?.type).toBe('job_failed');
    await client.resume(jobId);
    const { job: done } = await waitForStatus(client, jobId, 'completed');

    const late = collect(client, jobId);
    await late.done;
    expect(ids(late.events)).toEqual(oneToN(done.version));
    expect(late.events.at(-1)?.type).toBe('job_completed');
    expect(late.errors).toEqual([]);
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    expect(watcher.getSnapshot().job?.status).toBe('completed');
    expect(watcher.getSnapshot().lastEventId).toBe(done.version);
  });

  it('stops for good on 401 and 404, and on 204 when nothing is newer', async () => {
    const server = await startServer();
    const anonymous = createJobClient({ baseUrl: server.base });
    const { jobId } = await server.client.start({ examId: 'auth' });
    const unauthorized = collect(anonymous as JobClient<typeof courseJob>, jobId);
    await unauthorized.done;
    expect(unauthorized.errors.map((e) => [e.status, e.code, e.retryable])).toEqual([
      [401, 'unauthorized', false],
    ]);

    const bob = createJobClient({ baseUrl: server.base, headers: () => ({ 'x-user': 'bob' }) });
    await expect(bob.status(jobId)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    const notYours = collect(bob as JobClient<typeof courseJob>, jobId);
    await notYours.done;
    expect(notYours.errors.map((e) => e.code)).toEqual(['not_found']);

    await collect(server.client, jobId).done;
    const { job } = await server.client.status(jobId);
    const after = collect(server.client, jobId, job.version);
    await after.done;
    expect(after.events).toEqual([]);
    expect(after.errors).toEqual([]);
    expect(after.states).toEqual(['connecting', 'closed']);
    await delay(50);
    expect(server.streamRequests.filter((h) => h === String(job.version))).toHaveLength(1);
  });

  it("lists the caller's own jobs, a page at a time: what a reloaded page asks to reopen its job", async () => {
    const server = await startServer();
    const { jobId: waiting } = await server.client.start({ examId: 'reload', wait: true });
    const { jobId: done } = await server.client.start({ examId: 'done' });
    await collect(server.client, done).done;
    const bob = createJobClient<typeof courseJob>({
      baseUrl: server.base,
      headers: () => ({ 'x-user': 'bob' }),
    });
    const { jobId: bobs } = await bob.start({ examId: 'bobs' });
    await waitFor(
      async () => (await server.client.status(waiting)).job.currentStep === 'generate_lessons',
    );

    const active = await server.client.list({ status: ['pending', 'running'] });
    expect(active.jobs.map((job) => job.id)).toEqual([waiting]);
    const step: (typeof STEPS)[number] | null = active.jobs[0]?.currentStep ?? null; // typed
    expect(step).toBe('generate_lessons');
    expect(active.nextCursor).toBeNull();

    const first = await server.client.list({ limit: 1 });
    const second = await server.client.list({ limit: 1, cursor: first.nextCursor });
    expect([...first.jobs, ...second.jobs].map((job) => job.id).sort()).toEqual(
      [waiting, done].sort(),
    );
    // Absent fields (null, undefined) are left out of the query, not sent as text.
    const everything = await server.client.list({ cursor: null, kind: undefined });
    expect(everything.jobs.map((job) => job.id).sort()).toEqual([waiting, done].sort());
    expect((await bob.list()).jobs.map((job) => job.id)).toEqual([bobs]);
    await expect(server.client.list({ limit: 0 })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_input',
    });
    const aborted = new AbortController();
    aborted.abort();
    await expect(server.client.list({ signal: aborted.signal })).rejects.toMatchObject({
      kind: 'network',
    });
    await open('reload');
  });

  it("rides the server's stream rotation unseen: still open, no error, every event once", async () => {
    // Two streams (a subscription and a watcher) in two slots: each reconnection finds the
    // slot its ended stream held already free, or it would be a 429 and `reconnecting`.
    const server = await startServer({ maxStreamAgeMs: 150, maxStreamsPerOwner: 2 });
    const { client } = server;
    const { jobId } = await client.start({ examId: 'rotate', ticks: 150 });
    const run = collect(client, jobId);
    const watcher = client.watch(jobId);
    watchers.push(watcher);
    const seen = new Set<string>();
    watcher.subscribe(() => {
      const { connection, error } = watcher.getSnapshot();
      seen.add(connection);
      if (error) seen.add(`error: ${error.message}`);
    });
    await run.done;
    await waitFor(() => watcher.getSnapshot().connection === 'closed');

    expect(run.states).toEqual(['connecting', 'open', 'closed']);
    expect(run.errors).toEqual([]);
    expect(ids(run.events)).toEqual(oneToN(run.events.length));
    expect(run.events.at(-1)?.type).toBe('job_completed');
    expect([...seen].sort()).toEqual(['closed', 'connecting', 'open']);
    expect(watcher.getSnapshot().job?.status).toBe('completed');
    expect(watcher.getSnapshot().job?.version).toBe(run.events.length);
    // The streams were rotated, each time resuming after an event the client had.
    const resumed = server.streamRequests.filter((h) => h !== undefined).map(Number);
    expect(resumed.length).toBeGreaterThanOrEqual(2);
    for (const id of resumed) expect(id).toBeLessThan(run.events.length);
    expect(server.activeStreams()).toBe(0);
  });

  it("keeps a quiet stream alive on the server's heartbeats", async () => {
    const server = await startServer({ heartbeatMs: 50 });
    const { jobId } = await server.client.start({ examId: 'quiet', wait: true });
    const run = collect(server.client, jobId);
    await waitFor(() =>
      run.events.some((e) => e.type === 'step_progress' && e.data.step === 'generate_lessons'),
    );
    const sub = server.client.subscribe(jobId, { heartbeatTimeoutMs: 1_000 });
    await delay(1_500);
    expect(sub.state).toBe('open');
    await open('quiet');
    await run.done;
    sub.close();
    expect(run.errors).toEqual([]);
    expect(server.streamRequests).toHaveLength(2);
  });
});
