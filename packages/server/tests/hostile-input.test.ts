import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createJobServer, defineJob, signBody } from '../src/index.js';
import { toNodeHandler } from '../src/node.js';
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

/*
 * Adversarial requests at every route over real sockets: what routes.test.ts does not
 * already throw (wrong methods beyond the obvious, odd JSON shapes, hostile job ids,
 * Last-Event-ID edge values, oversize bodies at the default limit, other owners' jobs in
 * every state). Every answer must be a non-5xx problem body, and the server must still
 * run a job to the end afterwards.
 */

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

interface Problem {
  status: number;
  error: { code: string; message: string };
}

/** A problem answer: below 500, JSON content-type, `{ error: { code, message } }`, no stack. */
async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text();
  expect(response.status, text).toBeGreaterThanOrEqual(400);
  expect(response.status, text).toBeLessThan(500);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(text).not.toMatch(/at .+\(|node:internal|\.ts:\d+/);
  const body = JSON.parse(text) as { error: Problem['error'] };
  expect(body).toEqual({
    error: { code: expect.any(String), message: expect.any(String) },
  });
  return { status: response.status, ...body };
}

function get(url: string, user: string | null = 'alice', headers: Record<string, string> = {}) {
  return fetch(url, { headers: { ...(user ? { 'x-user': user } : {}), ...headers } });
}

/** Sends the request and expects a problem with this status and code. */
async function expectProblem(request: Promise<Response>, status: number, code: string) {
  const answer = await problemOf(await request);
  expect(answer, JSON.stringify(answer)).toMatchObject({ status, error: { code } });
  return answer;
}

/** The server still starts a job and streams it to `job_completed`. */
async function stillWorks(base: string) {
  const response = await post(`${base}/start/course`, { examId: 'after-the-storm' });
  expect(response.status).toBe(202);
  const { jobId } = (await response.json()) as { jobId: string };
  const { events } = await readStreamToEnd(base, jobId);
  expect(events.at(-1)?.event).toBe('job_completed');
}

describe('wrong methods', () => {
  it('answers 405 with Allow on every route for every other method', async () => {
    server = await startServer({ secret: 's'.repeat(32) });
    const { base } = server;
    const { jobId } = await startJob(base);
    const routes: [string, 'GET' | 'POST'][] = [
      [`${base}/start`, 'POST'],
      [`${base}/start/course`, 'POST'],
      [`${base}/process`, 'POST'],
      [`${base}/cancel`, 'POST'],
      [`${base}/resume`, 'POST'],
      [`${base}/stream/${jobId}`, 'GET'],
      [`${base}/status/${jobId}`, 'GET'],
    ];
    for (const [url, allowed] of routes) {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        if (method === allowed) continue;
        const response = await fetch(url, {
          method,
          headers: { 'x-user': 'alice', 'content-type': 'application/json' },
          ...(method === 'GET' ? {} : { body: '{}' }),
        });
        expect(response.headers.get('allow'), `${method} ${url}`).toBe(allowed);
        expect(await problemOf(response)).toMatchObject({
          status: 405,
          error: { code: 'method_not_allowed' },
        });
      }
      // HEAD has no body to carry a problem: only the status is checked.
      if (allowed === 'POST') {
        const head = await fetch(url, { method: 'HEAD', headers: { 'x-user': 'alice' } });
        expect(head.status).toBe(405);
      }
    }
    await stillWorks(base);
  });
});

