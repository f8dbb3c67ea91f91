import pg from 'pg';

/** How long the store's own pool waits to open a connection. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

/**
 * What the store needs from a database connection. Two implementations: `pg` (a pool for
 * queries plus one dedicated listening connection) and PGlite (one embedded instance).
 */
export interface SqlDriver {
  /**
   * One statement with `$n` parameters; the rows as plain objects. A `name` makes it a
   * prepared statement (parsed once per connection) where the driver supports that.
   */
  query<R extends Record<string, unknown>>(
    text: string,
    params?: unknown[],
    name?: string,
  ): Promise<R[]>;
  /**
   * Runs multi-statement scripts, in order, in one transaction, under a lock shared by all
   * migrators (so nobody ever sees a state between two of them).
   */
  runScripts(scripts: readonly string[]): Promise<void>;
  /**
   * Opens the listening connection: `onPayload` gets each notification on `channel`;
   * `onLost` is called once if the connection drops afterwards. Resolves once listening.
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    onLost: (error: unknown) => void,
  ): Promise<() => Promise<void>>;
  /**
   * Sends one notification per payload on `channel`, in one statement. Goes through the
   * listening connection while one is open (it is idle, so the notification does not queue
   * behind the pool's commits), through the pool otherwise.
   */
  notify(channel: string, payloads: readonly string[], name?: string): Promise<void>;
  /** Releases what the driver opened itself (never a pool or PGlite the caller passed in). */
  close(): Promise<void>;
}

// Any 64-bit key will do: it only has to be the same for every jobstream migrator.
const MIGRATION_LOCK = 'select pg_advisory_xact_lock(7245915374619834205)';

/** One statement, one transaction, one notification per payload. */
const NOTIFY_BATCH = 'select pg_notify($1, p) from unnest($2::text[]) p';

export class PgDriver implements SqlDriver {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #clientConfig: pg.ClientConfig;
  /** The listening connection while it is open and LISTENing. */
  #listener: pg.Client | null = null;

  constructor(
    options: { pool: pg.Pool } | { connectionString: string; poolConfig?: pg.PoolConfig },
  ) {
    if ('pool' in options) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else {
      this.#pool = new pg.Pool({
        // pg waits for a connection for ever by default: a database whose packets are
        // dropped (not refused) would hold every call, and a job's outage wait, for
        // minutes. Past this the call fails with store_unavailable.
        ...options.poolConfig,
        connectionTimeoutMillis:
          options.poolConfig?.connectionTimeoutMillis ?? DEFAULT_CONNECTION_TIMEOUT_MS,
        connectionString: options.connectionString,
      });
      this.#ownsPool = true;
      // An idle connection killed by the server must not crash the process: the pool
      // drops it and opens another on the next query.
      this.#pool.on('error', () => {});
    }
    this.#clientConfig = {
      ...(this.#pool as unknown as { options: pg.ClientConfig }).options,
      application_name: 'jobstream-listener',
    };
  }

  async query<R extends Record<string, unknown>>(
    text: string,
    params?: unknown[],
    name?: string,
  ): Promise<R[]> {
    const result = await this.#pool.query(
      name ? { name, text, values: params } : { text, values: params },
    );
    return result.rows as R[];
  }

  async runScripts(scripts: readonly string[]): Promise<void> {
    const client = await this.#pool.connect();
    let broken: unknown;
    try {
      await client.query('begin');
      await client.query(MIGRATION_LOCK);
      for (const sql of scripts) await client.query(sql);
      await client.query('commit');
    } catch (error) {
      broken = error;
      await client.query('rollback').catch(() => {});
      throw error;
    } finally {
      client.release(broken instanceof Error && !('code' in broken) ? broken : undefined);
    }
  }

  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    onLost: (error: unknown) => void,
  ): Promise<() => Promise<void>> {
    const client = new pg.Client(this.#clientConfig);
    let closing = false;
    let lost = false;
    const lose = (error: unknown) => {
      if (this.#listener === client) this.#listener = null;
      if (closing || lost) return;
      lost = true;
      client.end().catch(() => {});
      onLost(error);
    };
    client.on('error', lose);
    client.on('end', () => lose(new Error('listening connection ended')));
    client.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined) onPayload(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      closing = true;
      await client.end().catch(() => {});
      throw error;
    }
    if (!lost) this.#listener = client;
    return async () => {
      closing = true;
      if (this.#listener === client) this.#listener = null;
      await client.end().catch(() => {});
    };
  }

  async notify(channel: string, payloads: readonly string[], name?: string): Promise<void> {
    const values = [channel, payloads];
    const listener = this.#listener;
    if (listener) await listener.query({ text: NOTIFY_BATCH, values });
    else
      await this.#pool.query(
        name ? { name, text: NOTIFY_BATCH, values } : { text: NOTIFY_BATCH, values },
      );
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

/** The part of PGlite's API the store uses (structural, so PGlite stays an optional peer). */
export interface PGliteLike {
  query<T>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
  transaction<T>(fn: (tx: { exec(sql: string): Promise<unknown> }) => Promise<T>): Promise<T>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

export class PGliteDriver implements SqlDriver {
  readonly #db: PGliteLike;

  constructor(db: PGliteLike) {
    this.#db = db;
  }

  async query<R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]> {
    const result = await this.#db.query<R>(text, params);
    return result.rows;
  }

  async runScripts(scripts: readonly string[]): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.exec(MIGRATION_LOCK);
      for (const sql of scripts) await tx.exec(sql);
    });
  }

  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    _onLost: (error: unknown) => void,
  ): Promise<() => Promise<void>> {
    // An embedded database has no connection to lose.
    return this.#db.listen(channel, onPayload);
  }

  async notify(channel: string, payloads: readonly string[]): Promise<void> {
    await this.#db.query(NOTIFY_BATCH, [channel, payloads]);
  }

  async close(): Promise<void> {}
}
