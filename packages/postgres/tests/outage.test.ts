import { runJobStoreOutage } from '@jobstream/core/testing';
import { startTcpProxy, type TcpProxy } from '@jobstream/network-testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

// The worker's store reaches PostgreSQL through a TCP proxy that the test cuts (open
// connections reset, new ones refused: a restart, a failover); the peer store, on a
// direct connection, stands for another server instance with a viewer.
describe.skipIf(skipReason !== null)('PostgreSQL outage', () => {
  let database: TestDatabase;
  let direct: PostgresJobStore;
  let proxy: TcpProxy;
  let worker: PostgresJobStore;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_outage');
    direct = new PostgresJobStore({ connectionString: database.url });
    await direct.migrate();
    proxy = await startTcpProxy(new URL(database.url));
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    worker = new PostgresJobStore({ connectionString: proxied.toString() });
  }, 60_000);
  afterAll(async () => {
    await worker?.close();
    await proxy?.close();
    await direct?.close();
    await database?.drop();
  });

  runJobStoreOutage({
    name: 'PostgresJobStore',
    store: () => worker,
    peer: () => direct,
    cut: () => proxy.drop(),
    restore: () => proxy.restore(),
  });
});
