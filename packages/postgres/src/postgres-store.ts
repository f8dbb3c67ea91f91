import {
  type CommitRequest,
  checkReadOptions,
  type DeleteJobsFilter,
  decodeCursor,
  type EventDraft,
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
  parseJobEvent,
  prepareCommit,
  prepareCreate,
  RecentJobs,
  statusFilter,
  toDate,
} from '@jobstream/core';
import type pg from 'pg';
import { CommitNotifier } from './commit-notifier.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.generated.js';
import { NotificationFanOut } from './notification-fan-out.js';
import { toJobstreamError } from './pg-errors.js';
import { PGliteDriver, type PGliteLike, PgDriver, type SqlDriver } from './sql-driver.js';

interface CommonOptions {
  /**
   * Jobs this store wrote or read last, kept so a commit right after needs no read first
   * (the SQL still checks the version, so a stale copy only costs a conflict).
   * @default 1000
   */
  cacheSize?: number;
  /** First delay before re-opening a dropped listening connection (doubles up to 5 s). @default 100 */
  reconnectDelayMs?: number;
  /**
   * When listeners in other processes hear of a commit.
   *
   * - `'after-commit'`: the commit's transaction does not `NOTIFY`. Once it has committed,
   *   the store sends its pointer, together with those of every other commit that finished
   *   while the previous send was on its way (one statement, one round trip). Concurrent
   *   commits do not wait for one another, and a subscriber hears of a commit about one
   *   round trip later than with `'in-transaction'`. If this process dies (or loses the
   *   database) between a commit and its notification, other processes' subscribers get
   *   those events from their catch-up poll instead, up to `catchUpIntervalMs` late.
   * - `'in-transaction'`: `jobstream_commit` notifies inside the commit's transaction, so
   *   the notification is exactly as durable as the commit. PostgreSQL then serialises the
   *   commits of all notifying transactions cluster-wide (a lock held through the commit,
   *   WAL flush included), which caps the commit rate of concurrent jobs.
   *
   * Either way a subscriber receives every event once and in order; only the wake-up
   * differs. Stores in both modes can share a database.
   * @default 'after-commit'
   * @example
   * new PostgresJobStore({ connectionString, notify: 'in-transaction' })
   */
  notify?: 'after-commit' | 'in-transaction';
  /**
   * While this store has subscribers, it reads the versions of every job they follow (one
   * query per 1,000 jobs) this often, and delivers events no notification announced: those
   * of a writer that died between its commit and its after-commit notification. 0 turns the
   * poll off (then such events wait for the job's next commit).
   * @default 5000
   */
  catchUpIntervalMs?: number;
  /**
   * Use named prepared statements for the hot queries (commit, getJob, readEvents), which
   * saves parsing them on every call. Turn off behind a pooler in transaction mode that
   * does not support them (PgBouncer before 1.21, or without `max_prepared_statements`).
   * @default true
   */
  preparedStatements?: boolean;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

export type PostgresJobStoreOptions = CommonOptions &
  (
    | {
        /** e.g. `process.env.DATABASE_URL`. The store opens (and closes) its own pool. */
        connectionString: string;
        /** Extra `pg.Pool` settings (size, timeouts, ssl) for the store's own pool. */
        poolConfig?: pg.PoolConfig;
      }
    | {
        /** Your `pg.Pool`. The store never ends it; it opens one more connection to LISTEN. */
        pool: pg.Pool;
      }
    | {
        /** A PGlite instance: an embedded, durable PostgreSQL for development and tests. */
        pglite: PGliteLike;
      }
  );

interface EventRow extends Record<string, unknown> {
  seq: number;
  type: string;
  data: unknown;
  at: Date | string;
}

function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** Timestamps are stored as timestamptz (milliseconds), so `at` is normalised up front. */
function normaliseDrafts(drafts: readonly EventDraft[] | undefined): readonly EventDraft[] {
  if (!Array.isArray(drafts)) return drafts as unknown as readonly EventDraft[];
  return drafts.map((draft) => {
    const at = (draft as { at?: unknown } | null)?.at;
    if (typeof at !== 'string') return draft;
    const time = Date.parse(at);
    return Number.isNaN(time) ? draft : { ...draft, at: new Date(time).toISOString() };
  });
}

/**
 * A `JobStore` on PostgreSQL (through `pg`, or embedded through PGlite), with the schema
 * of `@jobstream/supabase`'s migrations.
 *
 * Guarantees:
 * - `createJob` and `commit` are each one SQL function call, so one transaction: the
 *   version check, the appended events and the folded job record are written together or
 *   not at all (a connection dropped mid-commit leaves nothing). Of two commits on one
 *   version exactly one wins: the other's UPDATE re-checks the version after the row lock.
 * - `getJob` reads one row, so it never sees a half-written job.
 * - `subscribe` delivers events committed by any process on the same database, once each
 *   and in id order per job, through one LISTEN connection per store (notifications carry
 *   only a pointer; the events are read from the table). After that connection drops, it
 *   reconnects and delivers what was committed meanwhile. Commits of this store reach its
 *   own subscribers without waiting for the notification.
 * - Notifications are sent after the commit by default (`notify`), batched: a writer that
 *   dies between a commit and its notification delays those events for other processes'
 *   subscribers by up to `catchUpIntervalMs` (their catch-up poll), never loses them.
 * - A schema older or newer than this package rejects every call with `schema_mismatch`
 *   (call `ready()` at start-up to find out at once).
 *
 * @example
 * const store = new PostgresJobStore({ connectionString: process.env.DATABASE_URL! });
 * await store.migrate(); // or apply @jobstream/supabase's migrations with your tooling
 */
export class PostgresJobStore implements JobStore {
  readonly #driver: SqlDriver;
  readonly #fanOut: NotificationFanOut;
  readonly #notifier: CommitNotifier | null;
  readonly #recent: RecentJobs;
  readonly #now: () => Date;
  readonly #prepared: boolean;
  #ready: Promise<void> | null = null;
  #closed = false;

