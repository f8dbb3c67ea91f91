import { NOTIFY_CHANNEL } from './notification-fan-out.js';
import type { SqlDriver } from './sql-driver.js';

/**
 * Least time from one send to the next. A job committing in a loop finishes a commit about
 * every round trip, so sending whenever the previous send returned would still mean one
 * extra statement per commit; spacing sends by 2 ms batches such bursts (a dozen commits
 * per statement at ~6,000 commits/s) while a commit after a quiet spell goes out at once.
 */
const MIN_GAP_MS = 2;

interface Range {
  first: number;
  last: number;
}

export interface CommitNotifierOptions {
  driver: SqlDriver;
  /** Send the statement as a named prepared statement. */
  prepared: boolean;
  /** First delay before sending again after a failure (doubles up to 5 s). @default 100 */
  retryDelayMs?: number;
  /** Least time between two sends. @default 2 */
  minGapMs?: number;
}

/**
 * Tells LISTENers about commits after they are committed, outside their transactions.
 *
 * PostgreSQL serialises the commits of all transactions that issued NOTIFY, cluster-wide,
 * so a NOTIFY inside every commit makes concurrent commits wait on one another. Here a
 * commit only records its pointer ("<first id>:<last id>:<job id>", merged per job); the
 * pointers go out in one statement once the previous one has returned and at least
 * `MIN_GAP_MS` after it was sent, so a batch is whatever committed meanwhile: a commit
 * after a quiet spell is sent at once, and under load there is one notifying transaction
 * per round trip (or per 2 ms) however many commits there are.
 *
 * Readers read the rows after the last id they delivered, so a merged or repeated pointer
 * is harmless. A pointer can be lost (the process dies before sending it, or the database
 * is away until `close()`): the readers' catch-up poll covers that.
 */
export class CommitNotifier {
  readonly #options: CommitNotifierOptions;
  readonly #pending = new Map<string, Range>();
  #sending: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #lastSent = Number.NEGATIVE_INFINITY;
  #closed = false;
  #batches = 0;

  constructor(options: CommitNotifierOptions) {
    this.#options = options;
  }

  /** Statements sent so far (each carrying the pointers of one or more commits). */
  get batches(): number {
    return this.#batches;
  }

  /** Records that `jobId` committed events `first`…`last`, and sends it soon. */
  notify(jobId: string, first: number, last: number): void {
    this.#merge(jobId, first, last);
    this.#sending ??= this.#send();
  }

  #merge(jobId: string, first: number, last: number): void {
    const range = this.#pending.get(jobId);
    if (range) {
      range.first = Math.min(range.first, first);
      range.last = Math.max(range.last, last);
    } else {
      this.#pending.set(jobId, { first, last });
    }
  }

  /** Sends what is pending (one last try if the database is away), then stops. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#sending;
  }

  /** Waits `ms`, or less if close() is called meanwhile. */
  async #sleep(ms: number): Promise<void> {
    if (this.#closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref?.();
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = null;
  }

  async #send(): Promise<void> {
    let delay = this.#options.retryDelayMs ?? 100;
    const gap = this.#options.minGapMs ?? MIN_GAP_MS;
    try {
      while (this.#pending.size > 0) {
        const wait = this.#lastSent + gap - performance.now();
        if (wait > 0) await this.#sleep(wait);
        const batch = [...this.#pending];
        this.#pending.clear();
        this.#lastSent = performance.now();
        try {
          // One statement, so one transaction and one notification per job.
          await this.#options.driver.notify(
            NOTIFY_CHANNEL,
            batch.map(([jobId, r]) => `${r.first}:${r.last}:${jobId}`),
            this.#options.prepared ? 'jobstream_notify_v1' : undefined,
          );
          this.#batches++;
          delay = this.#options.retryDelayMs ?? 100;
        } catch {
          // The database is away (commits are failing too). Keep the pointers, merged with
          // newer ones, and try again; after close() give up: readers' catch-up poll and
          // reconnect deliver those events anyway.
          if (this.#closed) {
            this.#pending.clear();
            return;
          }
          for (const [jobId, r] of batch) this.#merge(jobId, r.first, r.last);
          await this.#sleep(delay);
          delay = Math.min(delay * 2, 5000);
        }
      }
    } finally {
      this.#sending = null;
    }
  }
}
