import {
  followJob,
  isTerminalEventType,
  type JobEvent,
  type JobStore,
  JobstreamError,
} from '@jobstream/core';
import { DIRECT_SINK, type DirectSink } from './direct-sink.js';
import { encodeEvent, HEARTBEAT_FRAME, RECONNECT_NOW_FRAME, retryFrame } from './sse-encoder.js';

/** A stream's age limit is drawn from [1 − this, 1] × `maxAgeMs`. */
const AGE_JITTER = 0.2;

export interface EventStreamSettings {
  heartbeatMs: number;
  retryMs: number;
  topLevelFields: boolean;
  /** Bytes a connection may hold waiting for its client before it stops taking live events. */
  maxQueuedBytes: number;
  /** A connection whose queued bytes wait this long without a read is dropped. */
  stallTimeoutMs: number;
  /** Live events a `followJob` holds before it falls back to re-reading the store. */
  maxBufferedEvents: number;
  /**
   * A stream this old (less up to `AGE_JITTER` of it, drawn per stream) is ended between
   * two frames after `retry: 0`, so the client comes straight back with Last-Event-ID;
   * null: never.
   */
  maxAgeMs: number | null;
  onError: (error: unknown) => void;
  /**
   * Quiet-job watchdog: a job followed live that has had no event for `quietMs` (by
   * `now`) is handed to `check`, at most once per `quietMs`, which fails it if its worker
   * is gone. Without it, a viewer connected to a job whose worker died would watch it
   * "running" until someone else read it.
   */
  stale?: { quietMs: number; now: () => number; check: (jobId: string) => Promise<void> };
}

/**
 * The open SSE connections of one server, the per-job shared followers, and the one
 * timer they share: each tick sends heartbeats to idle connections and drops stalled
 * ones. The timer exists only while a connection is open.
 *
 * Fan-out: all the viewers of a job that are caught up share ONE `followJob` (a
 * `JobFan`), so a live event costs one store delivery and one encoding however many
 * viewers there are, then a write per viewer. A viewer that is behind (replaying after
 * its Last-Event-ID, or a slow client) reads through a `followJob` of its own and joins
 * the fan once it has caught up; a viewer that falls behind leaves the fan again.
 */
export class StreamRegistry {
  readonly #connections = new Set<EventConnection>();
  readonly #fans = new Map<string, JobFan>();
  /** Open streams per owner (see `JobServerOptions.maxStreamsPerOwner`). */
  readonly #perOwner = new Map<string, number>();
  readonly settings: EventStreamSettings;
  readonly store: JobStore;
  #timer: ReturnType<typeof setInterval> | null = null;
  /** Coarse clock in ticks, so pushing a frame never has to read the time. */
  ticks = 0;

  constructor(store: JobStore, settings: EventStreamSettings) {
    this.store = store;
    this.settings = settings;
  }

  get size(): number {
    return this.#connections.size;
  }

