import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob, signBody } from '../src/index.js';
import {
  post,
  quickJob,
  readStream,
  readStreamToEnd,
  startJob,
  startServer,
  type TestServer,
  waitFor,
  waitingJob,
} from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function problemOf(response: Response) {
  const text = await response.text();
  expect(text).not.toMatch(/at .+\(|node:internal|\.ts:\d+/); // never a stack trace
  return {
    status: response.status,
    ...(JSON.parse(text) as { error: { code: string; message: string } }),
  };
}

describe('auth and isolation', () => {
  it('answers 401 without identity on every route', async () => {
    server = await startServer();
    const { jobId } = await startJob(server.base);
    const answers = await Promise.all([
      post(`${server.base}/start`, { examId: 'x' }, null),
      post(`${server.base}/cancel`, { jobId }, null),
      post(`${server.base}/resume`, { jobId }, null),
      fetch(`${server.base}/status/${jobId}`),
      fetch(`${server.base}/stream/${jobId}`),
      fetch(`${server.base}/jobs`),
    ]);
    for (const answer of answers) {
      expect(await problemOf(answer)).toMatchObject({
        status: 401,
        error: { code: 'unauthorized' },
      });
    }
  });

  it("someone else's job answers exactly like a job that does not exist, on every route", async () => {
    server = await startServer();
    const { jobId } = await startJob(server.base, 'e1', 'alice');
    const base = server.base;
    const asBob = async (id: string) => [
      await problemOf(await fetch(`${base}/status/${id}`, { headers: { 'x-user': 'bob' } })),
      await problemOf(await fetch(`${base}/stream/${id}`, { headers: { 'x-user': 'bob' } })),
      await problemOf(await post(`${base}/cancel`, { jobId: id }, 'bob')),
      await problemOf(await post(`${base}/resume`, { jobId: id }, 'bob')),
    ];
    const forAlicesJob = await asBob(jobId);
    const forNoJob = await asBob('no-such-job');
    for (const [i, answer] of forAlicesJob.entries()) {
      expect(answer.status).toBe(404);
      expect(answer.error.code).toBe('not_found');
      expect(answer.error.message.replace(jobId, 'ID')).toBe(
        forNoJob[i]?.error.message.replace('no-such-job', 'ID'),
      );
    }
    // …and bob's attempts changed nothing.
    await waitFor(async () => (await server?.store.getJob(jobId))?.status === 'completed');
    const alice = await fetch(`${base}/status/${jobId}`, { headers: { 'x-user': 'alice' } });
    expect(alice.status).toBe(200);
  });
});

describe('bad input', () => {
  it('answers every bad request with a problem body and the right status', async () => {
    server = await startServer({ maxBodyBytes: 1024 });
    const base = server.base;
    const { jobId } = await startJob(base);
    const cases: [Promise<Response>, number, string][] = [
      [post(`${base}/start`, '{"examId": '), 400, 'invalid_input'],
      [post(`${base}/start`, ''), 400, 'invalid_input'],
      [post(`${base}/start`, { examId: 42 }), 400, 'invalid_input'],
      [post(`${base}/start`, { nope: true }), 400, 'invalid_input'],
      [post(`${base}/start`, { examId: 'x'.repeat(2000) }), 413, 'payload_too_large'],
      [fetch(`${base}/start`, { headers: { 'x-user': 'alice' } }), 405, 'method_not_allowed'],
      [post(`${base}/status/${jobId}`, {}), 405, 'method_not_allowed'],
      [fetch(`${base}/cancel`, { headers: { 'x-user': 'alice' } }), 405, 'method_not_allowed'],
      [fetch(`${base}/status/unknown`, { headers: { 'x-user': 'alice' } }), 404, 'not_found'],
      [fetch(`${base}/stream/unknown`, { headers: { 'x-user': 'alice' } }), 404, 'not_found'],
      [post(`${base}/cancel`, { jobId: 'unknown' }), 404, 'not_found'],
      [post(`${base}/cancel`, { reason: 'no id' }), 400, 'invalid_input'],
      [post(`${base}/cancel`, { jobId, reason: 7 }), 400, 'invalid_input'],
      [fetch(`${base}/nowhere`, { headers: { 'x-user': 'alice' } }), 404, 'not_found'],
      [
        fetch(`${base}/stream/${jobId}`, {
          headers: { 'x-user': 'alice', 'last-event-id': 'abc' },
        }),
        400,
        'invalid_input',
      ],
      [
        fetch(`${base}/stream/${jobId}?lastEventId=-3`, { headers: { 'x-user': 'alice' } }),
        400,
        'invalid_input',
      ],
      [
        fetch(`${base}/stream/${jobId}?lastEventId=1e3`, { headers: { 'x-user': 'alice' } }),
        400,
        'invalid_input',
      ],
    ];
    for (const [request, status, code] of cases) {
      expect(await problemOf(await request)).toMatchObject({ status, error: { code } });
    }
  });

  it('refuses a chunked body past the limit with 413 without reading it all', async () => {
    server = await startServer({ maxBodyBytes: 1024 });
    const big = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 64; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const response = await fetch(`${server.base}/start`, {
      method: 'POST',
      headers: { 'x-user': 'alice' },
      body: big,
      duplex: 'half',
    } as RequestInit);
    expect(await problemOf(response)).toMatchObject({ status: 413 });
  });

  it('a job that throws ends with job_failed carrying the message and failedStep', async () => {
    server = await startServer();
    const { jobId } = await startJob(server.base, 'e1', 'alice', { failAt: 'analyze_topics' });
    const read = await readStream(server.base, jobId);
    const last = read.events.at(-1);
    expect(last?.event).toBe('job_failed');
    const body = JSON.parse(last?.data ?? '{}');
    expect(body.data).toEqual({
      error: { message: 'boom in analyze_topics' },
      failedStep: 'analyze_topics',
    });
    expect(last?.data).not.toContain('run-job');
    const status = await fetch(`${server.base}/status/${jobId}`, {
      headers: { 'x-user': 'alice' },
    });
    expect(await status.json()).toMatchObject({ canResume: true, job: { status: 'failed' } });
  });
});

describe('cancel', () => {
  it('reaches the running worker through the store; repeat is 2xx; a finished job is 409', async () => {
    server = await startServer({ jobs: [waitingJob, quickJob] });
    const start = await post(`${server.base}/start/waiting`, {});
    const { jobId } = (await start.json()) as { jobId: string };
    await waitFor(async () => (await server?.store.getJob(jobId))?.currentStep === 'wait');
    const first = await post(`${server.base}/cancel`, { jobId, reason: 'user' });
    expect(first.status).toBe(200);
    const body = (await first.json()) as { job: Record<string, unknown> };
    expect(body.job).toMatchObject({ status: 'cancelled', cancelReason: 'user', total_steps: 2 });
    const again = await post(`${server.base}/cancel`, { jobId });
    expect(again.status).toBe(200);
    // The worker stopped: nothing after job_cancelled, no job_failed.
    const read = await readStream(server.base, jobId);
    expect(read.events.at(-1)?.event).toBe('job_cancelled');
    expect(read.events.map((e) => e.event)).not.toContain('job_failed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await server.store.getJob(jobId))?.status).toBe('cancelled');

    const done = (await (await post(`${server.base}/start/course`, { examId: 'e2' })).json()) as {
      jobId: string;
    };
    await waitFor(async () => (await server?.store.getJob(done.jobId))?.status === 'completed');
    expect(
      await problemOf(await post(`${server.base}/cancel`, { jobId: done.jobId })),
    ).toMatchObject({ status: 409, error: { code: 'job_finished' } });
  });
});

describe('status and resume', () => {
  it('status carries the seed aliases; resume re-runs a failed job, skipping completed steps', async () => {
    let attempts = 0;
    const skipped: string[][] = [];
    const flaky = defineJob({
      kind: 'flaky',
      input: z.object({}),
      steps: ['one', 'two', 'three'],
      async run(_input, { tracker, completedSteps }) {
        attempts++;
        skipped.push([...completedSteps]);
        for (const step of ['one', 'two', 'three'] as const) {
          if (completedSteps.has(step)) continue;
          await tracker.startStep(step);
          if (step === 'two' && attempts === 1) throw new Error('transient');
          await tracker.completeStep();
        }
        return { ok: true };
      },
    });
    server = await startServer({ jobs: [flaky] });
    const { jobId } = await startJob(server.base);
    const first = await readStream(server.base, jobId);
    expect(first.events.at(-1)?.event).toBe('job_failed');
    const statusResponse = await fetch(`${server.base}/status/${jobId}`, {
      headers: { 'x-user': 'alice' },
    });
    const status = (await statusResponse.json()) as {
      job: Record<string, unknown>;
      canResume: boolean;
    };
    expect(status.canResume).toBe(true);
    expect(status.job).toMatchObject({
      status: 'failed',
      current_step: 'two',
      current_step_index: 2,
      total_steps: 3,
      created_at: status.job.createdAt,
      started_at: status.job.startedAt,
      completed_at: status.job.completedAt,
    });

    const resumed = await post(`${server.base}/resume`, { jobId });
    expect(resumed.status).toBe(202);
    expect(await resumed.json()).toEqual({ jobId, streamUrl: `/api/generation/stream/${jobId}` });
    const lastId = Number(first.events.at(-1)?.id);
    const second = await readStream(server.base, jobId, { lastEventId: lastId });
    expect(second.events[0]?.event).toBe('job_resumed');
    expect(Number(second.events[0]?.id)).toBe(lastId + 1);
    expect(second.events.at(-1)?.event).toBe('job_completed');
    expect(skipped).toEqual([[], ['one']]);
    expect(await problemOf(await post(`${server.base}/resume`, { jobId }))).toMatchObject({
      status: 409,
    });
  });
});

describe('abuse limits and CORS', () => {
  it('answers 429 past the per-owner limit of active jobs, per owner', async () => {
    server = await startServer({ jobs: [waitingJob], maxActiveJobsPerOwner: 2 });
    const base = server.base;
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await post(`${base}/start`, {});
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { jobId: string }).jobId);
    }
    const refused = await problemOf(await post(`${base}/start`, {}));
    expect(refused).toMatchObject({ status: 429, error: { code: 'rate_limited' } });
    expect(refused.error.message).toContain('limit is 2');
    expect((await post(`${base}/start`, {}, 'bob')).status).toBe(202);
    await post(`${base}/cancel`, { jobId: ids[0] });
    expect((await post(`${base}/start`, {})).status).toBe(202);
    for (const id of ids) await post(`${base}/cancel`, { jobId: id });
  });

  it('CORS is off by default and allows only listed origins, with credentials', async () => {
    server = await startServer();
    const plain = await fetch(`${server.base}/status/x`, {
      headers: { origin: 'https://app.example.com', 'x-user': 'alice' },
    });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    await server.close();

    server = await startServer({ cors: { origins: ['https://app.example.com'] } });
    const { jobId } = await startJob(server.base);
    const preflight = await fetch(`${server.base}/start`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    const stream = await fetch(`${server.base}/stream/${jobId}`, {
      headers: { origin: 'https://app.example.com', 'x-user': 'alice' },
    });
    expect(stream.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    await stream.body?.cancel();
    const other = await fetch(`${server.base}/status/${jobId}`, {
      headers: { origin: 'https://evil.example', 'x-user': 'alice' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('POST /process', () => {
  it('runs a dispatched job only with a valid, fresh signature', async () => {
    const secret = 'test-secret';
    let dispatched: string | null = null;
    server = await startServer({
      secret,
      dispatch: (job) => {
        dispatched = job.jobId;
      },
    });
    const { jobId } = await startJob(server.base);
    expect(dispatched).toBe(jobId);
    expect((await server.store.getJob(jobId))?.status).toBe('pending');
    const body = JSON.stringify({ jobId });
    const url = `${server.base}/process`;
    const send = (headers: Record<string, string>, text = body) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: text,
      });

    const now = Math.floor(Date.now() / 1000);
    const refusals = [
      await send({}),
      await send(await signBody('wrong-secret', body)),
      await send(await signBody(secret, body, now - 3600)),
      await send(await signBody(secret, body), JSON.stringify({ jobId: 'other' })),
      await send({ ...(await signBody(secret, body)), 'x-jobstream-signature': 'zz' }),
    ];
    for (const refusal of refusals) {
      expect(await problemOf(refusal)).toMatchObject({
        status: 401,
        error: { code: 'invalid_signature' },
      });
    }
    expect((await server.store.getJob(jobId))?.status).toBe('pending');

    const accepted = await send(await signBody(secret, body));
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ jobId });
    await waitFor(async () => (await server?.store.getJob(jobId))?.status === 'completed');
    // A replay within the window runs nothing twice.
    expect((await send(await signBody(secret, body))).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const events = await server.store.readEvents(jobId);
    expect(events.filter((e) => e.type === 'job_started')).toHaveLength(1);
  });

  it('a dispatcher that throws fails the job instead of leaving it pending', async () => {
    server = await startServer({
      secret: 'test-secret',
      dispatch: () => {
        throw new Error('queue down');
      },
    });
    const response = await post(`${server.base}/start`, { examId: 'x' });
    expect(await problemOf(response)).toMatchObject({ status: 503 });
    const { jobs } = await server.store.listJobs({ ownerId: 'alice' });
    expect(jobs.map((j) => [j.status, j.error?.message])).toEqual([
      ['failed', 'The job could not be dispatched.'],
    ]);
  });

  it('answers 401 to everything when no secret is configured', async () => {
    server = await startServer();
    const response = await post(`${server.base}/process`, { jobId: 'x' });
    expect(await problemOf(response)).toMatchObject({ status: 401 });
  });

  it('a custom dispatcher can hand the job to /process with processRequest()', async () => {
    let base = '';
    server = await startServer({
      secret: 's3cret',
      dispatch: async (_job, ctx) => {
        const response = await fetch(await ctx.processRequest(`${base}/process`));
        if (response.status !== 202) throw new Error(`process answered ${response.status}`);
      },
    });
    base = server.base;
    const { jobId } = await startJob(server.base);
    const read = await readStream(server.base, jobId);
    expect(read.events.at(-1)?.event).toBe('job_completed');
  });
});

describe('slow consumers', () => {
  it('drops a client that stops reading, keeps memory bounded, and the client can resume', async () => {
    const message = 'm'.repeat(9000);
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const firehose = defineJob({
      kind: 'firehose',
      input: z.object({}),
      steps: ['flood'],
      async run(_input, { tracker }) {
        await tracker.startStep('flood');
        for (let i = 0; i < 1500; i++) {
          tracker.progress((i % 100) + 0.5, `${i} ${message}`);
          await tracker.flush();
        }
        await released;
        return { ok: true };
      },
    });
    server = await startServer({
      jobs: [firehose],
      heartbeatMs: 20,
      slowConsumer: { maxQueuedBytes: 32 * 1024, stallTimeoutMs: 100 },
    });
    const { jobId } = await startJob(server.base);
    await waitFor(async () => ((await server?.store.getJob(jobId))?.version ?? 0) > 50);

    // A healthy viewer of the same job, sharing its live follower with the stalled one.
    // It reads like a real client: should the loaded test machine make it stall past the
    // timeout too, it is dropped and resumes, and must still see every event once.
    const healthy = readStreamToEnd(server.base, jobId);
    // A raw socket that sends the request and then never reads.
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.pause();
    socket.write(
      `GET /api/generation/stream/${jobId} HTTP/1.1\r\nhost: x\r\nx-user: alice\r\n\r\n`,
    );
    await waitFor(() => server?.jobServer.activeStreams === 2);
    // The job floods ~13 MB; the stalled connection is dropped long before the end.
    await waitFor(() => server?.jobServer.activeStreams === 1, 30_000);
    expect((await server.store.getJob(jobId))?.status).toBe('running');
    // The worker's cancel watch and at most the healthy viewer's follower (none while it
    // waits for its client to drain); the stalled connection's subscription is gone.
    expect(server.store.listenerCount()).toBeLessThanOrEqual(2);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).toBeLessThan(13_000_000);

    release();
    const all = await healthy;
    const total = (await server.store.getJob(jobId))?.version ?? 0;
    expect(all.events.map((e) => Number(e.id))).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    const resumed = await readStream(server.base, jobId, { lastEventId: 10 });
    expect(Number(resumed.events[0]?.id)).toBe(11);
    expect(resumed.events.at(-1)?.event).toBe('job_completed');
  }, 60_000);
});
