import { isJobEventEnvelope, type JobEvent } from '@jobstream/core/lite';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { backoffDelay, type RetryOptions, retryAfterMs } from './backoff.js';
import { httpError, JobClientError } from './errors.js';

/**
 * `idle`: not started; `connecting`: the first connection; `open`: receiving (also while
 * it reconnects at once after the server's planned end of a stream, `retry: 0`);
 * `reconnecting`: waiting for or opening a later connection; `closed`: for good.
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * What `new Headers(…)` takes. Spelt through the `Headers` global rather than the DOM
 * lib's `HeadersInit`, which a Node project's tsconfig (no "DOM" in `lib`) does not
 * have: @types/node declares `Headers` too.
 */
type HeadersInput = ConstructorParameters<typeof Headers>[0];

/** Headers, or a function (may be async) called before every connection. */
export type HeadersOption = HeadersInput | (() => HeadersInput | Promise<HeadersInput>);

export interface SubscribeOptions<TEvent extends JobEvent<any, any, any> = JobEvent> {
  /** Resume after this event id (sent as `Last-Event-ID`). @default 0 */
  lastEventId?: number;
  /** Each event, in id order, each id at most once across any number of reconnects. */
  onEvent?: (event: TEvent) => void;
  onStateChange?: (state: ConnectionState) => void;
  /**
   * Every problem, typed. `retryable: true` ones are followed by a reconnection; the
   * others (a 4xx other than 408/429, a non-SSE answer) close the subscription.
   * A bad event (`parse`, `validation`) is skipped and the stream goes on.
   */
  onError?: (error: JobClientError) => void;
  /**
   * Sent with every connection. A function is called before each one, so a short-lived
   * token is fresh on every reconnect.
   * @example headers: async () => ({ authorization: `Bearer ${await getToken()}` })
   */
  headers?: HeadersOption;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
  /** Aborting it closes the subscription. */
  signal?: AbortSignal;
  /** Exponential backoff with full jitter; the server's `retry:` is the floor. */
  retry?: RetryOptions;
  /**
   * No byte for this long (heartbeat comments count) means the connection is dead: it is
   * aborted and a new one opened. Keep it above the server's heartbeat (15 s). 0 turns it off.
   * @default 45000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Full validation of each event, opt-in (the default is a cheap envelope check, so no
   * schema library reaches the browser). Throw to reject an event.
   * @example import { parseJobEvent } from '@jobstream/core'; subscribeToJob(url, { validate: parseJobEvent })
   */
  validate?: (value: unknown) => TEvent;
}

export interface Subscription {
  /** Stops for good: aborts the connection and any pending reconnection. */
  close(): void;
  readonly state: ConnectionState;
  /** Id of the last event delivered (what a reconnection resumes after). */
  readonly lastEventId: number;
}