describe('bodies', () => {
  it('refuses 2 MB bodies at the default limit with 413, declared or chunked, on every POST', async () => {
    server = await startServer({ secret: 's'.repeat(32) });
    const { base } = server;
    const big = JSON.stringify({ examId: 'x'.repeat(2 * 1024 * 1024) });
    for (const route of ['start', 'start/course', 'cancel', 'resume', 'process']) {
      await expectProblem(post(`${base}/${route}`, big), 413, 'payload_too_large');
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
          for (let i = 0; i < 32; i++) controller.enqueue(chunk);
          controller.close();
        },
      });
      await expectProblem(
        fetch(`${base}/${route}`, {
          method: 'POST',
          headers: { 'x-user': 'alice' },
          body: chunked,
          duplex: 'half',
        } as RequestInit),
        413,
        'payload_too_large',
      );
    }
    await stillWorks(base);
  });

  it('answers JSON that is not an object, deeply nested, or not JSON at all with 400', async () => {
    server = await startServer();
    const { base } = server;
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`.slice(0, 60_000);
    const deepObject = `{"examId":"x","extra":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const bodies = [
      '[]',
      '[{"examId":"x"}]',
      'null',
      '"examId"',
      '42',
      'true',
      '{}',
      deep,
      `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`,
      'examId=x',
      '{"examId":"x"',
      '{"examId":"x"}{"examId":"y"}',
      '{"examId":""}',
      '{"examId":"x","failAt":"nowhere"}',
      '{"examId":["x"]}',
      '{"examId":null}',
    ];
    for (const route of ['start', 'start/course', 'cancel', 'resume']) {
      for (const body of bodies) {
        const answer = await problemOf(await post(`${base}/${route}`, body));
        expect(answer.status, `${route} ${body.slice(0, 40)}`).toBe(400);
        expect(answer.error.code).toBe('invalid_input');
      }
    }
    // Even in a field the schema drops, nesting past the limit is refused.
    await expectProblem(post(`${base}/start`, deepObject), 400, 'invalid_input');
    // Unknown fields are dropped by the schema, not stored.
    const extra = await post(`${base}/start`, '{"examId":"x","extra":[[[{"a":[1]}]]]}');
    expect(extra.status).toBe(202);
    const { jobId } = (await extra.json()) as { jobId: string };
    expect((await server.store.getJob(jobId))?.input).toEqual({ examId: 'x' });
    await stillWorks(base);
  });

  it('reads the body as JSON whatever the content-type; non-JSON under any type is 400', async () => {
    server = await startServer();
    const { base } = server;
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/json; charset=latin1',
      'nonsense',
    ]) {
      const ok = await post(`${base}/start`, { examId: 'ct' }, 'alice', {
        headers: { 'x-user': 'alice', 'content-type': type },
      });
      expect(ok.status, type).toBe(202);
      await expectProblem(
        post(`${base}/start`, '<examId>x</examId>', 'alice', {
          headers: { 'x-user': 'alice', 'content-type': type },
        }),
        400,
        'invalid_input',
      );
    }
    // Bytes that are not UTF-8.
    await expectProblem(
      fetch(`${base}/start`, {
        method: 'POST',
        headers: { 'x-user': 'alice' },
        body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      }),
      400,
      'invalid_input',
    );
  });

  it('unknown fields cannot set the owner, the kind or pollute prototypes', async () => {
    server = await startServer();
    const { base } = server;
    const response = await post(
      `${base}/start`,
      '{"examId":"x","ownerId":"bob","kind":"other","id":"mine","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
    );
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    expect(jobId).not.toBe('mine');
    const job = await server.store.getJob(jobId);
    expect(job).toMatchObject({ ownerId: 'alice', kind: 'course', input: { examId: 'x' } });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // Cancel with extra fields does not act on them either.
    const cancel = await post(`${base}/cancel`, { jobId, ownerId: 'bob', status: 'completed' });
    expect([200, 409]).toContain(cancel.status);
    expect((await server.store.getJob(jobId))?.ownerId).toBe('alice');
  });
});

