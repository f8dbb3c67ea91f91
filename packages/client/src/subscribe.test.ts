import type { JobEvent } from '@jobstream/core/lite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jobEvents } from '../tests/helpers.js';
import { catchLaterThrows } from '../tests/later-throws.js';
import type { JobClientError } from './errors.js';
import { type ConnectionState, type SubscribeOptions, subscribeToJob } from './subscribe.js';

const encoder = new TextEncoder();
const events = jobEvents();
const json = (id: number) => JSON.stringify(events[id - 1]);

/** A Response whose body yields exactly these chunks, then ends (or errors on abort). */
function sseResponse(chunks: Uint8Array[], signal?: AbortSignal | null, end = true): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (end) controller.close();
      signal?.addEventListener('abort', () => {
        try {
          controller.error(signal.reason);
        } catch {}
      });
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

function collect(options: SubscribeOptions = {}) {
  const got: JobEvent[] = [];
  const states: ConnectionState[] = [];
  const errors: JobClientError[] = [];
  let closed: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const sub = subscribeToJob('http://test.invalid/stream/j1', {
    ...options,
    onEvent: (e) => got.push(e),
    onStateChange: (s) => {
      states.push(s);
      if (s === 'closed') closed();
    },
    onError: (e) => errors.push(e),
  });
  return { sub, got, states, errors, done };
}

// Every awkward corner of the SSE framing the spec allows, in one stream.
const AWKWARD =
  '\uFEFF' +
  ': a comment first\n' +
  'retry: 1x00\n\n' +
  `id: 1\r\nevent: job_created\r\ndata: ${json(1)}\r\n\r\n` +
  `id: 2\revent: job_started\rdata: ${json(2)}\r\r` +
  ': ping\n\n' +
  `event: step_started\ndata: ${json(3)}\n\n` +
  `id: 4\nunknown: field\ndata: ${json(4)}\n\n` +
  `id: 4\ndata: ${json(4)}\n\n` +
  `id: 3\ndata: ${json(3)}\n\n` +
  `data:${json(5).replace(',"jobId"', '\r\ndata: ,"jobId"')}\r\n\r\n` +
  `data: ${json(6)}\r\n\r\n` +
  `data: ${json(7)}\r\n\n` +
  `id: 8\ndata: ${json(8)}\n\n`;

describe('subscribeToJob framing', () => {
  const bytes = encoder.encode(AWKWARD);
  const expected = events.map((e) => e.id);

  async function deliverSplit(chunks: Uint8Array[]) {
    const run = collect({ fetch: async (_u, init) => sseResponse(chunks, init?.signal) });
    await run.done;
    return run;
  }

  it('reads BOM, CR, LF, CRLF, comments, id-less and multi-line events, each id once', async () => {
    const run = await deliverSplit([bytes]);
    expect(run.got.map((e) => e.id)).toEqual(expected);
    expect(run.got).toEqual(events);
    expect(run.states).toEqual(['connecting', 'open', 'closed']);
    expect(run.errors).toEqual([]);
    expect(run.sub.lastEventId).toBe(8);
  });

  it('gives the same result for a chunk split at every byte position', async () => {
    for (let k = 1; k < bytes.length; k++) {
      const run = await deliverSplit([bytes.subarray(0, k), bytes.subarray(k)]);
      if (run.got.map((e) => e.id).join() !== expected.join() || run.errors.length) {
        throw new Error(`split at byte ${k}: got ${run.got.map((e) => e.id)} ${run.errors}`);
      }
    }
  });

  it('gives the same result one byte at a time (split UTF-8 characters, CR|LF)', async () => {
    const run = await deliverSplit(Array.from(bytes, (b) => Uint8Array.of(b)));
    expect(run.got).toEqual(events);
  });

  it('reports a non-JSON or non-envelope event and goes on', async () => {
    const text = `data: {oops\n\ndata: {"id":"1"}\n\ndata: ${json(1)}\n\ndata: ${json(8).replace('"id":8', '"id":2')}\n\n`;
    const run = await deliverSplit([encoder.encode(text)]);
    expect(run.errors.map((e) => [e.kind, e.retryable])).toEqual([
      ['parse', false],
      ['validation', false],
    ]);
    expect(run.got.map((e) => e.id)).toEqual([1, 2]);
  });

  it('runs the opt-in validator and skips what it rejects', async () => {
    const validate = vi.fn((value: unknown) => {
      const event = value as JobEvent;
      if (event.type === 'job_started') throw new Error('nope');
      return event;
    });
    const run = collect({
      validate,
      fetch: async (_u, init) =>
        sseResponse(
          [encoder.encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(''))],
          init?.signal,
        ),
    });
    await run.done;
    expect(validate).toHaveBeenCalledTimes(8);
    expect(run.got.map((e) => e.id)).toEqual([1, 3, 4, 5, 6, 7, 8]);
    expect(run.errors.map((e) => e.kind)).toEqual(['validation']);
  });

  it('a throwing onEvent does not end the stream', async () => {
    const { thrown, original, restore } = catchLaterThrows();
    try {
      const got: number[] = [];
      await new Promise<void>((resolve) => {
        subscribeToJob('http://test.invalid/s', {
          fetch: async (_u, init) =>
            sseResponse([encoder.encode(events.map((e) => frame(e)).join(''))], init?.signal),
          onEvent: (e) => {
            got.push(e.id);
            if (e.id === 2) throw new Error('listener bug');
          },
          onStateChange: (s) => s === 'closed' && resolve(),
        });
      });
      await new Promise((resolve) => original(resolve, 10));
      expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(thrown).toEqual([new Error('listener bug')]);
    } finally {
      restore();
    }
  });
});

