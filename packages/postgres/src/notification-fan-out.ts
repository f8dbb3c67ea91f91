import type { EventListener, JobEvent } from '@jobstream/core';
import { JobstreamError } from '@jobstream/core';
import { toJobstreamError } from './pg-errors.js';
import type { SqlDriver } from './sql-driver.js';

/** The channel the SQL functions notify: payload "<first id>:<last id>:<job id>". */
export const NOTIFY_CHANNEL = 'jobstream';

const PAGE = 500;
/** "Read everything after `last`": used to catch up after the listener reconnects. */
const CATCH_UP = Number.MAX_SAFE_INTEGER;

interface Feed {
  listeners: Set<EventListener>;
  /** Highest id delivered (or known to predate every subscriber). -1 until known. */
  last: number;
  /** Highest id a notification announced. */
  target: number;
  pumping: boolean;
  baseline: Promise<void>;
}

export interface FanOutOptions {
  driver: SqlDriver;
  readEvents: (jobId: string, after: number, limit: number) => Promise<JobEvent[]>;
  /** The job's current version (0 when it does not exist). */
  currentVersion: (jobId: string) => Promise<number>;
  /** The current versions of these jobs (missing: the job does not exist). */
  currentVersions: (jobIds: readonly string[]) => Promise<Map<string, number>>;
  /** First delay before reconnecting a dropped listener; doubles up to 5 s. @default 100 */
  reconnectDelayMs?: number;
  /** Interval of the catch-up poll over followed jobs; 0 turns it off. @default 5000 */
  catchUpIntervalMs?: number;
}

/** Jobs whose versions one catch-up query reads. */
const CATCH_UP_BATCH = 1000;

/**
 * One listening connection per store, multiplexing every subscription. Notifications are
 * pointers; the events are read from the table, in id order, once per job however many
 * subscribers it has. After the connection drops it reconnects and reads whatever was
 * committed meanwhile, so a subscriber misses nothing.
 *
 * A notification can also never come: a writer that notifies after its commit (the
 * default of `PostgresJobStore`) may die between the two. So while there are subscribers,
 * a slow poll reads the versions of every followed job in one query and reads the events
 * of any job that moved past what was delivered.
 */
export class NotificationFanOut {
  readonly #options: FanOutOptions;
  readonly #feeds = new Map<string, Feed>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #listening: Promise<void> | null = null;
  #unlisten: (() => Promise<void>) | null = null;
  #reconnectDelay: number;
  #reconnects = 0;
  #catchUpTimer: ReturnType<typeof setTimeout> | null = null;
  #catchUps = 0;
  #closed = false;

  constructor(options: FanOutOptions) {
    this.#options = options;
    this.#reconnectDelay = options.reconnectDelayMs ?? 100;
  }

  /** How many times the catch-up poll found a followed job past what notifications announced. */
  get catchUps(): number {
    return this.#catchUps;
  }