describe('job ids', () => {
  const hostileIds = [
    'x'.repeat(10 * 1024),
    '%00',
    'a%00b',
    '%2E%2E',
    '..%2F..%2Fetc%2Fpasswd',
    'a%2Fb',
    '%F0%9F%92%A9',
    '%E2%80%AE%E2%80%8B',
    "'%3B%20drop%20table%20jobstream_jobs%3B--",
    "1'%20OR%20'1'%3D'1",
    '%25',
    '%',
    '%E0%A4%A',
    '%ED%A0%80',
    '%20',
    '%0D%0Aset-cookie:%20x=1',
    '00000000-0000-0000-0000-000000000000',
    '__proto__',
    'constructor',
  ];

  it('status and stream answer a hostile id in the path with 400 or 404, never 5xx', async () => {
    server = await startServer();
    const { base } = server;
    for (const id of hostileIds) {
      for (const route of ['status', 'stream']) {
        const answer = await problemOf(await get(`${base}/${route}/${id}`));
        expect([400, 404], `${route}/${id.slice(0, 40)}`).toContain(answer.status);
        expect(answer.error.code).toMatch(/^(invalid_input|not_found)$/);
      }
    }
    // An empty id is no route.
    await expectProblem(get(`${base}/status/`), 404, 'not_found');
    await expectProblem(get(`${base}/stream/`), 404, 'not_found');
    await stillWorks(base);
  });

  it('cancel and resume answer a hostile jobId in the body with 400 or 404, never 5xx', async () => {
    server = await startServer();
    const { base } = server;
    const ids: unknown[] = [
      ...hostileIds.map((id) => {
        try {
          return decodeURIComponent(id);
        } catch {
          return id;
        }
      }),
      '',
      '\u0000',
      '\ud800',
      '/',
      '../..',
      42,
      null,
      true,
      ['a'],
      { $ne: null },
      { toString: 'x' },
    ];
    for (const id of ids) {
      for (const route of ['cancel', 'resume']) {
        const answer = await problemOf(await post(`${base}/${route}`, { jobId: id }));
        expect([400, 404], `${route} ${JSON.stringify(id).slice(0, 40)}`).toContain(answer.status);
      }
    }
    await stillWorks(base);
  });
});

describe('Last-Event-ID', () => {
  it('refuses negative, fractional, exponent, huge and non-numeric values with 400', async () => {
    server = await startServer();
    const { base } = server;
    const { jobId } = await startJob(base);
    await waitFor(async () => (await server?.store.getJob(jobId))?.status === 'completed');
    const bad = [
      '-1',
      '-0',
      '1.5',
      '0.0',
      '1e30',
      '1e3',
      '0x10',
      'NaN',
      'Infinity',
      '+5',
      '1 2',
      '9'.repeat(400),
      '1000000000000000000000000000000',
      'abc',
    ];
    // Not sendable as a header (not a ByteString): only in the query.
    await expectProblem(
      get(`${base}/stream/${jobId}?lastEventId=${encodeURIComponent('٣')}`),
      400,
      'invalid_input',
    );
    for (const value of bad) {
      await expectProblem(
        get(`${base}/stream/${jobId}`, 'alice', { 'last-event-id': value }),
        400,
        'invalid_input',
      );
      await expectProblem(
        get(`${base}/stream/${jobId}?lastEventId=${encodeURIComponent(value)}`),
        400,
        'invalid_input',
      );
    }
    // The header wins over the query; a huge but valid id on a finished job is 204.
    const both = await get(`${base}/stream/${jobId}?lastEventId=abc`, 'alice', {
      'last-event-id': '999999999999999',
    });
    expect(both.status).toBe(204);
    // A bad value never reveals someone else's job: 404 like a missing one.
    const bobs = await problemOf(
      await get(`${base}/stream/${jobId}`, 'bob', { 'last-event-id': '-1' }),
    );
    const none = await problemOf(
      await get(`${base}/stream/nope`, 'bob', { 'last-event-id': '-1' }),
    );
    expect(bobs.status).toBe(404);
    expect(none.status).toBe(404);
    await stillWorks(base);
  });
});

