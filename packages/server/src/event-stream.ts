import { followJob, type JobStore, JobstreamError } from '@jobstream/core';
import { encodeEvent, HEARTBEAT_FRAME, retryFrame } from './sse-encoder.js';

export interface EventStreamSettings {
  heartbeatMs: number;
  retryMs: number;
  topLevelFields: boolean;
  /** Bytes a connection may hold waiting for its client before the follower pauses. */
  maxQueuedBytes: number;
  /** A connection whose queued bytes wait this long without a read is dropped. */
  stallTimeoutMs: number;
  /** Live events `followJob` holds per connection before it falls back to re-reading. */
  maxBufferedEvents: number;
  onError: (error: unknown) => void;
}

/**
 * The open SSE connections of one server, and the one timer they share: each tick
 * sends heartbeats to idle connections and drops stalled ones. The timer exists only
 * while a connection is open, so a server with no viewers holds no timer at all.
 */
export class StreamRegistry {
  readonly #connections = new Set<EventConnection>();
  readonly #settings: EventStreamSettings;
  #timer: ReturnType<typeof setInterval> | null = null;
  /** Coarse clock in ticks, so pushing a frame never has to read the time. */
  ticks = 0;

  constructor(settings: EventStreamSettings) {
    this.#settings = settings;
  }

  get size(): number {
    return this.#connections.size;
  }

  /**
   * Opens a stream of the job's events after `after` (replay, then live, through
   * `followJob`), ending after a terminal event.
   */
  open(
    store: JobStore,
    jobId: string,
    after: number,
    signal?: AbortSignal,
  ): ReadableStream<Uint8Array> {
    const connection = new EventConnection(this, this.#settings, store, jobId, after, signal);
    this.#connections.add(connection);
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#tick(), this.#settings.heartbeatMs);
      (this.#timer as { unref?: () => void }).unref?.();
    }
    return connection.stream;
  }

  /** Closes every open stream (the server is shutting down). */
  closeAll(): void {
    for (const connection of this.#connections) connection.close();
  }

  release(connection: EventConnection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  #tick(): void {
    this.ticks++;
    for (const connection of this.#connections) connection.tick();
  }
}

/**
 * One SSE connection. Frames wait in a bounded queue of our own (the body stream has
 * no buffer of its own: a frame moves only when the reader asks), so we always know
 * how much a client has not taken yet. Past `maxQueuedBytes` the follower pauses (and
 * `followJob` falls back to the store, keeping memory bounded); data left unread for
 * `stallTimeoutMs` drops the connection, and the client resumes with Last-Event-ID.
 */
class EventConnection {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #registry: StreamRegistry;
  readonly #settings: EventStreamSettings;
  readonly #follow = new AbortController();
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Tick at which the oldest queued byte arrived, -1 when the queue is empty. */
  #waitingSince = -1;
  #pullWaiter: (() => void) | null = null;
  #drainWaiter: (() => void) | null = null;
  #wroteSinceTick = true;
  #closed = false;
  #detach: (() => void) | null = null;

  constructor(
    registry: StreamRegistry,
    settings: EventStreamSettings,
    store: JobStore,
    jobId: string,
    after: number,
    signal: AbortSignal | undefined,
  ) {
    this.#registry = registry;
    if (signal) {
      // The request's signal aborts when the client goes away (adapters wire it).
      const onAbort = () => this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#detach = () => signal.removeEventListener('abort', onAbort);
    }
    this.#settings = settings;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#pull(),
        cancel: () => this.close(),
      },
      { highWaterMark: 0 },
    );
    this.#push(retryFrame(settings.retryMs));
    void this.#run(store, jobId, after);
  }

  async #run(store: JobStore, jobId: string, after: number): Promise<void> {
    const { topLevelFields, maxQueuedBytes, maxBufferedEvents } = this.#settings;
    try {
      for await (const event of followJob(store, jobId, {
        after,
        signal: this.#follow.signal,
        maxBuffered: maxBufferedEvents,
      })) {
        if (this.#closed) break;
        this.#push(encodeEvent(event, topLevelFields));
        if (this.#queuedBytes >= maxQueuedBytes) {
          await new Promise<void>((resolve) => {
            this.#drainWaiter = resolve;
          });
        }
      }
      this.#end();
    } catch (error) {
      if (!this.#closed) {
        this.#settings.onError(error);
        this.#fail(new JobstreamError('store_unavailable', 'The event stream failed.'));
      }
    }
  }

  #push(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#wroteSinceTick = true;
    const waiter = this.#pullWaiter;
    if (waiter) {
      this.#pullWaiter = null;
      this.#controller.enqueue(bytes);
      waiter();
      return;
    }
    if (this.#queue.length === 0) this.#waitingSince = this.#registry.ticks;
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.byteLength;
  }

  #pull(): Promise<void> | undefined {
    if (this.#closed) return;
    if (this.#queue.length > 0) {
      this.#controller.enqueue(this.#takeQueue());
      return;
    }
    return new Promise<void>((resolve) => {
      this.#pullWaiter = resolve;
    });
  }

  /** Everything queued, as one chunk (one write, one syscall, however many frames). */
  #takeQueue(): Uint8Array {
    const queue = this.#queue;
    let chunk: Uint8Array;
    if (queue.length === 1) {
      chunk = queue[0] as Uint8Array;
    } else {
      chunk = new Uint8Array(this.#queuedBytes);
      let offset = 0;
      for (const part of queue) {
        chunk.set(part, offset);
        offset += part.byteLength;
      }
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#waitingSince = -1;
    const drained = this.#drainWaiter;
    this.#drainWaiter = null;
    drained?.();
    return chunk;
  }

  tick(): void {
    if (this.#closed) return;
    const { heartbeatMs, stallTimeoutMs } = this.#settings;
    if (
      this.#waitingSince !== -1 &&
      (this.#registry.ticks - this.#waitingSince) * heartbeatMs >= stallTimeoutMs
    ) {
      this.#fail(
        new JobstreamError('rate_limited', 'The client stopped reading; reconnect to resume.'),
      );
      return;
    }
    if (!this.#wroteSinceTick) this.#push(HEARTBEAT_FRAME);
    this.#wroteSinceTick = false;
  }

  /** The job reached a terminal event: hand over what is queued, then end the body. */
  #end(): void {
    if (this.#closed) return;
    if (this.#queue.length > 0) this.#controller.enqueue(this.#takeQueue());
    this.#controller.close();
    this.#release();
  }

  /** Drops the connection: the client sees it cut, not ended, and reconnects. */
  #fail(reason: JobstreamError): void {
    if (this.#closed) return;
    this.#controller.error(reason);
    this.#release();
  }

  /** The reader went away (client disconnected or cancelled the body). */
  close(): void {
    if (this.#closed) return;
    this.#release();
    try {
      this.#controller.close();
    } catch {
      // Already closed or errored by the reader's cancel.
    }
  }

  #release(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#follow.abort();
    const pull = this.#pullWaiter;
    const drain = this.#drainWaiter;
    this.#pullWaiter = null;
    this.#drainWaiter = null;
    pull?.();
    drain?.();
    this.#detach?.();
    this.#detach = null;
    this.#registry.release(this);
  }
}
