import { runJobStoreConformance } from '@jobstream/core/testing';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe } from 'vitest';
import { SupabaseJobStore } from '../src/index.js';
import { postgrestEmulator, realtimeUnavailable } from './postgrest-emulator.js';
import { closedPort, serviceRoleKey, supabaseClient } from './supabase-client.js';
import { createSupabaseLikeDatabase, skipReason, type TestDatabase } from './test-database.js';

// supabase-js talks HTTP to PostgREST, answered here by running the same SQL on the real
// PostgreSQL (see postgrest-emulator.ts). Realtime cannot run here: its WebSocket upgrade
// fails like an unreachable service, so every live event in this suite arrives through the
// polling fallback, which is the path that has to be right when Realtime is down.
describe.skipIf(skipReason !== null)('SupabaseJobStore against PostgreSQL', () => {
  let database: TestDatabase;
  let url: string;
  const server = setupServer();

  beforeAll(async () => {
    url = `http://127.0.0.1:${await closedPort()}`;
    server.listen({ onUnhandledRequest: 'error' });
  });
  afterAll(() => server.close());

  const open = () =>
    new SupabaseJobStore({ client: supabaseClient(url, serviceRoleKey), pollIntervalMs: 50 });

  runJobStoreConformance({
    name: 'SupabaseJobStore (PostgREST emulated on PostgreSQL, polling fallback)',
    create: async () => {
      database = await createSupabaseLikeDatabase('jobstream_sb_conf');
      server.use(...postgrestEmulator(url, database.admin).handlers, realtimeUnavailable(url));
      return open();
    },
    // Another server instance: its own supabase-js client, cache and subscriptions.
    createPeer: () => open(),
    cleanup: async (store) => {
      await store.close();
      await database.drop();
    },
    listenerCount: (store) => store.listenerCount(),
    timeoutMs: 30_000,
  });
});
