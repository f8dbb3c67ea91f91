// close() while calls are in flight: a server shutting down with a job still running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

describe.skipIf(skipReason !== null)('PostgresJobStore.close()', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('jobstream_close');
    const setup = new PostgresJobStore({ connectionString: database.url });
    await setup.migrate();
    await setup.close();
  });
  afterAll(async () => {
    await database?.drop();
  });

  // Found by the client's chaos test: a closed instance's store still counted a listener.
  const cases = [
    // The first subscribe opens the listening connection; close() runs meanwhile.
    ['a subscribe that was on its way when close() ran leaves no listener behind', false],
    ['and so does one whose listening connection was already open', true],
  ] as const;
  for (const [name, listening] of cases) {
    it(name, async () => {
      const store = new PostgresJobStore({ connectionString: database.url });
      const { job } = await store.createJob({
        ownerId: 'u',
        kind: 'k',
        input: null,
        steps: [{ name: 'work' }],
      });
      if (listening) (await store.subscribe(job.id, () => {}))();
      const subscribing = store
        .subscribe(job.id, () => {})
        .then(
          () => 'subscribed',
          (error: unknown) => error,
        );
      await store.close();
      expect(await subscribing).toMatchObject({ code: 'store_unavailable' });
      expect(store.listenerCount()).toBe(0);
    });
  }
});
