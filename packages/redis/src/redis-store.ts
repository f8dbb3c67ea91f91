import {
  type CommitRequest,
  ConflictError,
  checkReadOptions,
  type DeleteJobsFilter,
  decodeCursor,
  type EventListener,
  encodeCursor,
  type Job,
  type JobEvent,
  type JobStore,
  JobstreamError,
  type ListJobsFilter,
  type ListJobsPage,
  type NewJob,
  pageSize,
  parseJob,
  prepareCommit,
  prepareCreate,
  type ReadEventsOptions,
  RecentJobs,
  statusFilter,
  toDate,
} from '@jobstream/core';
import type { Redis } from 'ioredis';
import { COMMIT, CREATE_JOB, DELETE_FINISHED } from './lua-scripts.js';
import { rethrowStoreError } from './redis-errors.js';

export interface RedisJobStoreOptions {
  /** A connected ioredis client. The store duplicates it once for pub/sub. */
  redis: Redis;
  /** Prefix of every key and channel, to share a Redis with other data. @default 'jobstream' */
  prefix?: string;
  /**
   * How long a `subscribe` waits for the store's pub/sub connection to be ready before it
   * rejects with `store_unavailable` (Redis is down when the first viewer or job
   * subscribes; the connection keeps trying and the next `subscribe` waits for it again).
   * @default 10000
   */
  subscriberReadyTimeoutMs?: number;
  /**
   * Jobs this store wrote or read last, kept so a commit right after needs no read first
   * (the commit script still checks the version, so a stale copy only costs a conflict).
   * `0` reads the job before every commit.
   * @default 1000
   */
  cacheSize?: number;
}

/** Events a catch-up reads at once (it reads on until a page is short). */
const CATCH_UP_PAGE = 1000;

interface Subscription {
  listeners: Set<EventListener>;
  /**
   * Highest event id handed to listeners (or known to predate the subscription); a
   * catch-up reads the job's stream after it.
   */
  lastId: number;
  /**
   * `lastId` is known (the job's version, read once the channel was subscribed): from
   * then on a live event past `lastId + 1` means the ones between were missed.
   */
  settled: boolean;
  /** Settles once the channel is subscribed; every subscriber of the job awaits it. */
  ready: Promise<void>;
}

/**
 * A `JobStore` on Redis (single node or Sentinel; Cluster is not supported because a
 * commit touches per-job keys and shared indexes in one script).
 *
 * Guarantees: `createJob`, `commit` and `deleteJobs` each run as one Lua script, so they
 * are atomic and of two commits on one version exactly one wins. Events live in a
 * Stream per job (entry id `0-<event id>`). Live events travel over pub/sub on one
 * channel per job, published inside the commit script, so every process sees them in
 * commit order; pub/sub is at-most-once, so after the subscriber connection reconnects
 * the store reads each subscribed job's stream from the last id it delivered and
 * delivers what was missed; a live event that arrives before the missed ones does not
 * skip them: it is read from the stream with them, in order. Jobs are JSON, validated
 * with core's schema on the way out. A commit to a job this store wrote or read last
 * (`cacheSize`) is one round trip: the script's version check makes a stale copy a
 * conflict, not a wrong record.
 *
 * @example
 * const store = new RedisJobStore({ redis: new Redis(process.env.REDIS_URL) });
 */
export class RedisJobStore implements JobStore {
  readonly redis: Redis;
  readonly prefix: string;
  #subscriber: Redis | null = null;
  #subscriberReady: Promise<Redis> | null = null;
  readonly #readyTimeoutMs: number;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #recent: RecentJobs;
  /** After close(): no pub/sub connection is opened again (nobody would close it). */
  #closed = false;
  /** Jobs whose stream must be read for events their listeners missed. */
  readonly #behind = new Set<string>();
  /** The catch-up loop runs (one at a time; it reads `#behind` until it is empty). */
  #catchingUp = false;

  constructor(options: RedisJobStoreOptions) {
    if (!options?.redis)
      throw new JobstreamError('invalid_input', 'RedisJobStore needs { redis }.');
    this.redis = options.redis;
    this.prefix = options.prefix ?? 'jobstream';
    this.#readyTimeoutMs = options.subscriberReadyTimeoutMs ?? 10_000;
    this.#recent = new RecentJobs(options.cacheSize ?? 1000);
  }