  constructor(options: PostgresJobStoreOptions) {
    if ('pglite' in options && options.pglite) this.#driver = new PGliteDriver(options.pglite);
    else if ('pool' in options && options.pool) this.#driver = new PgDriver({ pool: options.pool });
    else if ('connectionString' in options && typeof options.connectionString === 'string') {
      this.#driver = new PgDriver({
        connectionString: options.connectionString,
        poolConfig: options.poolConfig,
      });
    } else {
      throw new JobstreamError(
        'invalid_input',
        'PostgresJobStore needs { connectionString }, { pool } or { pglite }.',
      );
    }
    this.#recent = new RecentJobs(options.cacheSize ?? 1000);
    this.#prepared = options.preparedStatements ?? true;
    this.#now = options.now ?? (() => new Date());
    const notify = options.notify ?? 'after-commit';
    if (notify !== 'after-commit' && notify !== 'in-transaction') {
      throw new JobstreamError(
        'invalid_input',
        `notify must be 'after-commit' or 'in-transaction', not ${String(notify)}.`,
      );
    }
    this.#notifier =
      notify === 'after-commit'
        ? new CommitNotifier({ driver: this.#driver, prepared: this.#prepared })
        : null;
    this.#fanOut = new NotificationFanOut({
      driver: this.#driver,
      readEvents: (jobId, after, limit) => this.#readEvents(jobId, after, limit),
      currentVersion: async (jobId) => {
        const rows = await this.#driver.query<{ version: number }>(
          'select version from public.jobstream_jobs where id = $1',
          [jobId],
        );
        return rows[0]?.version ?? 0;
      },
      currentVersions: async (jobIds) => {
        const rows = await this.#driver.query<{ id: string; version: number }>(
          'select id, version from public.jobstream_jobs where id = any($1::text[])',
          [jobIds],
        );
        return new Map(rows.map((row) => [row.id, row.version]));
      },
      reconnectDelayMs: options.reconnectDelayMs,
      catchUpIntervalMs: options.catchUpIntervalMs,
    });
  }

  /** The schema version this package expects. */
  static readonly schemaVersion: number = SCHEMA_VERSION;

  /**
   * Applies the schema (the same SQL as `@jobstream/supabase/migrations`, every file in
   * name order), idempotently, in one transaction, under an advisory lock so concurrent
   * start-ups do not race. A database on an older schema version is brought up to date.
   */
  async migrate(): Promise<void> {
    try {
      await this.#driver.runScripts(MIGRATIONS.map((migration) => migration.sql));
    } catch (error) {
      throw toJobstreamError(error, 'migrate');
    }
    this.#ready = null;
  }

  /**
   * Resolves once the database answers with the schema version this package expects;
   * rejects with `schema_mismatch` (not migrated, or migrated by another version) or
   * `store_unavailable`. Every method waits for this check the first time.
   */
  ready(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new JobstreamError('store_unavailable', 'The store is closed.'));
    }
    if (!this.#ready) {
      const check = this.#checkSchema();
      this.#ready = check;
      // A failed check is tried again on the next call (the database may come back).
      check.catch(() => {
        if (this.#ready === check) this.#ready = null;
      });
    }
    return this.#ready;
  }

  async #checkSchema(): Promise<void> {
    let found: number;
    try {
      const rows = await this.#driver.query<{ v: number }>(
        'select public.jobstream_schema_version() as v',
      );
      found = Number(rows[0]?.v);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === '42883' || code === '3F000') {
        throw new JobstreamError(
          'schema_mismatch',
          `The jobstream schema is not installed in this database (jobstream_schema_version() is missing). Run store.migrate(), or apply the migrations of @jobstream/supabase.`,
          { cause: error },
        );
      }
      throw toJobstreamError(error, 'schema check');
    }
    if (found !== SCHEMA_VERSION) {
      throw new JobstreamError(
        'schema_mismatch',
        `The database has jobstream schema version ${found}, but this @jobstream/postgres needs version ${SCHEMA_VERSION}. ${
          found < SCHEMA_VERSION
            ? 'Run store.migrate() (or apply the newer migrations).'
            : 'Upgrade @jobstream/postgres in this app.'
        }`,
        { details: { found, expected: SCHEMA_VERSION } },
      );
    }
  }

  async #query<R extends Record<string, unknown>>(
    context: string,
    text: string,
    params?: unknown[],
    name?: string,
  ): Promise<R[]> {
    await this.ready();
    try {
      return await this.#driver.query<R>(text, params, this.#prepared ? name : undefined);
    } catch (error) {
      throw toJobstreamError(error, context);
    }
  }

  async createJob(input: NewJob): Promise<{ job: Job; event: JobEvent }> {
    const { job, event } = prepareCreate(input, this.#now());
    await this.#query(
      'createJob',
      'select public.jobstream_create($1::jsonb, $2::jsonb, $3::boolean)',
      [JSON.stringify(job), JSON.stringify(event), this.#notifier === null],
    );
    this.#recent.remember(job);
    this.#committed(job.id, 1, 1);
    return { job, event };
  }

  async getJob(id: string): Promise<Job | null> {
    const rows = await this.#query<{ record: unknown }>(
      'getJob',
      'select record from public.jobstream_jobs where id = $1',
      [id],
      'jobstream_get_job_v1',
    );
    const row = rows[0];
    if (!row) {
      this.#recent.forget(id);
      return null;
    }
    const job = parseJob(row.record);
    this.#recent.remember(job);
    return job;
  }

  async commit(jobId: string, request: CommitRequest): Promise<{ job: Job; events: JobEvent[] }> {
    const expected = request?.expectedVersion;
    const current = this.#recent.at(jobId, expected) ?? (await this.getJob(jobId));
    const { job, events } = prepareCommit(
      current,
      jobId,
      expected,
      normaliseDrafts(request?.events),
      this.#now(),
    );
    try {
      await this.#query(
        'commit',
        'select public.jobstream_commit($1, $2, $3::jsonb, $4::jsonb, $5::boolean)',
        [jobId, expected, JSON.stringify(job), JSON.stringify(events), this.#notifier === null],
        'jobstream_commit_v2',
      );
    } catch (error) {
      this.#recent.forget(jobId);
      throw error;
    }
    this.#recent.remember(job);
    this.#committed(jobId, expected + 1, job.version);
    return { job, events };
  }

  /** Events `first`…`last` of `jobId` are committed: tell this store's and others' subscribers. */
  #committed(jobId: string, first: number, last: number): void {
    this.#notifier?.notify(jobId, first, last);
    this.#fanOut.announce(jobId, last);
  }

  async readEvents(
    jobId: string,
    options: { after?: number; limit?: number } = {},
  ): Promise<JobEvent[]> {
    const { after, limit } = checkReadOptions(options.after, options.limit);
    await this.ready();
    return this.#readEvents(jobId, after, limit);
  }

  async #readEvents(jobId: string, after: number, limit: number): Promise<JobEvent[]> {
    let rows: EventRow[];
    try {
      rows = await this.#driver.query<EventRow>(
        'select seq, type, data, at from public.jobstream_events where job_id = $1 and seq > $2 order by seq limit $3',
        [jobId, after, limit],
        this.#prepared ? 'jobstream_read_events_v1' : undefined,
      );
    } catch (error) {
      throw toJobstreamError(error, 'readEvents');
    }
    return rows.map((row) =>
      parseJobEvent({ id: row.seq, jobId, type: row.type, at: iso(row.at), data: row.data }),
    );
  }

  async subscribe(jobId: string, onEvent: EventListener): Promise<() => void> {
    await this.ready();
    return this.#fanOut.subscribe(jobId, onEvent);
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<ListJobsPage> {
    const limit = pageSize(filter.limit);
    const statuses = statusFilter(filter);
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : null;
    const rows = await this.#query<{ record: unknown }>(
      'listJobs',
      'select r as record from public.jobstream_list_jobs($1, $2::text[], $3, $4::timestamptz, $5, $6) r',
      [
        filter.ownerId ?? null,
        statuses ? [...statuses] : null,
        filter.kind ?? null,
        cursor?.createdAt ?? null,
        cursor?.id ?? null,
        limit + 1,
      ],
    );
    const jobs = rows.slice(0, limit).map((row) => parseJob(row.record));
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async deleteJobs(filter: DeleteJobsFilter): Promise<number> {
    const before = toDate(filter?.finishedBefore, 'finishedBefore');
    const rows = await this.#query<{ n: number }>(
      'deleteJobs',
      'select public.jobstream_delete_finished($1::timestamptz) as n',
      [before.toISOString()],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Live subscriptions (the conformance suite checks that none leak). */
  listenerCount(): number {
    return this.#fanOut.listenerCount;
  }

  /** How many times the listening connection was re-established after a drop. */
  get reconnects(): number {
    return this.#fanOut.reconnects;
  }

  /**
   * With `notify: 'after-commit'`, how many notifying statements this store has sent (each
   * carries the pointers of every commit that finished since the previous one); 0 otherwise.
   */
  get notifyBatches(): number {
    return this.#notifier?.batches ?? 0;
  }

  /** How many times the catch-up poll found a followed job ahead of every notification. */
  get catchUps(): number {
    return this.#fanOut.catchUps;
  }

  /**
   * Sends the notifications still pending, then closes the listening connection, and the
   * pool if the store opened it. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#recent.clear();
    await this.#notifier?.close();
    await this.#fanOut.close();
    await this.#driver.close();
  }
}