describe('cancel reasons', () => {
  it('refuses a reason that is not a string, too long, or a 100 KB body', async () => {
    server = await startServer({ jobs: [quickJob, waitingJob] });
    const { base } = server;
    const started = await post(`${base}/start/waiting`, {});
    const { jobId } = (await started.json()) as { jobId: string };
    for (const reason of [7, true, {}, [], ['why'], { message: 'x' }, 'x'.repeat(1001)]) {
      await expectProblem(post(`${base}/cancel`, { jobId, reason }), 400, 'invalid_input');
    }
    await expectProblem(
      post(`${base}/cancel`, { jobId, reason: 'x'.repeat(100 * 1024) }),
      413,
      'payload_too_large',
    );
    expect((await server.store.getJob(jobId))?.status).toBe('running');
    // A reason of newlines and markup is kept as data.
    const reason = 'line\r\nevent: job_completed\r\ndata: {}\r\n\r\n<script>';
    const cancelled = await post(`${base}/cancel`, { jobId, reason });
    expect(cancelled.status).toBe(200);
    const { events } = await readStreamToEnd(base, jobId);
    expect(events.at(-1)?.event).toBe('job_cancelled');
    expect(events.filter((event) => event.event === 'job_completed')).toHaveLength(0);
    expect(JSON.stringify(JSON.parse(events.at(-1)?.data ?? '{}'))).toContain('<script>');
  });

  it('a 100 KB reason under a larger body limit is 400, and the job keeps running', async () => {
    server = await startServer({ jobs: [quickJob, waitingJob], maxBodyBytes: 1024 * 1024 });
    const { base } = server;
    const started = await post(`${base}/start/waiting`, {});
    const { jobId } = (await started.json()) as { jobId: string };
    await expectProblem(
      post(`${base}/cancel`, { jobId, reason: 'x'.repeat(100 * 1024) }),
      400,
      'invalid_input',
    );
    expect((await server.store.getJob(jobId))?.status).toBe('running');
    expect((await post(`${base}/cancel`, { jobId })).status).toBe(200);
  });
});

describe("another owner's job", () => {
  /** Every route as `user` on `id`; the answers with the id replaced by ID. */
  async function probe(base: string, id: string, user: string) {
    const requests = [
      get(`${base}/status/${encodeURIComponent(id)}`, user),
      get(`${base}/stream/${encodeURIComponent(id)}`, user),
      get(`${base}/stream/${encodeURIComponent(id)}`, user, { 'last-event-id': '999999' }),
      post(`${base}/cancel`, { jobId: id, reason: 'mine now' }, user),
      post(`${base}/cancel`, { jobId: id, reason: 7 }, user),
      post(`${base}/resume`, { jobId: id }, user),
    ];
    const out = [];
    for (const request of requests) {
      const response = await request;
      const headers = [...response.headers.keys()].filter((name) => name !== 'date').sort();
      const text = (await response.text()).replaceAll(id, 'ID');
      out.push({ status: response.status, headers, text });
    }
    return out;
  }

  it('looks exactly like a missing job in every state, and nothing changes', async () => {
    server = await startServer({ jobs: [quickJob, waitingJob] });
    const { base, store } = server;
    const running = ((await (await post(`${base}/start/waiting`, {})).json()) as { jobId: string })
      .jobId;
    const startCourse = async (input: object) =>
      ((await (await post(`${base}/start/course`, input)).json()) as { jobId: string }).jobId;
    const completed = await startCourse({ examId: 'done' });
    const failed = await startCourse({ examId: 'fail', failAt: 'analyze_topics' });
    const cancelled = (
      (await (await post(`${base}/start/waiting`, {})).json()) as {
        jobId: string;
      }
    ).jobId;
    await waitFor(async () => (await store.getJob(running))?.status === 'running');
    await waitFor(async () => (await store.getJob(cancelled))?.status === 'running');
    expect((await post(`${base}/cancel`, { jobId: cancelled })).status).toBe(200);
    await waitFor(async () => (await store.getJob(completed))?.status === 'completed');
    await waitFor(async () => (await store.getJob(failed))?.status === 'failed');
    const before = await Promise.all(
      [running, completed, failed, cancelled].map((id) => store.getJob(id)),
    );

    const missing = await probe(base, 'd0e5c0de-0000-4000-8000-000000000000', 'bob');
    for (const answer of missing) expect(answer.status).toBe(404);
    for (const id of [running, completed, failed, cancelled]) {
      expect(await probe(base, id, 'bob')).toEqual(missing);
      // An owner id that only differs in case or padding is someone else.
      expect(await probe(base, id, 'Alice')).toEqual(
        await probe(base, 'nope', 'Alice').then((answers) =>
          answers.map((a) => ({ ...a, text: a.text.replaceAll('nope', 'ID') })),
        ),
      );
    }
    const after = await Promise.all(
      [running, completed, failed, cancelled].map((id) => store.getJob(id)),
    );
    expect(after).toEqual(before);
    expect((await post(`${base}/cancel`, { jobId: running })).status).toBe(200);
  });

  it("reading someone else's stale job does not fail it", async () => {
    let clock = Date.now();
    server = await startServer({
      jobs: [quickJob, waitingJob],
      staleAfterMs: 60_000,
      now: () => new Date(clock),
    });
    const { base, store } = server;
    const { jobId } = (await (await post(`${base}/start/waiting`, {})).json()) as {
      jobId: string;
    };
    await waitFor(async () => (await store.getJob(jobId))?.status === 'running');
    clock += 10 * 60_000;
    await expectProblem(get(`${base}/status/${jobId}`, 'bob'), 404, 'not_found');
    await expectProblem(get(`${base}/stream/${jobId}`, 'bob'), 404, 'not_found');
    await expectProblem(post(`${base}/resume`, { jobId }, 'bob'), 404, 'not_found');
    expect((await store.getJob(jobId))?.status).toBe('running');
    expect((await post(`${base}/cancel`, { jobId })).status).toBe(200);
  });
});