  #jobKey(id: string) {
    return `${this.prefix}:{${id}}:job`;
  }
  #eventsKey(id: string) {
    return `${this.prefix}:{${id}}:events`;
  }
  #channel(id: string) {
    return `${this.prefix}:{${id}}:live`;
  }
  #ownerIndex(ownerId: string) {
    return `${this.prefix}:idx:owner:${ownerId}`;
  }
  get #allIndex() {
    return `${this.prefix}:idx:all`;
  }
  get #finishedIndex() {
    return `${this.prefix}:idx:finished`;
  }

  async createJob(input: NewJob): Promise<{ job: Job; event: JobEvent }> {
    const { job, event } = prepareCreate(input);
    const sent = JSON.stringify(event);
    const created = await this.redis
      .eval(
        CREATE_JOB,
        4,
        this.#jobKey(job.id),
        this.#eventsKey(job.id),
        this.#allIndex,
        this.#ownerIndex(job.ownerId),
        JSON.stringify(job),
        sent,
        `${job.createdAt}|${job.id}`,
      )
      .catch(rethrowStoreError);
    if (created !== 1 && !(await this.#createdBy(job.id, sent))) {
      throw new ConflictError(`A job with id ${job.id} already exists.`);
    }
    this.#recent.remember(job);
    return { job, event };
  }

  /**
   * Whether the job's event 1 is exactly `sent`: then the "id taken" answer was to our own
   * create sent twice (ioredis resends a command whose answer the connection lost) and
   * not to another create with that id (its event differs: `at`, input…).
   */
  async #createdBy(id: string, sent: string): Promise<boolean> {
    const [first] = await this.redis
      .xrange(this.#eventsKey(id), '0-1', '0-1')
      .catch(rethrowStoreError);
    return first?.[1][1] === sent;
  }

  async getJob(id: string): Promise<Job | null> {
    const raw = await this.redis.hget(this.#jobKey(id), 'j').catch(rethrowStoreError);
    if (raw === null) {
      this.#recent.forget(id);
      return null;
    }
    const job = parseJob(JSON.parse(raw));
    this.#recent.remember(job);
    return job;
  }

  async commit(jobId: string, request: CommitRequest): Promise<{ job: Job; events: JobEvent[] }> {
    // The job as this store last wrote or read it, when that is the version the caller
    // expects: the script checks the version in Redis, so no read is needed first.
    const current = this.#recent.at(jobId, request?.expectedVersion) ?? (await this.getJob(jobId));
    const { job, events } = prepareCommit(
      current,
      jobId,
      request?.expectedVersion,
      request?.events,
    );
    const finishedAt = job.completedAt ? String(Date.parse(job.completedAt)) : '';
    const reply = await this.redis
      .eval(
        COMMIT,
        3,
        this.#jobKey(jobId),
        this.#eventsKey(jobId),
        this.#finishedIndex,
        String(request.expectedVersion),
        JSON.stringify(job),
        String(job.version),
        finishedAt,
        jobId,
        this.#channel(jobId),
        ...events.map((e) => JSON.stringify(e)),
      )
      .catch((error: unknown) => {
        // Unknown whether it ran (an answer lost with the connection): read next time.
        this.#recent.forget(jobId);
        return rethrowStoreError(error);
      });
    if (reply !== 'OK') this.#recent.forget(jobId);
    if (reply === -1) throw new JobstreamError('not_found', `Job ${jobId} does not exist.`);
    if (reply !== 'OK') {
      throw new ConflictError(
        `Job ${jobId} is at version ${String(reply)}, not ${request.expectedVersion}; read it again and retry.`,
        { details: { expectedVersion: request.expectedVersion, actualVersion: reply } },
      );
    }
    this.#recent.remember(job);
    return { job, events };
  }

  async readEvents(jobId: string, options: ReadEventsOptions = {}): Promise<JobEvent[]> {
    const { after, limit } = checkReadOptions(options.after, options.limit);
    const entries = await this.redis
      .xrange(this.#eventsKey(jobId), `0-${after + 1}`, '+', 'COUNT', limit)
      .catch(rethrowStoreError);
    return entries.map(([, fields]) => JSON.parse(fields[1] as string) as JobEvent);
  }

  async subscribe(jobId: string, onEvent: EventListener): Promise<() => void> {
    if (this.#closed) throw new JobstreamError('store_unavailable', 'The store is closed.');
    const listener: EventListener = (event) => onEvent(event);
    let subscription = this.#subscriptions.get(jobId);
    if (!subscription) {
      const created: Subscription = {
        listeners: new Set(),
        lastId: 0,
        settled: false,
        ready: Promise.resolve(),
      };
      created.ready = (async () => {
        const subscriber = await this.#ensureSubscriber();
        await subscriber.subscribe(this.#channel(jobId));
        const version = await this.redis.hget(this.#jobKey(jobId), 'v');
        created.lastId = Math.max(created.lastId, Number(version ?? 0));
        created.settled = true;
      })();
      subscription = created;
      this.#subscriptions.set(jobId, created);
    }
    subscription.listeners.add(listener);
    const mine = subscription;
    try {
      await mine.ready;
      // Closed while this subscribe waited: close() has dropped the subscription.
      if (this.#closed) throw new JobstreamError('store_unavailable', 'The store is closed.');
    } catch (error) {
      this.#release(jobId, mine, listener);
      throw new JobstreamError('store_unavailable', 'Could not subscribe to Redis.', {
        cause: error,
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release(jobId, mine, listener);
    };
  }

  #release(jobId: string, subscription: Subscription, listener: EventListener) {
    subscription.listeners.delete(listener);
    if (subscription.listeners.size > 0 || this.#subscriptions.get(jobId) !== subscription) return;
    this.#subscriptions.delete(jobId);
    this.#subscriber?.unsubscribe(this.#channel(jobId)).catch(() => {});
  }

  #ensureSubscriber(): Promise<Redis> {
    if (this.#closed) {
      return Promise.reject(new JobstreamError('store_unavailable', 'The store is closed.'));
    }
    if (this.#subscriberReady) return this.#subscriberReady;
    const ready = (async () => {
      // One pub/sub connection for the store's life: a wait that timed out keeps it.
      const subscriber = this.#subscriber ?? this.#openSubscriber();
      if (subscriber.status !== 'ready') await this.#untilReady(subscriber);
      return subscriber;
    })();
    this.#subscriberReady = ready;
    // Not ready in time (Redis is down): the next subscribe waits again.
    ready.catch(() => {
      if (this.#subscriberReady === ready) this.#subscriberReady = null;
    });
    return ready;
  }

  #openSubscriber(): Redis {
    const subscriber = this.redis.duplicate();
    this.#subscriber = subscriber;
    subscriber.on('error', () => {
      // ioredis reconnects by itself; the catch-up below fills the gap.
    });
    subscriber.on('message', (channel: string, message: string) => this.#deliver(channel, message));
    let first = true;
    subscriber.on('ready', () => {
      if (first) {
        first = false;
        return;
      }
      void this.#resubscribeThenCatchUp(subscriber);
    });
    return subscriber;
  }

  #untilReady(subscriber: Redis): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        subscriber.off('ready', onReady);
        subscriber.off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => done();
      const onEnd = () => done(new Error('Redis subscriber connection ended'));
      const timer = setTimeout(
        () =>
          done(new Error(`Redis pub/sub connection not ready after ${this.#readyTimeoutMs} ms`)),
        this.#readyTimeoutMs,
      );
      subscriber.once('ready', onReady);
      subscriber.once('end', onEnd);
    });
  }

  #deliver(channel: string, message: string): void {
    const jobId = channel.slice(this.prefix.length + 2, channel.length - '}:live'.length);
    const subscription = this.#subscriptions.get(jobId);
    if (!subscription) return;
    let event: JobEvent;
    try {
      event = JSON.parse(message) as JobEvent;
    } catch {
      return;
    }
    if (subscription.settled && event.id > subscription.lastId + 1) {
      // Some before it were missed (published while the channel was not subscribed, after
      // a reconnect) and the read that brings them has not yet: it can come after this
      // message, which travels on the other connection. Each event is in the stream
      // before it is published, so read them all, this one too, and hand them over in
      // order; delivering this one now would make the read's events look old and be
      // dropped.
      this.#requestCatchUp([jobId]);
      return;
    }
    this.#emit(subscription, event);
  }

  #emit(subscription: Subscription, event: JobEvent): void {
    if (event.id <= subscription.lastId) return;
    subscription.lastId = event.id;
    for (const listener of subscription.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's bug must not stop delivery to the others.
      }
    }
  }

  /** After a reconnect: deliver what each subscribed job committed while we were away. */
  /**
   * ioredis emits 'ready' before it sends the SUBSCRIBE that restores the channels: a
   * stream read made at once can finish before Redis has the channels back, and an event
   * published in between is in neither. So subscribe (again; harmless) and wait for Redis
   * to confirm, then read what was missed.
   */
  async #resubscribeThenCatchUp(subscriber: Redis): Promise<void> {
    const jobIds = [...this.#subscriptions.keys()];
    try {
      if (jobIds.length > 0) await subscriber.subscribe(...jobIds.map((id) => this.#channel(id)));
    } catch {
      return; // down again: the next 'ready' tries again
    }
    this.#requestCatchUp(jobIds);
  }

  /**
   * Reads the streams of `jobIds` after what their listeners got and delivers the rest.
   * The reads go through the store's other connection, which may still be reconnecting
   * when pub/sub is back: a job whose read fails is tried again (100 ms, doubling to 2 s)
   * until it works or the store is closed, or events published while both were down would
   * reach live listeners never. One loop at a time; a request while it runs joins it.
   */
  #requestCatchUp(jobIds: Iterable<string>): void {
    for (const jobId of jobIds) this.#behind.add(jobId);
    if (this.#catchingUp || this.#closed) return;
    this.#catchingUp = true;
    void (async () => {
      try {
        for (let delay = 100; this.#behind.size > 0 && !this.#closed; ) {
          const failed = await this.#catchUp();
          if (failed.length === 0) {
            delay = 100;
            continue;
          }
          for (const jobId of failed) this.#behind.add(jobId);
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, 2000);
        }
      } finally {
        this.#catchingUp = false;
      }
    })();
  }

  /** Reads what the jobs in `#behind` missed; returns those whose read failed. */
  async #catchUp(): Promise<string[]> {
    const jobIds = [...this.#behind];
    this.#behind.clear();
    const failed: string[] = [];
    for (const jobId of jobIds) {
      const subscription = this.#subscriptions.get(jobId);
      if (!subscription) continue;
      if (!subscription.settled) {
        // Its own subscribe reads where it starts; what it then missed is read after.
        subscription.ready.then(
          () => this.#requestCatchUp([jobId]),
          () => {},
        );
        continue;
      }
      try {
        for (;;) {
          const after = subscription.lastId;
          const missed = await this.readEvents(jobId, { after, limit: CATCH_UP_PAGE });
          for (const event of missed) this.#emit(subscription, event);
          const more = missed.length === CATCH_UP_PAGE && subscription.lastId > after;
          if (!more || this.#subscriptions.get(jobId) !== subscription) break;
        }
      } catch {
        failed.push(jobId);
      }
    }
    return failed;
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<ListJobsPage> {
    const limit = pageSize(filter.limit);
    const statuses = statusFilter(filter);
    const index = filter.ownerId !== undefined ? this.#ownerIndex(filter.ownerId) : this.#allIndex;
    let max = '+';
    if (filter.cursor) {
      const { createdAt, id } = decodeCursor(filter.cursor);
      max = `(${createdAt}|${id}`;
    }
    const jobs: Job[] = [];
    const batch = Math.max(limit + 1, 100);
    for (;;) {
      const members = await this.redis
        .zrevrangebylex(index, max, '-', 'LIMIT', 0, batch)
        .catch(rethrowStoreError);
      if (members.length === 0) break;
      const pipeline = this.redis.pipeline();
      for (const member of members)
        pipeline.hget(this.#jobKey(member.slice(member.indexOf('|') + 1)), 'j');
      const rows = (await pipeline.exec().catch(rethrowStoreError)) ?? [];
      for (const [error, raw] of rows) {
        // A pipeline resolves even when its commands failed (a link that dropped after the
        // index was read): each row carries its error, which must not read as "no job".
        if (error) rethrowStoreError(error);
        if (typeof raw !== 'string') continue;
        const job = parseJob(JSON.parse(raw));
        if (filter.kind !== undefined && job.kind !== filter.kind) continue;
        if (statuses && !statuses.has(job.status)) continue;
        jobs.push(job);
        if (jobs.length > limit) break;
      }
      if (jobs.length > limit || members.length < batch) break;
      max = `(${members[members.length - 1]}`;
    }
    const page = jobs.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page, nextCursor: jobs.length > limit && last ? encodeCursor(last) : null };
  }

  async deleteJobs(filter: DeleteJobsFilter): Promise<number> {
    const cutoff = toDate(filter?.finishedBefore, 'finishedBefore').getTime();
    const deleted = await this.redis
      .eval(DELETE_FINISHED, 1, this.#finishedIndex, String(cutoff), this.prefix)
      .catch(rethrowStoreError);
    return Number(deleted);
  }

  /** Live listeners across all jobs (the conformance suite checks none leak). */
  listenerCount(): number {
    let count = 0;
    for (const subscription of this.#subscriptions.values()) count += subscription.listeners.size;
    return count;
  }

  /**
   * Closes the pub/sub connection this store opened; the `redis` you passed stays yours.
   * Later `subscribe` calls reject with `store_unavailable`; the others use your client.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    this.#subscriberReady = null;
    this.#subscriptions.clear();
    this.#behind.clear();
    this.#recent.clear();
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
