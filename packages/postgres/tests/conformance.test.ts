import { runJobStoreConformance } from '@jobstream/core/testing';
import { describe } from 'vitest';
import { PostgresJobStore, type PostgresJobStoreOptions } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

// Against the real PostgreSQL server: the peer is a second store with its own pool and
// its own listening connection, as another process would have. Both ways of notifying.
for (const notify of ['after-commit', 'in-transaction'] as const) {
  describe.skipIf(skipReason !== null)(`PostgresJobStore on PostgreSQL, notify ${notify}`, () => {
    let database: TestDatabase;
    const options = (): PostgresJobStoreOptions => ({ connectionString: database.url, notify });
    runJobStoreConformance({
      name: `PostgresJobStore (pg, notify ${notify})`,
      create: async () => {
        database = await createTestDatabase();
        const store = new PostgresJobStore(options());
        await store.migrate();
        return store;
      },
      createPeer: () => new PostgresJobStore(options()),
      cleanup: async (store) => {
        await store.close();
        await database.drop();
      },
      listenerCount: (store) => store.listenerCount(),
    });
  });
}