describe('authentication', () => {
  it('answers 401 before reading anything when there is no identity', async () => {
    for (const authenticate of [
      () => null,
      () => undefined,
      () => '',
      async () => null,
      () => 42 as unknown as string,
    ]) {
      server = await startServer({ authenticate });
      const { base } = server;
      const big = JSON.stringify({ examId: 'x'.repeat(2 * 1024 * 1024) });
      for (const request of [
        post(`${base}/start`, { examId: 'x' }, null),
        post(`${base}/start/course`, { examId: 'x' }, null),
        post(`${base}/start/nope`, { examId: 'x' }, null),
        post(`${base}/start`, '{not json', null),
        post(`${base}/cancel`, { jobId: 'x' }, null),
        post(`${base}/resume`, { jobId: 'x' }, null),
        get(`${base}/status/x`, null),
        get(`${base}/stream/x`, null, { 'last-event-id': '-1' }),
      ]) {
        await expectProblem(request, 401, 'unauthorized');
      }
      const bigAnswer = await problemOf(await post(`${base}/start`, big, null));
      expect([401, 413]).toContain(bigAnswer.status);
      expect((await server.store.listJobs({})).jobs).toHaveLength(0);
      await server.close();
      server = null;
    }
  });
});

describe('unknown kinds', () => {
  it('start of an unknown kind is a problem, by path or by envelope', async () => {
    server = await startServer({ jobs: [quickJob, waitingJob] });
    const { base } = server;
    for (const kind of ['nope', '__proto__', 'constructor', 'toString', '%00', 'COURSE']) {
      await expectProblem(post(`${base}/start/${kind}`, { examId: 'x' }), 404, 'not_found');
      await expectProblem(
        post(`${base}/start`, { kind: decodeURIComponent(kind), input: { examId: 'x' } }),
        404,
        'not_found',
      );
    }
    for (const envelope of [
      { examId: 'x' },
      { kind: 42, input: {} },
      { kind: ['course'], input: {} },
      { kind: null },
      { kind: 'course' },
      { kind: 'course', input: null },
      { kind: 'course', input: 'e1' },
    ]) {
      await expectProblem(post(`${base}/start`, envelope), 400, 'invalid_input');
    }
    expect((await post(`${base}/start`, { kind: 'course', input: { examId: 'x' } })).status).toBe(
      202,
    );
    await stillWorks(base);
  });
});
describe('the job id rule', () => {
  it('a 10 KB id is refused with a message that says what a job id may be', async () => {
    server = await startServer();
    const { base } = server;
    const long = 'x'.repeat(10 * 1024);
    for (const request of [
      () => get(`${base}/status/${long}`),
      () => post(`${base}/cancel`, { jobId: long }),
    ]) {
      const answer = await problemOf(await request());
      expect(answer.status).toBe(400);
      // "must be a non-empty string" is wrong for a non-empty string: the message must
      // name the actual rule (length) so a caller can fix the request.
      expect(answer.error.message).toMatch(/200|long|length|characters/i);
    }
  });

  it('an id with a NUL or another control character is 400 on every route', async () => {
    // PostgreSQL text cannot hold NUL: PostgresJobStore.getJob('\u0000') throws `internal`
    // ("invalid byte sequence for encoding UTF8: 0x00"), so such an id reached the store
    // and answered 500. No job id has one, so it is refused before the store is asked.
    server = await startServer();
    const { base } = server;
    for (const id of ['\u0000', 'a\u0000b', '\u001b[31m', 'a\nb', '\u007f']) {
      const path = encodeURIComponent(id);
      await expectProblem(get(`${base}/status/${path}`), 400, 'invalid_input');
      await expectProblem(get(`${base}/stream/${path}`), 400, 'invalid_input');
      await expectProblem(post(`${base}/cancel`, { jobId: id }), 400, 'invalid_input');
      await expectProblem(post(`${base}/resume`, { jobId: id }), 400, 'invalid_input');
    }
    await stillWorks(base);
  });
});