  /** Live subscriptions across all jobs. */
  get listenerCount(): number {
    let count = 0;
    for (const feed of this.#feeds.values()) count += feed.listeners.size;
    return count;
  }

  /** Jobs with at least one subscriber. */
  get feedCount(): number {
    return this.#feeds.size;
  }

  /** How many times the listening connection was re-established. */
  get reconnects(): number {
    return this.#reconnects;
  }

  async subscribe(jobId: string, onEvent: EventListener): Promise<() => void> {
    const closed = () => new JobstreamError('store_unavailable', 'The store is closed.');
    if (this.#closed) throw closed();
    await this.#listen();
    // Closed while the listening connection opened: a feed made now would outlive close().
    if (this.#closed) throw closed();
    let feed = this.#feeds.get(jobId);
    if (!feed) {
      const created: Feed = {
        listeners: new Set(),
        last: -1,
        target: 0,
        pumping: false,
        baseline: Promise.resolve(),
      };
      created.baseline = this.#options.currentVersion(jobId).then(
        (version) => {
          if (created.last < version) created.last = version;
          if (created.target > created.last) void this.#pump(jobId, created);
        },
        (error: unknown) => {
          // Do not leave a broken feed behind for the next subscriber of this job.
          if (this.#feeds.get(jobId) === created) this.#feeds.delete(jobId);
          throw error;
        },
      );
      this.#feeds.set(jobId, created);
      feed = created;
      this.#scheduleCatchUp();
    }
    const target = feed;
    // A wrapper, so one function subscribed twice is two subscriptions.
    const listener: EventListener = (event) => onEvent(event);
    target.listeners.add(listener);
    const unsubscribe = () => {
      target.listeners.delete(listener);
      if (target.listeners.size === 0 && this.#feeds.get(jobId) === target) {
        this.#feeds.delete(jobId);
      }
    };
    try {
      await target.baseline;
    } catch (error) {
      unsubscribe();
      throw toJobstreamError(error, 'subscribe');
    }
    if (this.#closed) {
      unsubscribe();
      throw closed();
    }
    return unsubscribe;
  }

  /**
   * This store committed up to `last` on `jobId`: wake its own subscribers now rather than
   * when the notification comes back from the database.
   */
  announce(jobId: string, last: number): void {
    const feed = this.#feeds.get(jobId);
    if (!feed || !(last > feed.target)) return;
    feed.target = last;
    if (feed.last >= 0 && last > feed.last) void this.#pump(jobId, feed);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#catchUpTimer) clearTimeout(this.#catchUpTimer);
    this.#catchUpTimer = null;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#feeds.clear();
    const unlisten = this.#unlisten;
    this.#unlisten = null;
    await unlisten?.();
    // A connection still being opened closes itself once it sees #closed.
    await this.#listening?.catch(() => {});
  }

  #listen(): Promise<void> {
    if (!this.#listening) {
      const attempt = this.#options.driver
        .listen(
          NOTIFY_CHANNEL,
          (payload) => this.#onNotification(payload),
          () => this.#onLost(),
        )
        .then(async (unlisten) => {
          if (this.#closed) {
            await unlisten();
            return;
          }
          this.#unlisten = unlisten;
          this.#reconnectDelay = this.#options.reconnectDelayMs ?? 100;
        });
      this.#listening = attempt;
      attempt.catch(() => {
        if (this.#listening === attempt) this.#listening = null;
      });
    }
    return this.#listening.catch((error) => {
      throw toJobstreamError(error, 'subscribe (listening connection)');
    });
  }

  #onLost(): void {
    this.#listening = null;
    this.#unlisten = null;
    if (this.#closed) return;
    this.#reconnect();
  }

  #reconnect(): void {
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(this.#reconnectDelay * 2, 5000);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      this.#listen().then(
        () => {
          this.#reconnects++;
          // Whatever was committed while nobody listened is in the table: read it.
          for (const [jobId, feed] of this.#feeds) {
            feed.target = CATCH_UP;
            if (feed.last >= 0) void this.#pump(jobId, feed);
          }
        },
        () => this.#reconnect(),
      );
    }, delay);
    timer.unref?.();
    this.#timers.add(timer);
  }

  #onNotification(payload: string): void {
    const a = payload.indexOf(':');
    const b = payload.indexOf(':', a + 1);
    if (a < 0 || b < 0) return;
    this.announce(payload.slice(b + 1), Number(payload.slice(a + 1, b)));
  }

  #scheduleCatchUp(): void {
    const interval = this.#options.catchUpIntervalMs ?? 5000;
    if (this.#catchUpTimer || this.#closed || !(interval > 0)) return;
    const timer = setTimeout(() => {
      void this.#catchUp().finally(() => {
        if (this.#catchUpTimer === timer) this.#catchUpTimer = null;
        if (this.#feeds.size > 0) this.#scheduleCatchUp();
      });
    }, interval);
    timer.unref?.();
    this.#catchUpTimer = timer;
  }

  async #catchUp(): Promise<void> {
    const ids = [...this.#feeds].filter(([, feed]) => feed.last >= 0).map(([id]) => id);
    for (let i = 0; i < ids.length && !this.#closed; i += CATCH_UP_BATCH) {
      let versions: Map<string, number>;
      try {
        versions = await this.#options.currentVersions(ids.slice(i, i + CATCH_UP_BATCH));
      } catch {
        return; // The database is away; the next round (or the reconnect) catches up.
      }
      for (const [jobId, version] of versions) {
        const feed = this.#feeds.get(jobId);
        if (!feed || feed.last < 0 || !(version > Math.max(feed.target, feed.last))) continue;
        this.#catchUps++;
        feed.target = version;
        void this.#pump(jobId, feed);
      }
    }
  }

  async #pump(jobId: string, feed: Feed): Promise<void> {
    if (feed.pumping) return;
    feed.pumping = true;
    try {
      while (feed.target > feed.last && this.#feeds.get(jobId) === feed) {
        const wanted = feed.target;
        const events = await this.#options.readEvents(jobId, feed.last, PAGE);
        for (const event of events) {
          if (event.id <= feed.last) continue;
          feed.last = event.id;
          for (const listener of feed.listeners) {
            try {
              listener(event);
            } catch {
              // A subscriber's bug must not stop delivery to the others.
            }
          }
        }
        if (events.length < PAGE && feed.target === wanted && wanted > feed.last) {
          // Nothing more to read: caught up (or the job was deleted meanwhile). A
          // notification that arrived during the read moved the target: read again.
          feed.target = feed.last;
        }
      }
    } catch {
      // The read failed (the database is restarting?): try again shortly. If the
      // listening connection dropped too, its reconnect catches up as well.
      if (!this.#closed && this.#feeds.get(jobId) === feed) {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          void this.#pump(jobId, feed);
        }, 250);
        timer.unref?.();
        this.#timers.add(timer);
      }
    } finally {
      feed.pumping = false;
    }
  }
}
