import type { JobEvent } from '@jobstream/core/lite';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionState,
  createJobClient,
  type JobClientError,
  type SubscribeOptions,
  subscribeToJob,
} from '../src/index.js';
import {
  delay,
  frame,
  jobEvents,
  openStream,
  problem,
  type ScriptedServer,
  scriptedServer,
  waitFor,
  writeSlowly,
} from './helpers.js';

const events = jobEvents();
const ev = (id: number) => events[id - 1] as JobEvent;
const fast = { initialDelayMs: 10, maxDelayMs: 50 };

let server: ScriptedServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function follow(url: string, options: SubscribeOptions = {}) {
  const got: number[] = [];
  const states: ConnectionState[] = [];
  const errors: JobClientError[] = [];
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const sub = subscribeToJob(url, {
    retry: fast,
    ...options,
    onEvent: (e) => got.push(e.id),
    onStateChange: (s) => {
      states.push(s);
      if (s === 'closed') resolve();
    },
    onError: (e) => errors.push(e),
  });
  return { sub, got, states, errors, done };
}

describe('subscribeToJob against a scripted raw server', () => {
  it('survives a dropped connection: resumes with Last-Event-ID, drops replayed duplicates', async () => {
    server = await scriptedServer([
      async (_req, res) => {
        openStream(res);
        const text = `retry: 20\n\n${frame(ev(1))}${frame(ev(2))}${frame(ev(3), false)}`;
        // Split at awkward places: inside a field name, inside the JSON, between CR and LF.
        await writeSlowly(res, [
          text.slice(0, 3),
          text.slice(3, 40),
          text.slice(40, 333),
          text.slice(333),
        ]);
        res.destroy();
      },
      async (_req, res) => {
        openStream(res);
        // The server replays a little too much; ids 2 and 3 must not be shown twice.
        const text = [2, 3, 4, 5, 6, 7, 8].map((id) => frame(ev(id), id % 2 === 0)).join('');
        await writeSlowly(res, [text.slice(0, 700), text.slice(700)]);
        res.end();
      },
    ]);
    const run = follow(`${server.url}/stream/j1`);
    await run.done;
    expect(run.got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(server.requests.map((r) => r.headers['last-event-id'])).toEqual([undefined, '3']);
    expect(server.requests[0]?.headers.accept).toBe('text/event-stream');
    expect(run.states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
    expect(run.errors.map((e) => e.kind)).toEqual(['network']);
  });

  it('reads BOM, CR-only and CRLF framing with comments, written in pieces', async () => {
    server = await scriptedServer([
      async (_req, res) => {
        openStream(res);
        const crlf = frame(ev(1)).replaceAll('\n', '\r\n');
        const cr = frame(ev(2)).replaceAll('\n', '\r');
        const text = `\uFEFF: hello\r\n\r\n${crlf}${cr}: ping\n\n${events
          .slice(2)
          .map((e) => frame(e))
          .join('')}`;
        const bytes = Buffer.from(text);
        const pieces: string[] = [];
        // Byte-level pieces of 7: some cut a multi-byte character in two.
        for (let i = 0; i < bytes.length; i += 7)
          pieces.push(bytes.subarray(i, i + 7).toString('latin1'));
        for (const piece of pieces) res.write(Buffer.from(piece, 'latin1'));
        res.end();
      },
    ]);
    const run = follow(`${server.url}/s`);
    await run.done;
    expect(run.got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(run.errors).toEqual([]);
  });

  it('aborts a silent connection and reconnects; heartbeats keep a quiet one alive', async () => {
    server = await scriptedServer([
      (_req, res) => {
        openStream(res);
        res.write(frame(ev(1)));
        // …then nothing at all.
      },
      async (_req, res) => {
        openStream(res);
        for (let i = 0; i < 10; i++) {
          res.write(': ping\n\n');
          await delay(50);
        }
        res.end(
          events
            .slice(1)
            .map((e) => frame(e))
            .join(''),
        );
      },
    ]);
    const run = follow(`${server.url}/s`, { heartbeatTimeoutMs: 1_500 });
    await run.done;
    expect(run.got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.headers['last-event-id']).toBe('1');
    expect(run.errors.map((e) => [e.kind, e.message])).toEqual([
      ['network', 'No data for 1500 ms.'],
    ]);
  });

  it('retries 500s and a 429 with Retry-After, then follows', async () => {
    server = await scriptedServer([
      (_req, res) => problem(res, 500, 'internal', 'Internal server error.'),
      (_req, res) => problem(res, 503, 'store_unavailable', 'Down.'),
      (_req, res) => problem(res, 429, 'rate_limited', 'Slow down.', { 'retry-after': '1' }),
      (_req, res) => {
        openStream(res);
        res.end(events.map((e) => frame(e)).join(''));
      },
    ]);
    const run = follow(`${server.url}/s`);
    await run.done;
    expect(run.got).toHaveLength(8);
    expect(run.errors.map((e) => [e.status, e.code, e.retryable])).toEqual([
      [500, 'internal', true],
      [503, 'store_unavailable', true],
      [429, 'rate_limited', true],
    ]);
    expect(server.requests).toHaveLength(4);
  });

  it('stops for good on 401 and on 204', async () => {
    server = await scriptedServer([
      (_req, res) => problem(res, 401, 'unauthorized', 'Sign in to use this endpoint.'),
      (_req, res) => {
        res.writeHead(204);
        res.end();
      },
    ]);
    const first = follow(`${server.url}/s`);
    await first.done;
    expect(first.errors).toHaveLength(1);
    expect(first.errors[0]).toMatchObject({
      kind: 'http',
      status: 401,
      code: 'unauthorized',
      retryable: false,
      message: 'Sign in to use this endpoint.',
    });
    const second = follow(`${server.url}/s`, { lastEventId: 8 });
    await second.done;
    expect(second.errors).toEqual([]);
    await delay(100);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.headers['last-event-id']).toBe('8');
  });

  it('reconnects after the server ends a stream early, and sends fresh headers each time', async () => {
    let token = 0;
    server = await scriptedServer([
      (_req, res) => {
        openStream(res);
        res.end(frame(ev(1)));
      },
      (_req, res) => {
        openStream(res);
        res.end(
          events
            .slice(1)
            .map((e) => frame(e))
            .join(''),
        );
      },
    ]);
    const run = follow(`${server.url}/s`, {
      headers: async () => ({ authorization: `Bearer t${++token}` }),
    });
    await run.done;
    expect(run.got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
    expect(run.errors).toEqual([]);
  });

  it('close() ends an open connection on the server side', async () => {
    let closedByClient = false;
    server = await scriptedServer([
      (req, res) => {
        openStream(res);
        res.write(frame(ev(1)));
        req.socket.on('close', () => {
          closedByClient = true;
        });
      },
    ]);
    const run = follow(`${server.url}/s`);
    await waitFor(() => run.got.length === 1);
    run.sub.close();
    await waitFor(() => closedByClient);
    expect(run.sub.state).toBe('closed');
    expect(server.requests).toHaveLength(1);
  });
});

describe('createJobClient errors', () => {
  it('turns problem bodies into typed errors with status and code', async () => {
    server = await scriptedServer((req, res) => {
      if (req.url === '/api/status/missing')
        problem(res, 404, 'not_found', 'Job missing does not exist.');
      else if (req.url === '/api/cancel') problem(res, 409, 'job_finished', 'Job j1 is completed.');
      else if (req.url === '/api/start/course%2Fv2') {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jobId: 'j9', streamUrl: '/api/stream/j9' }));
      } else if (req.url === '/api/start') {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<h1>Bad gateway</h1>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{not json');
      }
    });
    const client = createJobClient({ baseUrl: `${server.url}/api/` });
    await expect(client.status('missing')).rejects.toMatchObject({
      name: 'JobClientError',
      kind: 'http',
      status: 404,
      code: 'not_found',
      retryable: false,
      message: 'Job missing does not exist.',
    });
    await expect(client.cancel('j1', 'why')).rejects.toMatchObject({
      status: 409,
      code: 'job_finished',
    });
    await expect(client.start({ examId: 'e1' })).rejects.toMatchObject({
      kind: 'http',
      status: 502,
      code: undefined,
      retryable: true,
      message: 'HTTP 502',
    });
    await expect(client.resume('j1')).rejects.toMatchObject({ kind: 'parse' });
    await expect(client.start({ examId: 'e2' }, { kind: 'course/v2' })).resolves.toEqual({
      jobId: 'j9',
      streamUrl: '/api/stream/j9',
    });
    const closed = await scriptedServer([]);
    await closed.close();
    await expect(createJobClient({ baseUrl: closed.url }).status('j1')).rejects.toMatchObject({
      kind: 'network',
      retryable: true,
    });
    expect(server.requests.map((r) => [r.method, r.url, r.headers['content-type']])).toEqual([
      ['GET', '/api/status/missing', undefined],
      ['POST', '/api/cancel', 'application/json'],
      ['POST', '/api/start', 'application/json'],
      ['POST', '/api/resume', 'application/json'],
      ['POST', '/api/start/course%2Fv2', 'application/json'],
    ]);
  });
});
