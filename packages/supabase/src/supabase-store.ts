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
import { type ChannelLike, LiveEvents } from './live-events.js';
import { type PostgrestErrorLike, toJobstreamError } from './supabase-errors.js';

/** The schema version of the migrations this package ships (`jobstream_schema_version()`). */
export const SCHEMA_VERSION = 2;

interface PostgrestResult {
  data: unknown;
  error: PostgrestErrorLike | null;
}

/**
 * The parts of a supabase-js `SupabaseClient` the store uses, so any 2.x client fits
 * whatever its `Database` type parameter.
 */
export interface SupabaseClientLike {
  rpc(fn: string, args?: Record<string, unknown>): PromiseLike<PostgrestResult>;
  // `any`: supabase-js's builder and channel types depend on the client's Database generic.
  from(relation: string): any;
  channel(name: string, options?: any): any;
  removeChannel(channel: any): Promise<unknown>;
}

export interface SupabaseJobStoreOptions {
  /**
   * A server-side supabase-js client with the service role key (the store writes; RLS
   * lets browsers only read their own jobs). On Node 20 pass a WebSocket transport:
   * `createClient(url, serviceRoleKey, { realtime: { transport: WebSocket } })` with `ws`.
   */
  client: SupabaseClientLike;
  /**
   * How live events arrive: `'realtime'` (Supabase Realtime on `jobstream_events`, with
   * polling whenever the channel is not subscribed) or `'polling'` only.
   * @default 'realtime'
   */
  live?: 'realtime' | 'polling';
  /** Poll interval while Realtime is not (yet) delivering. @default 1000 */
  pollIntervalMs?: number;
  /** Poll interval while Realtime is subscribed: a safety net for a dropped insert. @default 10_000 */
  safetyPollIntervalMs?: number;
  /** Jobs kept so a commit right after a write or read needs no read first. @default 1000 */
  cacheSize?: number;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

interface EventRow {
  seq: number;
  type: string;
  data: unknown;
  at: string;
}

function normaliseDrafts(drafts: readonly EventDraft[] | undefined): readonly EventDraft[] {
  if (!Array.isArray(drafts)) return drafts as unknown as readonly EventDraft[];
  return drafts.map((draft) => {
    const at = (draft as { at?: unknown } | null)?.at;
    if (typeof at !== 'string') return draft;
    const time = Date.parse(at);
    return Number.isNaN(time) ? draft : { ...draft, at: new Date(time).toISOString() };
  });
}

function toEvent(jobId: string, row: EventRow): JobEvent {
  return parseJobEvent({
    id: row.seq,
    jobId,
    type: row.type,
    at: new Date(row.at).toISOString(),
    data: row.data,
  });
}

/**
 * A `JobStore` on Supabase through supabase-js: writes call the migration's SQL functions
 * by RPC (`jobstream_create`, `jobstream_commit`: one transaction each), reads go through
 * PostgREST, live events through Supabase Realtime with a polling fallback.
 *
 * Guarantees: the same as `PostgresJobStore` for writes (atomic commit, exactly one of two
 * commits on a version wins, no half-written job). `subscribe` delivers each committed
 * event once per subscriber and in id order, from Realtime or, when Realtime is down or
 * drops an insert, from polling the events table. Writes do not `NOTIFY` (Realtime does
 * not need it): a `PostgresJobStore` following these jobs on the same database gets them
 * from its catch-up poll only.
 *
 * @example
 * import WebSocket from 'ws';
 * const supabase = createClient(url, process.env.SUPABASE_SERVICE_ROLE_KEY!, {
 *   auth: { persistSession: false }, realtime: { transport: WebSocket },
 * });
 * const store = new SupabaseJobStore({ client: supabase });
 */
export class SupabaseJobStore implements JobStore {
  readonly #client: SupabaseClientLike;
  readonly #live: LiveEvents;
  readonly #recent: RecentJobs;
  readonly #now: () => Date;
  #ready: Promise<void> | null = null;
  #closed = false;

