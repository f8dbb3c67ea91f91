import type { EventListener, JobEvent } from '@jobstream/core';

const PAGE = 500;

/** The part of a supabase-js Realtime channel this module uses. */
export interface ChannelLike {
  on(
    type: 'postgres_changes',
    filter: { event: 'INSERT'; schema: string; table: string; filter: string },
    callback: (payload: { new: Record<string, unknown> }) => void,
  ): ChannelLike;
  subscribe(callback?: (status: string, error?: Error) => void): unknown;
}

export interface LiveEventsOptions {
  readEvents: (jobId: string, after: number, limit: number) => Promise<JobEvent[]>;
  currentVersion: (jobId: string) => Promise<number>;
  /** Turns a Realtime row into an event (validated), or null when it is malformed. */
  rowToEvent: (jobId: string, row: Record<string, unknown>) => JobEvent | null;
  /** Opens a Realtime channel for a job's inserted events, or null for polling only. */
  openChannel: ((jobId: string) => ChannelLike) | null;
  closeChannel: (channel: ChannelLike) => void;
  pollIntervalMs: number;
  safetyPollIntervalMs: number;
}

interface Feed {
  listeners: Set<EventListener>;
  last: number;
  channel: ChannelLike | null;
  realtimeUp: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  pumping: boolean;
  again: boolean;
}

/**
 * Live events per job: Supabase Realtime when it works, polling the events table when it
 * does not (and, slowly, even when it does, in case Realtime dropped an insert). Both
 * paths feed one cursor per job (`last`), so each event reaches each subscriber once and
 * in id order; a gap in Realtime delivery is filled by reading the table.
 */
export class LiveEvents {
  readonly #options: LiveEventsOptions;
  readonly #feeds = new Map<string, Feed>();
  #closed = false;

  constructor(options: LiveEventsOptions) {
    this.#options = options;
  }

  get listenerCount(): number {
    let count = 0;
    for (const feed of this.#feeds.values()) count += feed.listeners.size;
    return count;
  }

  /** Jobs whose Realtime channel has reported SUBSCRIBED and not failed since. */
  get realtimeJobs(): number {
    let count = 0;
    for (const feed of this.#feeds.values()) if (feed.realtimeUp) count++;
    return count;
  }

  async subscribe(jobId: string, onEvent: EventListener): Promise<() => void> {
    let feed = this.#feeds.get(jobId);
    if (!feed) {
      const last = await this.#options.currentVersion(jobId);
      // Another subscribe may have opened the feed while we read.
      feed = this.#feeds.get(jobId) ?? this.#open(jobId, last);
    }
    const target = feed;
    const listener: EventListener = (event) => onEvent(event);
    target.listeners.add(listener);
    return () => {
      target.listeners.delete(listener);
      if (target.listeners.size === 0 && this.#feeds.get(jobId) === target) {
        this.#feeds.delete(jobId);
        this.#shut(target);
      }
    };
  }

  close(): void {
    this.#closed = true;
    for (const feed of this.#feeds.values()) this.#shut(feed);
    this.#feeds.clear();
  }

  #open(jobId: string, last: number): Feed {
    const feed: Feed = {
      listeners: new Set(),
      last,
      channel: null,
      realtimeUp: false,
      timer: null,
      pumping: false,
      again: false,
    };
    this.#feeds.set(jobId, feed);
    const open = this.#options.openChannel;
    if (open) {
      try {
        const channel = open(jobId);
        feed.channel = channel;
        channel.on(
          'postgres_changes',
          {
            event: 'INSERT',
            schema: 'public',
            table: 'jobstream_events',
            filter: `job_id=eq.${jobId}`,
          },
          (payload) => this.#onRow(jobId, feed, payload.new),
        );
        channel.subscribe((status) => {
          if (this.#feeds.get(jobId) !== feed) return;
          const up = status === 'SUBSCRIBED';
          feed.realtimeUp = up;
          // Read once: inserts between our baseline and the subscription, or during an outage.
          if (up) void this.#pump(jobId, feed);
          this.#schedule(jobId, feed);
        });
      } catch {
        feed.channel = null;
      }
    }
    this.#schedule(jobId, feed);
    return feed;
  }

  #shut(feed: Feed): void {
    if (feed.timer) clearTimeout(feed.timer);
    feed.timer = null;
    if (feed.channel) {
      const channel = feed.channel;
      feed.channel = null;
      try {
        this.#options.closeChannel(channel);
      } catch {
        // Already closed.
      }
    }
  }

  #schedule(jobId: string, feed: Feed): void {
    if (this.#closed || this.#feeds.get(jobId) !== feed) return;
    if (feed.timer) clearTimeout(feed.timer);
    const delay = feed.realtimeUp
      ? this.#options.safetyPollIntervalMs
      : this.#options.pollIntervalMs;
    feed.timer = setTimeout(() => {
      feed.timer = null;
      void this.#pump(jobId, feed).finally(() => this.#schedule(jobId, feed));
    }, delay);
    (feed.timer as { unref?: () => void }).unref?.();
  }

  #deliver(feed: Feed, event: JobEvent): void {
    if (event.id <= feed.last) return;
    feed.last = event.id;
    for (const listener of feed.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's bug must not stop delivery to the others.
      }
    }
  }

  #onRow(jobId: string, feed: Feed, row: Record<string, unknown>): void {
    if (this.#feeds.get(jobId) !== feed) return;
    const event = this.#options.rowToEvent(jobId, row);
    if (!event) {
      // A row we cannot read as it came: the table has it.
      void this.#pump(jobId, feed);
      return;
    }
    if (event.id <= feed.last) return;
    if (event.id === feed.last + 1 && !feed.pumping) this.#deliver(feed, event);
    else void this.#pump(jobId, feed);
  }

  async #pump(jobId: string, feed: Feed): Promise<void> {
    if (feed.pumping) {
      feed.again = true;
      return;
    }
    feed.pumping = true;
    try {
      do {
        feed.again = false;
        for (;;) {
          if (this.#feeds.get(jobId) !== feed) return;
          const events = await this.#options.readEvents(jobId, feed.last, PAGE);
          for (const event of events) this.#deliver(feed, event);
          if (events.length < PAGE) break;
        }
      } while (feed.again);
    } catch {
      // The next poll tries again.
    } finally {
      feed.pumping = false;
    }
  }
}