describe('Last-Event-ID past the end', () => {
  it('a stream asked for ids past a running job’s last event still ends with the job', async () => {
    // Defect: the id was passed to the follower as is, so every real event (ids below
    // it) was skipped, the terminal one too, and the stream never ended: the client
    // hung on heartbeats and the server held the connection for ever.
    server = await startServer({ jobs: [quickJob, waitingJob] });
    const { base, store } = server;
    const { jobId } = (await (await post(`${base}/start/waiting`, {})).json()) as {
      jobId: string;
    };
    await waitFor(async () => (await store.getJob(jobId))?.status === 'running');
    const reading = readStream(base, jobId, { lastEventId: 999_999_999 });
    await waitFor(() => server?.jobServer.activeStreams === 1);
    expect((await post(`${base}/cancel`, { jobId })).status).toBe(200);
    const read = await reading;
    expect(read.status).toBe(200);
    expect(read.ended).toBe(true);
    expect(read.events.at(-1)?.event).toBe('job_cancelled');
    await waitFor(() => server?.jobServer.activeStreams === 0);
  });
});

describe('double clicks', () => {
  it('ten concurrent resumes of one failed job: one 202, the rest 409, one job_resumed', async () => {
    let runNow = true;
    server = await startServer({
      processRoute: false,
      dispatch: async (_job, ctx) => {
        if (runNow) await ctx.run();
      },
    });
    const { base, store } = server;
    const { jobId } = await startJob(base, 'x', 'alice', { failAt: 'analyze_topics' });
    await waitFor(async () => (await store.getJob(jobId))?.status === 'failed');
    runNow = false; // the resumed job stays pending, so every other resume must lose
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(`${base}/resume`, { jobId })),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([202, ...Array(9).fill(409)]);
    for (const answer of answers) {
      if (answer.status === 409) {
        expect(await problemOf(answer)).toMatchObject({ error: { code: 'invalid_transition' } });
      }
    }
    const events = await store.readEvents(jobId);
    expect(events.filter((event) => event.type === 'job_resumed')).toHaveLength(1);
  });
});