/** `fn` (when given) made safe to call: what it throws is rethrown on a later task. */
function unthrowing<T>(fn: ((value: T) => void) | undefined): (value: T) => void {
  return (value) => {
    try {
      fn?.(value);
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  };
}

const STALL = new Error('stalled');
const OFFLINE = new Error('offline');

/**
 * Follows a job's SSE stream over `fetch`: reconnects by itself with `Last-Event-ID`,
 * delivers each event id once and in order, and stops after a terminal event (after
 * `job_failed`, once the server ends the stream: a resumed job's is followed by more), a 204 or
 * a 4xx. Works in browsers, web workers and Node 20.
 *
 * @example
 * const sub = subscribeToJob('/api/generation/stream/123', {
 *   onEvent: (event) => console.log(event.type, event.data),
 *   onStateChange: (state) => console.log(state),
 * });
 * sub.close();
 */
export function subscribeToJob<TEvent extends JobEvent<any, any, any> = JobEvent>(
  url: string | URL,
  options: SubscribeOptions<TEvent> = {},
): Subscription {
  const { headers, signal, validate } = options;
  // A callback's bug must neither end the stream nor strand it half-closed (its timer and
  // its online/offline listeners left behind): it goes where uncaught errors go.
  const onEvent = unthrowing(options.onEvent);
  const onStateChange = unthrowing(options.onStateChange);
  const onError = unthrowing(options.onError);
  const heartbeatMs = options.heartbeatTimeoutMs ?? 45_000;
  const events = globalThis as {
    addEventListener?: (type: string, listener: () => void) => void;
    removeEventListener?: (type: string, listener: () => void) => void;
  };
  let lastEventId = options.lastEventId ?? 0;
  /**
   * The last event this connection delivered is `job_failed`. The subscription ends when
   * the body ends after it: a failure that was resumed since is followed by `job_resumed`
   * on the same stream (a page opened after the resume replays both), so the event alone
   * cannot. A reconnect after it gets a 204 when the job is still failed.
   */
  let atFailure = false;
  let state: ConnectionState = 'idle';
  let closed = false;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the current backoff wait early (`online`, `close`). */
  let wake: (() => void) | undefined;

  const setState = (next: ConnectionState) => {
    if (state !== next) {
      state = next;
      onStateChange(next);
    }
  };
  const online = () => wake?.();
  // The link is gone: the open connection is dead even if no error has surfaced yet, so
  // drop it and say `reconnecting` now rather than after the heartbeat timeout.
  const offline = () => controller?.abort(OFFLINE);
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    controller?.abort();
    wake?.();
    events.removeEventListener?.('online', online);
    events.removeEventListener?.('offline', offline);
    signal?.removeEventListener('abort', close);
    setState('closed');
  };

  const deliver = ({ data }: EventSourceMessage) => {
    if (closed) return;
    let event: TEvent;
    try {
      event = JSON.parse(data);
    } catch (cause) {
      onError(new JobClientError('parse', 'An event is not JSON.', { cause }));
      return;
    }
    try {
      if (validate) event = validate(event);
      else if (!isJobEventEnvelope(event)) throw 0;
    } catch (cause) {
      onError(new JobClientError('validation', 'An event is not a job event.', { cause }));
      return;
    }
    if (event.id <= lastEventId) return;
    lastEventId = event.id;
    atFailure = event.type === 'job_failed';
    onEvent(event);
    // Completed and cancelled are final; a failed job may be resumed (see atFailure).
    if (event.type === 'job_completed' || event.type === 'job_cancelled') close();
  };

  const run = async () => {
    let attempt = 0;
    let floor = 0;
    while (!closed) {
      // Later rounds are already `reconnecting` (set before the wait), or still `open` after
      // a planned rotation.
      if (state === 'idle') setState('connecting');
      let rotate = false;
      const current = new AbortController();
      controller = current;
      const beat = () => {
        clearTimeout(timer);
        if (heartbeatMs > 0 && heartbeatMs < 2e9) {
          timer = setTimeout(() => current.abort(STALL), heartbeatMs);
        }
      };
      let error: JobClientError | undefined;
      let wait = 0;
      try {
        const init = new Headers(typeof headers === 'function' ? await headers() : headers);
        // Closed while the headers function ran (a token fetch): no timer, no request.
        if (closed) return;
        init.set('accept', 'text/event-stream');
        if (lastEventId) init.set('last-event-id', String(lastEventId));
        beat();
        // The global fetch is read at each connection (a test or polyfill may replace it).
        const response = await (options.fetch ?? fetch)(url, {
          headers: init,
          signal: current.signal,
        });
        if (response.status === 204) return close();
        if (!response.ok) {
          error = await httpError(response);
          if (!error.retryable) {
            onError(error);
            return close();
          }
          wait = retryAfterMs(response.headers.get('retry-after'));
        } else if (!/^text\/event-stream/i.test(response.headers.get('content-type') ?? '')) {
          onError(new JobClientError('parse', 'The answer is not an event stream.'));
          return close();
        } else {
          setState('open');
          attempt = 0;
          // Only this body's end after job_failed ends the subscription: a connection
          // that ends with nothing new (a server shutting down) must not.
          atFailure = false;
          const parser = createParser({
            onEvent: deliver,
            // `retry: 0` asks for this one reconnection at once (a planned rotation,
            // docs/protocol.md); it does not lower the floor of later ones.
            onRetry: (ms) => {
              if (ms) floor = ms;
              else rotate = true;
            },
          });
          const reader = response.body?.getReader();
          // A fresh decoder per connection: it drops a leading BOM and joins split characters.
          const decoder = new TextDecoder();
          let skipLF = false;
          while (reader && !closed) {
            const { done, value } = await reader.read();
            if (done) break;
            beat();
            let text = decoder.decode(value, { stream: true });
            if (text) {
              // Line ends become LF here, so a CR at a chunk's end dispatches at once
              // instead of waiting to see whether an LF follows.
              if (skipLF && text[0] === '\n') text = text.slice(1);
              skipLF = text.endsWith('\r');
              parser.feed(text.replace(/\r\n?/g, '\n'));
            }
          }
        }
      } catch (cause) {
        if (closed) return;
        error = new JobClientError(
          'network',
          current.signal.reason === STALL
            ? `No data for ${heartbeatMs} ms.`
            : current.signal.reason === OFFLINE
              ? 'The browser went offline.'
              : `Connection failed: ${(cause as Error)?.message ?? cause}`,
          { retryable: true, cause },
        );
      }
      clearTimeout(timer);
      if (closed) return;
      current.abort();
      if (error) onError(error);
      // The server ends the body after the job's last event when that is terminal.
      else if (atFailure) return close();
      // The server ended the stream on purpose and nothing is wrong: reconnect now, still
      // `open`, so a UI shows nothing (a failed reconnection says `reconnecting` as usual).
      else if (rotate) continue;
      setState('reconnecting');
      const delay = Math.max(wait, backoffDelay(attempt++, options.retry, floor));
      await new Promise<void>((resolve) => {
        const pause = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(pause);
          resolve();
        };
      });
      wake = undefined;
    }
  };

  if (signal?.aborted) close();
  else {
    signal?.addEventListener('abort', close);
    events.addEventListener?.('online', online);
    events.addEventListener?.('offline', offline);
    // Started on a microtask, so no callback runs before the caller holds the subscription.
    Promise.resolve().then(run);
  }

  return {
    close,
    get state() {
      return state;
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}