function frame(e: JobEvent) {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

describe('subscribeToJob reconnection (fake timers)', () => {
  type Script = (init: RequestInit) => Response | Promise<Response>;
  let calls: { at: number; lastEventId: string | null }[];
  let script: Script[];
  const fetchMock = async (_u: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ at: Date.now(), lastEventId: new Headers(init?.headers).get('last-event-id') });
    const next = script.shift();
    if (!next) return new Response(null, { status: 204 });
    return next(init ?? {});
  };
  const status =
    (code: number, headers: Record<string, string> = {}) =>
    () =>
      new Response(JSON.stringify({ error: { code: `e${code}`, message: `m${code}` } }), {
        status: code,
        headers,
      });
  const stream =
    (text: string, end = true) =>
    (init: RequestInit) =>
      sseResponse([encoder.encode(text)], init.signal, end);
  const gaps = () => calls.slice(1).map((c, i) => c.at - (calls[i] as { at: number }).at);

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    calls = [];
    script = [];
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('backs off exponentially with full jitter, capped at maxDelayMs', async () => {
    script = [status(500), status(503), status(502), status(500), status(500), status(500)];
    const run = collect({ fetch: fetchMock, retry: { initialDelayMs: 100, maxDelayMs: 1000 } });
    await vi.advanceTimersByTimeAsync(10_000);
    // random() = 0.5 → half of min(max, initial·2^n).
    expect(gaps()).toEqual([50, 100, 200, 400, 500, 500]);
    expect(run.errors.map((e) => [e.status, e.code, e.retryable])).toEqual(
      [500, 503, 502, 500, 500, 500].map((s) => [s, `e${s}`, true]),
    );
    expect(run.states).toEqual(['connecting', 'reconnecting', 'closed']);
    await run.done;
  });

  it('draws each delay from the whole range [0, cap) (full jitter)', async () => {
    vi.spyOn(Math, 'random')
      .mockReturnValueOnce(0)
      .mockReturnValueOnce(0.25)
      .mockReturnValueOnce(0.999);
    script = [status(500), status(500), status(500)];
    collect({ fetch: fetchMock, retry: { initialDelayMs: 1000 } });
    await vi.advanceTimersByTimeAsync(10_000);
    const [first, ...rest] = gaps();
    expect(first).toBeLessThanOrEqual(1); // a 0 ms timer may fire on the next tick
    expect(rest).toEqual([500, 3996]);
  });

  it("takes the server's retry: as the floor, and starts over after a connection opens", async () => {
    script = [
      status(500),
      stream(`retry: 5000\n\n${frame(events[0] as JobEvent)}`),
      status(500),
      stream(`${frame(events[1] as JobEvent)}`),
    ];
    const run = collect({ fetch: fetchMock, retry: { initialDelayMs: 1000 } });
    await vi.advanceTimersByTimeAsync(60_000);
    // 500 → 500ms; opened (reset) then ended → max(5000, 500); 500 after it → max(5000, 1000).
    expect(gaps()).toEqual([500, 5000, 5000, 5000]);
    expect(calls.map((c) => c.lastEventId)).toEqual([null, null, '1', '1', '2']);
    expect(run.got.map((e) => e.id)).toEqual([1, 2]);
    expect(run.states).toEqual([
      'connecting',
      'reconnecting',
      'open',
      'reconnecting',
      'open',
      'reconnecting',
      'closed',
    ]);
  });

  it('after retry: 0 and a clean end (a planned rotation) reconnects at once and stays open', async () => {
    const [e1, e2, e3, e4] = events as [JobEvent, JobEvent, JobEvent, JobEvent];
    script = [
      stream(`retry: 5000\n\n${frame(e1)}retry: 0\n\n`),
      stream(`${frame(e2)}retry: 0\n\n`),
      // retry: 0 left the floor at 5000 for the next failure.
      status(500),
      // A clean end without retry: 0 waits as before.
      stream(frame(e3)),
      // retry: 0 then a dead connection is no rotation: the usual error, state and wait.
      stream(`${frame(e4)}retry: 0\n\n`, false),
    ];
    const run = collect({ fetch: fetchMock, retry: { initialDelayMs: 1000 } });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls.map((c) => c.lastEventId)).toEqual([null, '1', '2', '2', '3', '4']);
    expect(gaps()).toEqual([0, 0, 5000, 5000, 45_000 + 5000]);
    expect(run.got.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(run.states).toEqual([
      'connecting',
      'open',
      'reconnecting',
      'open',
      'reconnecting',
      'open',
      'reconnecting',
      'closed',
    ]);
    expect(run.errors.map((e) => e.kind)).toEqual(['http', 'network']);
  });

  it('ignores a retry: field that is not all digits', async () => {
    script = [stream(`retry: 9e9\nretry: -1\nretry: 5000ms\n\n${frame(events[0] as JobEvent)}`)];
    collect({ fetch: fetchMock, retry: { initialDelayMs: 1000 } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(gaps()).toEqual([500]);
  });

  it('honours Retry-After in seconds and as an HTTP date on 429 and 503', async () => {
    script = [
      status(429, { 'retry-after': '7' }),
      status(503, { 'retry-after': new Date(7_000 + 20_000).toUTCString() }),
      status(408),
    ];
    collect({ fetch: fetchMock, retry: { initialDelayMs: 100 } });
    await vi.advanceTimersByTimeAsync(100_000);
    // The 408 after them: attempt 2 → half of 100·2².
    expect(gaps()).toEqual([7_000, 20_000, 200]);
  });

  it('stops for good on a 4xx other than 408/429 and reports it', async () => {
    for (const code of [400, 401, 403, 404, 410]) {
      calls = [];
      script = [status(500), status(code)];
      const run = collect({ fetch: fetchMock });
      await vi.advanceTimersByTimeAsync(100_000);
      await run.done;
      expect(calls).toHaveLength(2);
      expect(run.errors.map((e) => [e.kind, e.status, e.code, e.retryable])).toEqual([
        ['http', 500, 'e500', true],
        ['http', code, `e${code}`, false],
      ]);
      expect(run.sub.state).toBe('closed');
    }
  });

  it('stops on 204 without an error', async () => {
    script = [status(503), () => new Response(null, { status: 204 })];
    const run = collect({ fetch: fetchMock });
    await vi.advanceTimersByTimeAsync(100_000);
    await run.done;
    expect(calls).toHaveLength(2);
    expect(run.errors.map((e) => e.status)).toEqual([503]);
  });

  it('retries network errors', async () => {
    script = [
      () => {
        throw new TypeError('fetch failed');
      },
      stream(frame(events[7] as JobEvent)),
    ];
    const run = collect({ fetch: fetchMock, lastEventId: 7 });
    await vi.advanceTimersByTimeAsync(100_000);
    await run.done;
    expect(run.errors.map((e) => [e.kind, e.retryable])).toEqual([['network', true]]);
    expect(calls.map((c) => c.lastEventId)).toEqual(['7', '7']);
    expect(run.got.map((e) => e.id)).toEqual([8]);
  });

  it('aborts a silent connection after heartbeatTimeoutMs and resumes after the last id', async () => {
    script = [
      stream(frame(events[0] as JobEvent), false),
      stream(`: ping\n\n`, false),
      stream(frame(events[7] as JobEvent)),
    ];
    const run = collect({
      fetch: fetchMock,
      heartbeatTimeoutMs: 10_000,
      retry: { initialDelayMs: 2 },
    });
    await vi.advanceTimersByTimeAsync(10_100);
    expect(calls).toHaveLength(2);
    expect(run.errors.map((e) => [e.kind, e.message])).toEqual([
      ['network', 'No data for 10000 ms.'],
    ]);
    // The second connection's one heartbeat does not save it from the silence after.
    await vi.advanceTimersByTimeAsync(10_100);
    expect(calls).toHaveLength(3);
    await run.done;
    expect(calls.map((c) => c.lastEventId)).toEqual([null, '1', '1']);
    expect(run.got.map((e) => e.id)).toEqual([1, 8]);
  });

  it('counts every byte as a heartbeat', async () => {
    let push: (text: string) => void = () => {};
    script = [
      (init) => {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            push = (text) => controller.enqueue(encoder.encode(text));
            init.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      },
    ];
    const run = collect({ fetch: fetchMock, heartbeatTimeoutMs: 1_000 });
    await vi.advanceTimersByTimeAsync(1);
    for (let i = 0; i < 20; i++) {
      push(': ping\n');
      await vi.advanceTimersByTimeAsync(900);
    }
    expect(calls).toHaveLength(1);
    push(`\n${frame(events[7] as JobEvent)}`);
    await run.done;
    expect(run.errors).toEqual([]);
  });

  it('calls the headers function before every connection', async () => {
    let token = 0;
    const seen: (string | null)[] = [];
    script = [status(500), status(500), () => new Response(null, { status: 204 })];
    const run = collect({
      fetch: async (u, init) => {
        seen.push(new Headers(init?.headers).get('authorization'));
        return fetchMock(u, init);
      },
      headers: async () => ({ authorization: `Bearer t${++token}` }),
    });
    await vi.advanceTimersByTimeAsync(100_000);
    await run.done;
    expect(seen).toEqual(['Bearer t1', 'Bearer t2', 'Bearer t3']);
  });

  it('reconnects at once on `online` in a browser', async () => {
    const target = new EventTarget();
    vi.stubGlobal('addEventListener', target.addEventListener.bind(target));
    vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target));
    script = [status(500), status(500)];
    const run = collect({ fetch: fetchMock, retry: { initialDelayMs: 60_000 } });
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    run.sub.close();
    await run.done;
  });

  it('drops an open connection on `offline` and resumes after its last event on `online`', async () => {
    const target = new EventTarget();
    vi.stubGlobal('addEventListener', target.addEventListener.bind(target));
    vi.stubGlobal('removeEventListener', target.removeEventListener.bind(target));
    // The first stream stays open (as a dead Wi-Fi link would) after event 2.
    script = [
      stream(frame(events[0] as JobEvent) + frame(events[1] as JobEvent), false),
      stream(frame(events[2] as JobEvent)),
    ];
    const run = collect({ fetch: fetchMock, retry: { initialDelayMs: 60_000 } });
    await vi.advanceTimersByTimeAsync(1);
    expect(run.sub.state).toBe('open');
    target.dispatchEvent(new Event('offline'));
    await vi.advanceTimersByTimeAsync(1);
    expect(run.sub.state).toBe('reconnecting');
    expect(run.errors.map((e) => e.message)).toEqual(['The browser went offline.']);
    expect(calls).toHaveLength(1);
    target.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.lastEventId).toBe('2');
    run.sub.close();
    await run.done;
    expect(run.got.map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it('close() and the signal stop a pending reconnection', async () => {
    script = [status(500), status(500)];
    const run = collect({ fetch: fetchMock });
    await vi.advanceTimersByTimeAsync(1);
    run.sub.close();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(calls).toHaveLength(1);
    expect(run.states.at(-1)).toBe('closed');

    calls = [];
    const controller = new AbortController();
    script = [stream(frame(events[0] as JobEvent), false)];
    const second = collect({ fetch: fetchMock, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(1);
    expect(second.sub.state).toBe('open');
    controller.abort();
    await second.done;
    await vi.advanceTimersByTimeAsync(100_000);
    expect(calls).toHaveLength(1);
    expect(second.errors).toEqual([]);

    const aborted = collect({ fetch: fetchMock, signal: AbortSignal.abort() });
    expect(aborted.sub.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
  });

  it('dispatches an event ended by a lone CR at once, not when the next byte comes', async () => {
    script = [stream(`id: 8\rdata: ${json(8)}\r\r`, false)];
    const run = collect({ fetch: fetchMock });
    await run.done;
    expect(run.got.map((e) => e.id)).toEqual([8]);
  });

  it('refuses an answer that is not an event stream', async () => {
    script = [
      () => new Response('<html>login</html>', { headers: { 'content-type': 'text/html' } }),
    ];
    const run = collect({ fetch: fetchMock });
    await run.done;
    expect(run.errors.map((e) => [e.kind, e.retryable])).toEqual([['parse', false]]);
  });
});

describe('subscribeToJob after job_failed', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const envelope = (id: number, type: string, data: unknown) =>
    `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ id, jobId: 'j1', type, at, data })}\n\n`;
  const failed = envelope(4, 'job_failed', { error: { message: 'lost' }, failedStep: 'fetch' });
  const head = [1, 2, 3].map((id) => `id: ${id}\ndata: ${json(id)}\n\n`).join('');

  it('closes when the body ends after it', async () => {
    let calls = 0;
    const run = collect({
      fetch: async (_u, init) => {
        calls++;
        return sseResponse([encoder.encode(head + failed)], init?.signal);
      },
    });
    await run.done;
    expect(run.got.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(calls).toBe(1);
  });

  it('a later connection that ends with nothing new (a server shutting down) does not end it', async () => {
    // The link dropped after job_failed; the job was resumed meanwhile, and the instance
    // that answered the reconnect shut down before job_resumed: the next one brings it.
    const cutAfter = (text: string) =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode(text));
            setTimeout(() => controller.error(new TypeError('terminated')), 5);
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      );
    const answers = [
      () => cutAfter(head + failed),
      (signal?: AbortSignal | null) => sseResponse([encoder.encode('retry: 1\n\n')], signal),
      (signal?: AbortSignal | null) =>
        sseResponse(
          [
            encoder.encode(
              envelope(5, 'job_resumed', {}) +
                envelope(6, 'job_completed', { result: null, totalDuration: 1 }),
            ),
          ],
          signal,
        ),
    ];
    const lastIds: (string | null)[] = [];
    const run = collect({
      retry: { initialDelayMs: 1, maxDelayMs: 1 },
      fetch: async (_u, init) => {
        lastIds.push(new Headers(init?.headers).get('last-event-id'));
        const answer = answers[lastIds.length - 1];
        return answer ? answer(init?.signal) : new Response(null, { status: 410 });
      },
    });
    await run.done;
    expect(run.got.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lastIds).toEqual([null, '4', '4']);
  });
});