describe('POST /process with a valid signature and a hostile body', () => {
  it('answers 400 or 404, never 5xx, and runs nothing', async () => {
    const secret = 's'.repeat(32);
    server = await startServer({ secret });
    const { base, store } = server;
    const bodies = [
      '',
      'null',
      '[]',
      '"x"',
      '{}',
      '{"jobId":42}',
      '{"jobId":""}',
      '{"jobId":"\\u0000"}',
      `{"jobId":"${'x'.repeat(10_000)}"}`,
      '{"jobId":"a/b"}',
      '{"jobId":"no-such-job"}',
      '{"jobId":"\'; drop table jobstream_jobs;--"}',
      '{"jobId":',
    ];
    for (const body of bodies) {
      const answer = await problemOf(
        await fetch(`${base}/process`, {
          method: 'POST',
          headers: await signBody(secret, body),
          body,
        }),
      );
      expect([400, 404], body.slice(0, 40)).toContain(answer.status);
    }
    for (const timestamp of ['1e30', '-1', '1.5', 'abc', '9'.repeat(400)]) {
      const headers = { ...(await signBody(secret, '{}')), 'x-jobstream-timestamp': timestamp };
      await expectProblem(
        fetch(`${base}/process`, { method: 'POST', headers, body: '{}' }),
        401,
        'invalid_signature',
      );
    }
    expect((await store.listJobs({})).jobs).toHaveLength(0);
  });
});

describe('deeply nested input a schema lets through', () => {
  /** A job that takes any JSON in `data` and returns it. */
  const anyJob = defineJob({
    kind: 'any',
    input: z.object({ data: z.unknown() }),
    steps: ['echo'],
    async run(input, { tracker }) {
      await tracker.startStep('echo');
      return input;
    },
  });

  it('is refused with 400 before it is stored; nesting within the limit is shown', async () => {
    // Defect: a 10 KB body of 5,000 nested arrays was accepted (202) and stored, then
    // JSON.stringify overflowed the stack on every read: GET /status answered 500 and
    // the stream was cut before its first event, for ever.
    server = await startServer({ jobs: [anyJob] });
    const { base, store } = server;
    for (const depth of [300, 5_000, 30_000]) {
      const body = `{"data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const answer = await expectProblem(post(`${base}/start`, body), 400, 'invalid_input');
      expect(answer.error.message).toMatch(/deeper than \d+ levels/);
    }
    // Brackets inside strings are not nesting.
    const brackets = JSON.stringify({ data: '['.repeat(10_000) });
    expect((await post(`${base}/start`, brackets)).status).toBe(202);
    const nested = `{"data":${'['.repeat(250)}"\\"]"${']'.repeat(250)}}`;
    const response = await post(`${base}/start`, nested);
    expect(response.status).toBe(202);
    const { jobId } = (await response.json()) as { jobId: string };
    const { events } = await readStreamToEnd(base, jobId);
    expect(events.at(-1)?.event).toBe('job_completed');
    expect((await get(`${base}/status/${jobId}`)).status).toBe(200);
    expect((await store.getJob(jobId))?.input).toEqual(JSON.parse(nested));
  });
});

describe('requests Node accepts but no fetch Request can hold', () => {
  /** Sends raw bytes on a socket; returns the status code and the body. */
  function raw(url: string, text: string): Promise<{ status: number; body: string }> {
    const { port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(text));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk;
      });
      socket.on('error', reject);
      socket.on('close', () => {
        // The body may come chunked: the JSON is one chunk, from its first { to its last }.
        const body = data.slice(data.indexOf('\r\n\r\n') + 4);
        resolve({
          status: Number(data.split(' ')[1]),
          body: body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1),
        });
      });
    });
  }

  it('answers a bad Host, a target of "//" and TRACE with 400/405 problems, not 500', async () => {
    // Defect: toRequest threw (new URL / new Request) and the adapter answered 500.
    server = await startServer();
    const { url } = server;
    const request = (line: string, host: string) =>
      raw(url, `${line} HTTP/1.1\r\nHost: ${host}\r\nx-user: alice\r\nConnection: close\r\n\r\n`);
    const cases: [string, string, number, string][] = [
      ['GET /api/generation/status/x', 'exa mple', 400, 'invalid_input'],
      ['GET /api/generation/status/x', '[::1', 400, 'invalid_input'],
      ['GET /api/generation/status/x', 'a:99999999', 400, 'invalid_input'],
      ['GET //', 'a', 400, 'invalid_input'],
      ['TRACE /api/generation/status/x', 'a', 405, 'method_not_allowed'],
    ];
    for (const [line, host, status, code] of cases) {
      const answer = await request(line, host);
      expect(answer.status, `${line} / ${host}`).toBe(status);
      expect(JSON.parse(answer.body)).toEqual({
        error: { code, message: expect.any(String) },
      });
    }
    await stillWorks(server.base);
  });

  it('answers a body a framework parsed too deep to serialize again with 400, not 500', async () => {
    const store = new MemoryJobStore();
    const jobs = createJobServer({
      store,
      jobs: [quickJob],
      authenticate: () => 'alice',
      onError: () => {},
    });
    const handler = toNodeHandler(jobs);
    // What `express.json()` hands over: the stream read, the body parsed.
    const httpServer = http.createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      (req as typeof req & { body?: unknown }).body = JSON.parse(text);
      await handler(req, res);
    });
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    const { port } = httpServer.address() as AddressInfo;
    try {
      const deep = `{"examId":"x","extra":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
      await expectProblem(post(`http://127.0.0.1:${port}/start`, deep), 400, 'invalid_input');
      expect((await post(`http://127.0.0.1:${port}/start`, { examId: 'x' })).status).toBe(202);
    } finally {
      jobs.close();
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    }
  });
});

