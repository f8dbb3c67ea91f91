import { JobstreamError } from './errors.js';
import { isTerminalEventType, type JobEvent } from './events.js';
import { isTerminalStatus } from './state-machine.js';
import type { JobStore } from './store.js';

export interface FollowJobOptions {
  /** Start after this event id (what a reconnecting client sent as Last-Event-ID). @default 0 */
  after?: number;
  /** Ends the iteration (quietly) and releases the subscription. */
  signal?: AbortSignal;
  /** Events read from the store per round trip while catching up. @default 500 */
  pageSize?: number;
  /**
   * Live events held while the consumer is busy. Past this the buffer is dropped and
   * the follower catches up from the store instead, so memory stays bounded for a slow
   * consumer and nothing is lost. @default 1000
   */
  maxBuffered?: number;
}

/**
 * Reads a job live, the one correct way: subscribe first, then replay what the store
 * holds after `after`, then live events, each id exactly once and in order, ending
 * after a terminal event that is the job's last one (or at once when the job is already
 * finished and nothing is newer than `after`): a `job_failed` that a resume followed is
 * replayed and followed by the resumed run's events. A gap in live delivery, or a buffer overflow, is repaired by
 * reading the store, so an adapter's subscription may be at-most-once.
 *
 * Throws `not_found` when the job does not exist.
 *
 * @example
 * for await (const event of followJob(store, jobId, { after: lastEventId, signal })) send(event);
 */
export async function* followJob(
  store: JobStore,
  jobId: string,
  options: FollowJobOptions = {},
): AsyncGenerator<JobEvent, void, undefined> {
  const { signal } = options;
  let lastId = options.after ?? 0;
  if (!Number.isSafeInteger(lastId) || lastId < 0) {
    throw new JobstreamError('invalid_input', 'after must be a non-negative integer.');
  }
  const pageSize = options.pageSize ?? 500;
  const maxBuffered = options.maxBuffered ?? 1000;
  if (signal?.aborted) return;

  let buffer: JobEvent[] = [];
  let head = 0;
  let mustRead = true;
  let wake: (() => void) | null = null;
  const notify = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };

  const unsubscribe = await store.subscribe(jobId, (event) => {
    if (event.id <= lastId) return;
    if (buffer.length - head >= maxBuffered) {
      buffer = [];
      head = 0;
      mustRead = true;
    } else {
      buffer.push(event);
    }
    notify();
  });
  signal?.addEventListener('abort', notify);

  try {
    const job = await store.getJob(jobId);
    if (!job) throw new JobstreamError('not_found', `Job ${jobId} does not exist.`);
    if (isTerminalStatus(job.status) && lastId >= job.version) return;

    while (!signal?.aborted) {
      if (mustRead) {
        mustRead = false;
        const page = await store.readEvents(jobId, { after: lastId, limit: pageSize });
        for (const [index, event] of page.entries()) {
          if (event.id !== lastId + 1) break;
          lastId = event.id;
          yield event;
          // A job_failed that a resume followed is history, not the end: go on to the
          // job's last event (older than the job's version we read, or not last here).
          const last = index === page.length - 1 && event.id >= job.version;
          if (last && isTerminalEventType(event.type)) return;
          if (signal?.aborted) return;
        }
        if (page.length === pageSize) mustRead = true;
        continue;
      }
      while (head < buffer.length) {
        const event = buffer[head++] as JobEvent;
        if (event.id <= lastId) continue;
        if (event.id !== lastId + 1) {
          // A live delivery was missed: the store has it.
          mustRead = true;
          break;
        }
        lastId = event.id;
        yield event;
        // Live too: a terminal event with a newer one already here was resumed since.
        if (isTerminalEventType(event.type) && !buffer.slice(head).some((e) => e.id > event.id)) {
          return;
        }
        if (signal?.aborted) return;
      }
      if (head >= buffer.length) {
        buffer = [];
        head = 0;
      }
      if (mustRead || signal?.aborted) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener('abort', notify);
    unsubscribe();
  }
}