  constructor(options: SupabaseJobStoreOptions) {
    if (!options?.client || typeof options.client.rpc !== 'function') {
      throw new JobstreamError('invalid_input', 'SupabaseJobStore needs { client } (supabase-js).');
    }
    const client = options.client;
    this.#client = client;
    const instance = globalThis.crypto.randomUUID().slice(0, 8);
    let channels = 0;
    this.#recent = new RecentJobs(options.cacheSize ?? 1000);
    this.#now = options.now ?? (() => new Date());
    this.#live = new LiveEvents({
      readEvents: (jobId, after, limit) => this.#readEvents(jobId, after, limit),
      currentVersion: async (jobId) => {
        const { data, error } = await client
          .from('jobstream_jobs')
          .select('version')
          .eq('id', jobId)
          .limit(1);
        if (error) throw toJobstreamError(error, 'subscribe');
        return (data as { version: number }[])[0]?.version ?? 0;
      },
      rowToEvent: (jobId, row) => {
        try {
          return toEvent(jobId, row as unknown as EventRow);
        } catch {
          return null;
        }
      },
      openChannel:
        (options.live ?? 'realtime') === 'realtime'
          ? (jobId) =>
              // supabase-js hands back an existing channel with the same topic: a topic of
              // our own per feed keeps stores that share a client (or a feed re-opened
              // while the old one is still closing) from tearing down each other's channel.
              client.channel(`jobstream:${jobId}:${instance}-${++channels}`) as ChannelLike
          : null,
      closeChannel: (channel) => {
        void client.removeChannel(channel).catch(() => {});
      },
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      safetyPollIntervalMs: options.safetyPollIntervalMs ?? 10_000,
    });
  }

  /**
   * Resolves once the database has the schema version this package expects; rejects with
   * `schema_mismatch` (migrations not applied, or from another version) or
   * `store_unavailable`. Every method waits for it the first time.
   */
  ready(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new JobstreamError('store_unavailable', 'The store is closed.'));
    }
    if (!this.#ready) {
      const check = this.#checkSchema();
      this.#ready = check;
      check.catch(() => {
        if (this.#ready === check) this.#ready = null;
      });
    }
    return this.#ready;
  }

  async #checkSchema(): Promise<void> {
    const { data, error } = await this.#client.rpc('jobstream_schema_version');
    if (error) {
      if (error.code === 'PGRST202' || error.code === '42883') {
        throw new JobstreamError(
          'schema_mismatch',
          'The jobstream schema is not installed in this Supabase project (jobstream_schema_version() is missing). Apply the migrations in @jobstream/supabase/migrations.',
          { cause: error },
        );
      }
      throw toJobstreamError(error, 'schema check');
    }
    const found = Number(data);
    if (found !== SCHEMA_VERSION) {
      throw new JobstreamError(
        'schema_mismatch',
        `The database has jobstream schema version ${found}, but this @jobstream/supabase needs version ${SCHEMA_VERSION}. ${
          found < SCHEMA_VERSION
            ? 'Apply the newer migrations from @jobstream/supabase/migrations.'
            : 'Upgrade @jobstream/supabase in this app.'
        }`,
        { details: { found, expected: SCHEMA_VERSION } },
      );
    }
  }

  async #rpc(context: string, fn: string, args: Record<string, unknown>): Promise<unknown> {
    await this.ready();
    const { data, error } = await this.#client.rpc(fn, args);
    if (error) throw toJobstreamError(error, context);
    return data;
  }

  async createJob(input: NewJob): Promise<{ job: Job; event: JobEvent }> {
    const { job, event } = prepareCreate(input, this.#now());
    await this.#rpc('createJob', 'jobstream_create', {
      p_job: job,
      p_event: event,
      // Realtime streams the inserted rows from the WAL; a NOTIFY would only make commits
      // across the whole database wait for one another.
      p_notify: false,
    });
    this.#recent.remember(job);
    return { job, event };
  }

  async getJob(id: string): Promise<Job | null> {
    await this.ready();
    const { data, error } = await this.#client
      .from('jobstream_jobs')
      .select('record')
      .eq('id', id)
      .limit(1);
    if (error) throw toJobstreamError(error, 'getJob');
    const row = (data as { record: unknown }[])[0];
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
      await this.#rpc('commit', 'jobstream_commit', {
        p_job_id: jobId,
        p_expected_version: expected,
        p_job: job,
        p_events: events,
        p_notify: false,
      });
    } catch (error) {
      this.#recent.forget(jobId);
      throw error;
    }
    this.#recent.remember(job);
    return { job, events };
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
    const { data, error } = await this.#client
      .from('jobstream_events')
      .select('seq,type,data,at')
      .eq('job_id', jobId)
      .gt('seq', after)
      .order('seq', { ascending: true })
      .limit(limit);
    if (error) throw toJobstreamError(error, 'readEvents');
    return (data as EventRow[]).map((row) => toEvent(jobId, row));
  }

  async subscribe(jobId: string, onEvent: EventListener): Promise<() => void> {
    await this.ready();
    if (this.#closed) throw new JobstreamError('store_unavailable', 'The store is closed.');
    return this.#live.subscribe(jobId, onEvent);
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<ListJobsPage> {
    const limit = pageSize(filter.limit);
    const statuses = statusFilter(filter);
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : null;
    const data = await this.#rpc('listJobs', 'jobstream_list_jobs', {
      p_owner_id: filter.ownerId ?? null,
      p_statuses: statuses ? [...statuses] : null,
      p_kind: filter.kind ?? null,
      p_before_created_at: cursor?.createdAt ?? null,
      p_before_id: cursor?.id ?? null,
      p_limit: limit + 1,
    });
    const records = (data ?? []) as unknown[];
    const jobs = records.slice(0, limit).map((record) => parseJob(record));
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: records.length > limit && last ? encodeCursor(last) : null };
  }

  async deleteJobs(filter: DeleteJobsFilter): Promise<number> {
    const before = toDate(filter?.finishedBefore, 'finishedBefore');
    const data = await this.#rpc('deleteJobs', 'jobstream_delete_finished', {
      p_before: before.toISOString(),
    });
    return Number(data ?? 0);
  }

  /** Live subscriptions (the conformance suite checks that none leak). */
  listenerCount(): number {
    return this.#live.listenerCount;
  }

  /** Jobs currently receiving events through Realtime rather than polling. */
  realtimeJobCount(): number {
    return this.#live.realtimeJobs;
  }

  /** Stops polling and removes this store's Realtime channels. The client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#recent.clear();
    this.#live.close();
  }
}