describe('uploads cut off by the client', () => {
  it('are not reported to onError as server failures, and the server goes on', async () => {
    // Defect: a client that hung up mid-body made readTextBody throw "aborted", which
    // the route took for an internal error and reported through onError (a 500 that
    // nobody received, but an alert for the operator on every flaky mobile upload).
    const reported: unknown[] = [];
    server = await startServer({ onError: (error) => reported.push(error) });
    const { port } = new URL(server.url);
    const cut = (text: string) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(text);
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve());
      });
    const head = 'POST /api/generation/start HTTP/1.1\r\nHost: a\r\nx-user: alice\r\n';
    await cut(`${head}Content-Length: 1000\r\n\r\n{"examId":`);
    await cut(`${head}Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n`);
    await stillWorks(server.base);
    expect(reported).toEqual([]);
  });
});

describe('cross-site form posts (CSRF)', () => {
  // A page on any site can make the browser POST a text/plain form to this API with the
  // user's cookies: `<form enctype="text/plain">` with a field named `{"examId":"x","p":"`
  // and the value `"}` sends `{"examId":"x","p":"="}`, valid JSON, and bodies are read as
  // JSON whatever their content-type. Defect: it started a (costly) job as the victim.
  const formBody = '{"examId":"x","p":"="}';
  const crossSite = (origin: string) => ({
    'x-user': 'alice',
    'content-type': 'text/plain',
    origin,
    'sec-fetch-site': 'cross-site',
    'sec-fetch-mode': 'navigate',
  });

  it('refuses a cross-site browser POST on every route with 403, and stores nothing', async () => {
    server = await startServer();
    const { base, store } = server;
    for (const route of ['start', 'start/course', 'cancel', 'resume']) {
      await expectProblem(
        fetch(`${base}/${route}`, {
          method: 'POST',
          headers: crossSite('https://evil.example'),
          body: formBody,
        }),
        403,
        'forbidden',
      );
    }
    expect((await store.listJobs({})).jobs).toHaveLength(0);
    // Same origin, same site, and clients that are not browsers are served as before.
    for (const site of ['same-origin', 'same-site', 'none', null]) {
      const headers: Record<string, string> = { 'x-user': 'alice', 'content-type': 'text/plain' };
      if (site) headers['sec-fetch-site'] = site;
      const response = await fetch(`${base}/start`, { method: 'POST', headers, body: formBody });
      expect(response.status, String(site)).toBe(202);
    }
  });

  it('serves a cross-site POST from an origin listed in cors.origins', async () => {
    server = await startServer({ cors: { origins: ['https://app.example'] } });
    const { base } = server;
    const allowed = await fetch(`${base}/start`, {
      method: 'POST',
      headers: crossSite('https://app.example'),
      body: formBody,
    });
    expect(allowed.status).toBe(202);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    await expectProblem(
      fetch(`${base}/start`, {
        method: 'POST',
        headers: crossSite('https://evil.example'),
        body: formBody,
      }),
      403,
      'forbidden',
    );
  });
});
