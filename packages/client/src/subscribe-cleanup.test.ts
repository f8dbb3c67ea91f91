// A closed subscription must leave nothing behind in a long-lived page: no timer, no
// listener on globalThis, no request in flight, whatever it was doing when closed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { catchLaterThrows } from '../tests/later-throws.js';
import { type Subscription, subscribeToJob } from './subscribe.js';

/** `addEventListener` on globalThis (a browser's window), counting what is left registered. */
function stubWindow() {
  const target = new EventTarget();
  const live = new Set<unknown>();
  vi.stubGlobal('addEventListener', (type: string, listener: () => void) => {
    live.add(listener);
    target.addEventListener(type, listener);
  });
  vi.stubGlobal('removeEventListener', (type: string, listener: () => void) => {
    live.delete(listener);
    target.removeEventListener(type, listener);
  });
  return { listeners: () => live.size };
}

/** A fetch that records each request's signal and answers with `answer` (default: never). */
function recordingFetch(answer: (signal: AbortSignal) => Promise<Response>) {
  const signals: AbortSignal[] = [];
  const fetch = (_url: RequestInfo | URL, init?: RequestInit) => {
    const signal = init?.signal as AbortSignal;
    signals.push(signal);
    return answer(signal);
  };
  return { fetch, signals, inFlight: () => signals.filter((s) => !s.aborted).length };
}

/** Rejects when `signal` aborts, as fetch does. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<Response>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** An open event stream that never sends anything and errors when its request is aborted. */
const silentStream = (signal: AbortSignal) =>
  Promise.resolve(
    new Response(
      new ReadableStream({
        start(controller) {
          signal.addEventListener('abort', () => controller.error(signal.reason), { once: true });
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    ),
  );

describe('subscribeToJob close() leaves nothing behind', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  function expectReleased(sub: Subscription, window: { listeners(): number }, inFlight: number) {
    expect(sub.state).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
    expect(window.listeners()).toBe(0);
    expect(inFlight).toBe(0);
  }

  it('while the headers function is still pending: no timer, and no request sent after', async () => {
    const window = stubWindow();
    const requests = recordingFetch(untilAborted);
    let giveHeaders: (headers: HeadersInit) => void = () => {};
    const sub = subscribeToJob('http://test.invalid/stream/j1', {
      fetch: requests.fetch,
      headers: () =>
        new Promise<HeadersInit>((resolve) => {
          giveHeaders = resolve;
        }),
    });
    await vi.advanceTimersByTimeAsync(0);
    sub.close();
    // The token arrives after the page let go of the subscription.
    giveHeaders({ authorization: 'Bearer late' });
    await vi.advanceTimersByTimeAsync(0);
    expectReleased(sub, window, requests.inFlight());
    expect(requests.signals).toHaveLength(0);
  });

  it('while the request is waiting for an answer', async () => {
    const window = stubWindow();
    const requests = recordingFetch(untilAborted);
    const sub = subscribeToJob('http://test.invalid/stream/j1', { fetch: requests.fetch });
    await vi.advanceTimersByTimeAsync(0);
    expect(requests.inFlight()).toBe(1);
    sub.close();
    await vi.advanceTimersByTimeAsync(0);
    expectReleased(sub, window, requests.inFlight());
  });

  it('while a stream is open', async () => {
    const window = stubWindow();
    const requests = recordingFetch(silentStream);
    const sub = subscribeToJob('http://test.invalid/stream/j1', { fetch: requests.fetch });
    await vi.advanceTimersByTimeAsync(0);
    expect(sub.state).toBe('open');
    sub.close();
    await vi.advanceTimersByTimeAsync(0);
    expectReleased(sub, window, requests.inFlight());
  });

  it('while waiting to reconnect', async () => {
    const window = stubWindow();
    const requests = recordingFetch(async () => new Response(null, { status: 503 }));
    const sub = subscribeToJob('http://test.invalid/stream/j1', {
      fetch: requests.fetch,
      retry: { initialDelayMs: 60_000 },
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(sub.state).toBe('reconnecting');
    sub.close();
    await vi.advanceTimersByTimeAsync(0);
    expectReleased(sub, window, requests.inFlight());
    expect(requests.signals).toHaveLength(1);
  });
});

describe('subscribeToJob with a callback that throws', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it.each(['onError', 'onStateChange'] as const)(
    '%s throwing neither strands the subscription nor its listeners',
    async (name) => {
      const window = stubWindow();
      // What would reach the page's uncaught-error handler.
      const { thrown } = catchLaterThrows(); // restored by vi.restoreAllMocks()
      // A 503 (an error, then reconnecting), then a 204: the subscription ends by itself.
      const answers = [new Response(null, { status: 503 }), new Response(null, { status: 204 })];
      let closed: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        closed = resolve;
      });
      const sub = subscribeToJob('http://test.invalid/stream/j1', {
        fetch: async () => answers.shift() ?? new Response(null, { status: 204 }),
        retry: { initialDelayMs: 1, maxDelayMs: 1 },
        [name]: (value: unknown) => {
          if (value === 'closed') closed();
          else throw new Error(`bug in ${name}`);
        },
      });
      if (name === 'onError') {
        // onError never sees 'closed': watch the state instead.
        const poll = setInterval(() => sub.state === 'closed' && closed(), 5);
        await done;
        clearInterval(poll);
      } else await done;
      expect(sub.state).toBe('closed');
      expect(window.listeners()).toBe(0);
      expect(thrown.length).toBeGreaterThan(0);
      expect(thrown[0]).toEqual(new Error(`bug in ${name}`));
    },
  );
});
