import { runJobStoreConformance } from '@jobstream/core/testing';
import { describe } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

// Against the real PostgreSQL server: the peer is a second store with its own pool and
// its own listening connection, as another process would have.
describe.skipIf(skipReason !== null)('PostgresJobStore on PostgreSQL', () => {
  let database: TestDatabase;
  runJobStoreConformance({
    name: 'PostgresJobStore (pg)',
    create: async () => {
      database = await createTestDatabase();
      const store = new PostgresJobStore({ connectionString: database.url });
      await store.migrate();
      return store;
    },
    createPeer: () => new PostgresJobStore({ connectionString: database.url }),
    cleanup: async (store) => {
      await store.close();
      await database.drop();
    },
    listenerCount: (store) => store.listenerCount(),
  });
});
