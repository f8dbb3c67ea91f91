import net from 'node:net';
import { isJobstreamError } from '@jobstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';

// A "database" that accepts the TCP connection and never says a word: what a client sees
// when packets are dropped mid-way (a dead host behind a load balancer, a half-done
// failover). pg alone would wait for ever; the store's pool gives up and says so. No
// PostgreSQL is needed: the point is that nothing answers.
describe('PostgresJobStore against a database that never answers', () => {
  let silent: net.Server;
  const sockets = new Set<net.Socket>();
  let port = 0;

  beforeAll(async () => {
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const cases = [
    ['after the pool timeout it is given', { connectionTimeoutMillis: 300 }],
    // pg alone waits for ever; the store's pool gives up after 10 s.
    ['after 10 s with the default pool', undefined],
  ] as const;
  for (const [when, poolConfig] of cases) {
    it(`a call fails with store_unavailable ${when}, not never`, async () => {
      const store = new PostgresJobStore({
        connectionString: `postgres://u:p@127.0.0.1:${port}/db`,
        ...(poolConfig ? { poolConfig } : {}),
      });
      try {
        const error = await store.getJob('j1').then(
          () => null,
          (e: unknown) => e,
        );
        expect(isJobstreamError(error, 'store_unavailable'), String(error)).toBe(true);
      } finally {
        await store.close();
      }
    }, 30_000);
  }
});