  /** How many streams `owner` has open on this server. */
  openBy(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /**
   * Opens a stream of the job's events after `after` (replay, then live, through
   * `followJob`), ending after a terminal event. `signal` (the request's) closes it.
   * `owner`, when given, is counted in `openBy` until the stream closes.
   */
  open(
    jobId: string,
    after: number,
    signal?: AbortSignal,
    owner?: string,
  ): ReadableStream<Uint8Array> {
    const connection = new EventConnection(this, jobId, after, signal);
    this.#connections.add(connection);
    if (owner !== undefined) {
      connection.owner = owner;
      this.#perOwner.set(owner, this.openBy(owner) + 1);
    }
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#tick(), this.settings.heartbeatMs);
      (this.#timer as { unref?: () => void }).unref?.();
    }
    connection.begin();
    return connection.stream;
  }

  /** The live fan of a job, created (positioned at `after`) when there is none. */
  fanFor(jobId: string, after: number): JobFan {
    let fan = this.#fans.get(jobId);
    if (!fan) {
      fan = new JobFan(this, jobId, after);
      this.#fans.set(jobId, fan);
    }
    return fan;
  }

  dropFan(fan: JobFan): void {
    if (this.#fans.get(fan.jobId) === fan) this.#fans.delete(fan.jobId);
  }

  /**
   * Ends every open stream (the server is shutting down): what is queued goes out, then
   * the body ends, so each client reconnects with Last-Event-ID (to another instance).
   */
  closeAll(): void {
    for (const connection of this.#connections) connection.shutdown();
  }

  release(connection: EventConnection): void {
    const { owner } = connection;
    if (this.#connections.delete(connection) && owner !== undefined) {
      const left = this.openBy(owner) - 1;
      if (left > 0) this.#perOwner.set(owner, left);
      else this.#perOwner.delete(owner);
    }
    if (this.#connections.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  #tick(): void {
    this.ticks++;
    for (const connection of this.#connections) connection.tick();
    const { stale } = this.settings;
    if (stale) for (const fan of this.#fans.values()) fan.watchdog(stale);
  }
}

/** One `followJob` per job, shared by every caught-up viewer of that job. */
class JobFan {
  readonly jobId: string;
  readonly members = new Set<EventConnection>();
  /** Id of the last event this fan delivered (or its starting point). */
  lastId: number;
  readonly #registry: StreamRegistry;
  readonly #abort = new AbortController();
  #started = false;
  /** When this fan last delivered an event (or last asked the watchdog), by `stale.now`. */
  #quietSince: number;
  #checking = false;

  constructor(registry: StreamRegistry, jobId: string, after: number) {
    this.#registry = registry;
    this.jobId = jobId;
    this.lastId = after;
    this.#quietSince = registry.settings.stale?.now() ?? 0;
  }

  /** Asks whether a job this quiet lost its worker (see `EventStreamSettings.stale`). */
  watchdog(stale: NonNullable<EventStreamSettings['stale']>): void {
    const now = stale.now();
    if (this.#checking || now - this.#quietSince < stale.quietMs) return;
    this.#checking = true;
    this.#quietSince = now;
    stale
      .check(this.jobId)
      .catch(this.#registry.settings.onError)
      .finally(() => {
        this.#checking = false;
      });
  }

  join(connection: EventConnection): void {
    this.members.add(connection);
    if (!this.#started) {
      this.#started = true;
      void this.#run();
    }
  }

  leave(connection: EventConnection): void {
    this.members.delete(connection);
    if (this.members.size === 0) this.#stop();
  }

  #stop(): void {
    this.#registry.dropFan(this);
    this.#abort.abort();
  }

  async #run(): Promise<void> {
    const { settings, store } = this.#registry;
    let terminalId: number | null = null;
    try {
      for await (const event of followJob(store, this.jobId, {
        after: this.lastId,
        signal: this.#abort.signal,
        maxBuffered: settings.maxBufferedEvents,
      })) {
        this.lastId = event.id;
        if (settings.stale) this.#quietSince = settings.stale.now();
        const bytes = encodeEvent(event, settings.topLevelFields);
        terminalId = isTerminalEventType(event.type) ? event.id : null;
        for (const member of this.members) member.fromFan(event, bytes);
      }
      // followJob ends after the job's last event when that is terminal (a job_failed that
      // a resume followed is not the end): members that got it are done. The others (the
      // job was deleted, or already finished) finish on their own follower.
      for (const member of this.members) member.fanEnded(terminalId);
    } catch (error) {
      if (!this.#abort.signal.aborted) {
        settings.onError(error);
        for (const member of this.members) member.fail();
      }
    } finally {
      this.#stop();
    }
  }
}

/**
 * One SSE connection. Frames wait in a bounded queue of our own (the body stream has
 * no buffer of its own: a frame moves only when the reader asks, or straight into a
 * Node socket through the direct sink), so we always know how much a client has not
 * taken yet. Past `maxQueuedBytes` the connection stops taking live events and reads
 * at its own pace through its own `followJob`; data left unread for `stallTimeoutMs`
 * drops the connection, and the client resumes with Last-Event-ID.
 */
class EventConnection {
  readonly stream: ReadableStream<Uint8Array>;
  /** Whose stream it is, for the per-owner count. */
  owner: string | undefined;
  readonly #registry: StreamRegistry;
  readonly #settings: EventStreamSettings;
  readonly #jobId: string;
  /** Id of the last event queued for this client. */
  #lastId: number;
  #fan: JobFan | null = null;
  #follow: AbortController | null = null;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** Tick at which the oldest queued byte arrived, -1 when the queue is empty. */
  #waitingSince = -1;
  #pullWaiter: (() => void) | null = null;
  #drainWaiter: (() => void) | null = null;
  /** Set when our own Node adapter takes frames directly (see direct-sink.ts). */
  #sink: DirectSink | null = null;
  #sinkReady = false;
  #wroteSinceTick = true;
  #closed = false;
  #detach: (() => void) | null = null;
  /** Ends the stream at its age limit (see `EventStreamSettings.maxAgeMs`). */
  #ageTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    registry: StreamRegistry,
    jobId: string,
    after: number,
    signal: AbortSignal | undefined,
  ) {
    this.#registry = registry;
    this.#settings = registry.settings;
    this.#jobId = jobId;
    this.#lastId = after;
    if (signal) {
      // The request's signal aborts when the client goes away (adapters wire it).
      const onAbort = () => this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#detach = () => signal.removeEventListener('abort', onAbort);
    }
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
    Object.defineProperty(this.stream, DIRECT_SINK, {
      value: (sink: DirectSink) => {
        this.#sink = sink;
        this.#resume();
        return { resume: () => this.#resume(), cancel: () => this.close() };
      },
    });
  }

  begin(): void {
    this.#push(retryFrame(this.#settings.retryMs));
    const { maxAgeMs } = this.#settings;
    if (maxAgeMs !== null) {
      // A timer per stream, not the shared tick: a tick is a heartbeat (15 s) long, too
      // coarse to spread out the streams that a deploy made reconnect all at once.
      const age = Math.round(maxAgeMs * (1 - AGE_JITTER * Math.random()));
      this.#ageTimer = setTimeout(() => this.#rotate(), age);
      (this.#ageTimer as { unref?: () => void }).unref?.();
    }
    if (!this.#tryJoin()) void this.#catchUp();
  }

  /**
   * Old enough: ask the client to reconnect at once, then end the stream as after a
   * terminal event. Every push is a whole frame, so the end falls between two events, and
   * the client resumes after the last id it got.
   */
  #rotate(): void {
    this.#push(RECONNECT_NOW_FRAME);
    this.#end();
  }

  /** Joins the job's fan when it is not ahead of us (it then sends only ids after ours). */
  #tryJoin(): boolean {
    if (this.#closed || this.#queuedBytes >= this.#settings.maxQueuedBytes) return false;
    const fan = this.#registry.fanFor(this.#jobId, this.#lastId);
    if (fan.lastId > this.#lastId) return false;
    this.#fan = fan;
    fan.join(this);
    return true;
  }

  /** An event from the fan: already-sent ids are skipped, so joining never duplicates. */
  fromFan(event: JobEvent, bytes: Uint8Array): void {
    if (this.#closed || event.id <= this.#lastId) return;
    if (event.id !== this.#lastId + 1) {
      // Cannot happen by construction; if it did, the store has the missing ids.
      this.#leaveFan();
      void this.#catchUp();
      return;
    }
    this.#lastId = event.id;
    this.#push(bytes);
    if (this.#queuedBytes >= this.#settings.maxQueuedBytes) {
      // A slow client: stop taking live events, read at its own pace from the store.
      this.#leaveFan();
      void this.#catchUp();
    }
  }

  /** The fan's follow ended; `terminalId`: it ended after that event, the job's last. */
  fanEnded(terminalId: number | null): void {
    if (this.#closed) return;
    if (terminalId !== null && this.#lastId === terminalId) this.#end();
    else this.leaveFanAndCatchUp();
  }

  leaveFanAndCatchUp(): void {
    if (this.#closed) return;
    this.#leaveFan();
    void this.#catchUp();
  }

  #leaveFan(): void {
    const fan = this.#fan;
    this.#fan = null;
    fan?.leave(this);
  }

  /** Reads through a `followJob` of its own until caught up with the fan, then joins it. */
  async #catchUp(): Promise<void> {
    const { topLevelFields, maxQueuedBytes, maxBufferedEvents } = this.#settings;
    const follow = new AbortController();
    this.#follow = follow;
    try {
      if (this.#queuedBytes >= maxQueuedBytes) await this.#drained();
      if (this.#closed || this.#tryJoin()) return;
      for await (const event of followJob(this.#registry.store, this.#jobId, {
        after: this.#lastId,
        signal: follow.signal,
        maxBuffered: maxBufferedEvents,
      })) {
        if (this.#closed) return;
        this.#lastId = event.id;
        this.#push(encodeEvent(event, topLevelFields));
        // followJob ends after the job's last event when that is terminal; a terminal
        // event that a resume followed goes on (and never hands over to a fan).
        if (isTerminalEventType(event.type)) continue;
        if (this.#queuedBytes >= maxQueuedBytes) await this.#drained();
        if (this.#tryJoin()) return;
      }
      this.#end();
    } catch (error) {
      if (!this.#closed) {
        this.#settings.onError(error);
        this.fail();
      }
    } finally {
      follow.abort();
      if (this.#follow === follow) this.#follow = null;
    }
  }

  #drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#drainWaiter = resolve;
    });
  }

  #push(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#wroteSinceTick = true;
    if (this.#sinkReady) {
      this.#sinkReady = (this.#sink as DirectSink).write(bytes);
      return;
    }
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

  /** The direct sink has room again: hand it what queued up. */
  #resume(): void {
    if (this.#closed || !this.#sink) return;
    this.#sinkReady = true;
    if (this.#queue.length > 0) this.#sinkReady = this.#sink.write(this.#takeQueue());
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
      this.fail();
      return;
    }
    if (!this.#wroteSinceTick) this.#push(HEARTBEAT_FRAME);
    this.#wroteSinceTick = false;
  }

  /**
   * The stream is over (a terminal event, its age limit, shutdown): hand over what is
   * queued, then end the body.
   */
  #end(): void {
    if (this.#closed) return;
    const sink = this.#sink;
    if (sink) {
      // The sink buffers past `false` (as a Node socket does), so the tail can go now.
      if (this.#queue.length > 0) sink.write(this.#takeQueue());
      this.#release();
      sink.end();
      return;
    }
    if (this.#queue.length > 0) this.#controller.enqueue(this.#takeQueue());
    this.#controller.close();
    this.#release();
  }

  /** Drops the connection (stalled client, store failure): the client sees it cut and reconnects. */
  fail(): void {
    if (this.#closed) return;
    const sink = this.#sink;
    this.#release();
    if (sink) sink.destroy();
    else {
      this.#controller.error(
        new JobstreamError('store_unavailable', 'The event stream was cut; reconnect to resume.'),
      );
    }
  }

  /**
   * The server is shutting down: end the body as after a terminal event. (`close()` is for
   * a reader that went away; it leaves a Node response, written through the direct sink,
   * open, so a client still there would sit on a silent connection.)
   */
  shutdown(): void {
    this.#end();
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
    clearTimeout(this.#ageTimer);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#leaveFan();
    this.#follow?.abort();
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
