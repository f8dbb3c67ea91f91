import { runJobStoreOutage } from '@jobstream/core/testing';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe } from 'vitest';
import { SupabaseJobStore } from '../src/index.js';
import { postgrestEmulator, realtimeUnavailable } from './postgrest-emulator.js';
import { closedPort, serviceRoleKey, supabaseClient } from './supabase-client.js';
import { createSupabaseLikeDatabase, skipReason, type TestDatabase } from './test-database.js';

// Supabase's REST edge cannot run here (see postgrest-emulator.ts): msw answers it with the
// same SQL on the real PostgreSQL. The worker's store and the viewer's store use two
// addresses of that one backend, and the cut makes every request to the worker's fail as
// a network error (what supabase-js sees while Supabase restarts or the link is down).
describe.skipIf(skipReason !== null)('Supabase outage', () => {
  let database: TestDatabase;
  let workerUrl: string;
  let viewerUrl: string;
  /** How the worker's address fails while the link is cut. */
  let down: 'network' | 'database' | null = null;
  let worker: SupabaseJobStore;
  let viewer: SupabaseJobStore;
  const server = setupServer();
  const open = (url: string) =>
    new SupabaseJobStore({ client: supabaseClient(url, serviceRoleKey), pollIntervalMs: 50 });

  beforeAll(async () => {
    workerUrl = `http://127.0.0.1:${await closedPort()}`;
    viewerUrl = `http://127.0.0.1:${await closedPort()}`;
    database = await createSupabaseLikeDatabase('jobstream_sb_outage');
    server.listen({ onUnhandledRequest: 'error' });
    server.use(
      // First: while `down`, the worker's address answers nothing (the edge is cut), or
      // answers as PostgREST does while its database restarts (503, PGRST001).
      http.all(`${workerUrl}/*`, () =>
        down === 'network'
          ? HttpResponse.error()
          : down === 'database'
            ? HttpResponse.json(
                {
                  code: 'PGRST001',
                  message: 'Could not connect with the database due to an internal error.',
                  details: null,
                  hint: null,
                },
                { status: 503 },
              )
            : undefined,
      ),
      ...postgrestEmulator(workerUrl, database.admin).handlers,
      ...postgrestEmulator(viewerUrl, database.admin).handlers,
      realtimeUnavailable(workerUrl),
      realtimeUnavailable(viewerUrl),
    );
    worker = open(workerUrl);
    viewer = open(viewerUrl);
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await viewer?.close();
    server.close();
    await database?.drop();
  });

  runJobStoreOutage({
    name: 'SupabaseJobStore (PostgREST emulated, polling fallback)',
    store: () => worker,
    peer: () => viewer,
    cut: () => {
      down = 'network';
    },
    restore: () => {
      down = null;
    },
  });

  // Supabase restarting its database (an upgrade, a resize): the edge is up and PostgREST
  // answers 503 with its own connection error code until PostgreSQL is back.
  runJobStoreOutage({
    name: 'SupabaseJobStore, its database restarting behind PostgREST',
    store: () => worker,
    peer: () => viewer,
    cut: () => {
      down = 'database';
    },
    restore: () => {
      down = null;
    },
  });
});
