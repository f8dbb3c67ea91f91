import { randomUUID } from 'node:crypto';
import { followJob, type JobEvent } from '@jobstream/core';
import { runJobStoreConformance } from '@jobstream/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisJobStore } from '../src/index.js';

const url = process.env.REDIS_URL;
if (!url && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error('REDIS_URL is not set but JOBSTREAM_REQUIRE_SERVICES=1');
}
if (!url)
  console.warn(
    'REDIS_URL not set: skipping the Redis store tests (run through scripts/with-services.mjs).',
  );

// Each test file uses its own key prefix so files sharing one Redis cannot collide.
const prefix = `jobstream-test-${randomUUID()}`;
const connections: Redis[] = [];
function connect(): Redis {
  const redis = new Redis(url as string, { lazyConnect: false, maxRetriesPerRequest: 3 });
  connections.push(redis);
  return redis;
}

describe.skipIf(!url)('RedisJobStore', () => {
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  });

  runJobStoreConformance<RedisJobStore>({
    name: 'RedisJobStore',
    create: () => new RedisJobStore({ redis: connect(), prefix }),
    createPeer: () => new RedisJobStore({ redis: connect(), prefix }),
    cleanup: (store) => store.close(),
    listenerCount: (store) => store.listenerCount(),
  });

  describe('across a dropped pub/sub connection', () => {
    let writer: RedisJobStore;
    let reader: RedisJobStore;
    beforeAll(() => {
      writer = new RedisJobStore({ redis: connect(), prefix });
      reader = new RedisJobStore({ redis: connect(), prefix });
    });
    afterAll(async () => {
      await writer.close();
      await reader.close();
    });

    it('a follower on another store catches up on events committed while its subscriber was down', async () => {
      const { job } = await writer.createJob({
        ownerId: 'u',
        kind: 'k',
        input: null,
        steps: [{ name: 'work' }],
      });
      let version = job.version;
      const commit = async (events: Parameters<RedisJobStore['commit']>[1]['events']) => {
        ({
          job: { version },
        } = await writer.commit(job.id, { expectedVersion: version, events }));
      };
      await commit([
        { type: 'job_started', data: {} },
        { type: 'step_started', data: { step: 'work', stepIndex: 1 } },
      ]);

      const seen: JobEvent[] = [];
      const following = (async () => {
        for await (const event of followJob(reader, job.id)) seen.push(event);
      })();
      while (seen.length < 3) await new Promise((r) => setTimeout(r, 10));

      // Kill the reader's pub/sub connection from the server side, then write the rest,
      // including the terminal event, while it reconnects.
      const clients = (await writer.redis.client('LIST')) as string;
      const subscriberIds = clients
        .split('\n')
        .filter((line) => / sub=[1-9]/.test(line))
        .map((line) => /id=(\d+)/.exec(line)?.[1]);
      expect(subscriberIds.length).toBeGreaterThan(0);
      for (const id of subscriberIds) await writer.redis.client('KILL', 'ID', id as string);
      for (let i = 1; i <= 5; i++) {
        await commit([
          { type: 'step_progress', data: { step: 'work', progress: i * 10, stepProgress: i * 10 } },
        ]);
      }
      await commit([{ type: 'job_completed', data: { result: { ok: true }, totalDuration: 1 } }]);

      await following;
      expect(seen.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(seen.at(-1)?.type).toBe('job_completed');
    }, 20_000);
  });
});

describe.skipIf(!url)('RedisJobStore when ioredis resends a command Redis already ran', () => {
  /** A client that sends each CREATE_JOB twice: what ioredis does when the connection
   * drops after Redis ran the script, before its answer arrived (it resends it after
   * reconnecting, `autoResendUnfulfilledCommands`, on by default). */
  function resendingCreates(): Redis {
    const redis = connect();
    const evalOnce = redis.eval.bind(redis) as (...args: unknown[]) => Promise<unknown>;
    (redis as unknown as { eval: unknown }).eval = async (...args: unknown[]) => {
      if (String(args[0]).includes("'0-1'")) await evalOnce(...args);
      return evalOnce(...args);
    };
    return redis;
  }

  it('createJob answers with the job it created, not a conflict with itself', async () => {
    const store = new RedisJobStore({ redis: resendingCreates(), prefix });
    try {
      const { job, event } = await store.createJob({
        ownerId: 'u',
        kind: 'k',
        input: { exam: 1 },
        steps: [{ name: 'work' }],
      });
      expect(event.type).toBe('job_created');
      expect(await store.readEvents(job.id)).toHaveLength(1);
      expect((await store.getJob(job.id))?.version).toBe(1);
      // Another create with that id is still refused.
      const again = await store
        .createJob({ id: job.id, ownerId: 'u', kind: 'k', input: null, steps: [{ name: 'work' }] })
        .then(
          () => null,
          (e: { code?: string }) => e.code,
        );
      expect(again).toBe('conflict');
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!url)('RedisJobStore after its subscriber reconnects', () => {
  it('an event published before the channels are subscribed again still reaches the listener', async () => {
    // ioredis emits 'ready' and only then sends the SUBSCRIBE that restores the channels.
    // Here that SUBSCRIBE is slow (a busy link): it waits until an event has been committed
    // after the store's catch-up read, or 500 ms, whichever comes first.
    let reconnected = false;
    let markCommitted: () => void = () => {};
    const committed = new Promise<void>((resolve) => {
      markCommitted = resolve;
    });
    const client = connect();
    const duplicate = client.duplicate.bind(client);
    let subscriberOf: Redis | undefined;
    (client as unknown as { duplicate: unknown }).duplicate = (...args: unknown[]) => {
      const subscriber = (duplicate as (...a: unknown[]) => Redis)(...args);
      subscriberOf = subscriber;
      const subscribe = subscriber.subscribe.bind(subscriber) as (...a: unknown[]) => unknown;
      (subscriber as unknown as { subscribe: unknown }).subscribe = async (...a: unknown[]) => {
        if (reconnected) {
          await Promise.race([committed, new Promise((r) => setTimeout(r, 500))]);
        }
        return subscribe(...a);
      };
      return subscriber;
    };
    const store = new RedisJobStore({ redis: client, prefix });
    const writer = new RedisJobStore({ redis: connect(), prefix });
    try {
      const { job } = await writer.createJob({
        ownerId: 'u',
        kind: 'k',
        input: null,
        steps: [{ name: 'work' }],
      });
      const seen: number[] = [];
      const unsubscribe = await store.subscribe(job.id, (event) => seen.push(event.id));
      // The catch-up read after the reconnect is followed by a commit from elsewhere.
      const xrange = client.xrange.bind(client) as (...a: unknown[]) => Promise<unknown>;
      (client as unknown as { xrange: unknown }).xrange = async (...a: unknown[]) => {
        const entries = await xrange(...a);
        if (reconnected) {
          await writer.commit(job.id, {
            expectedVersion: 1,
            events: [{ type: 'job_started', data: {} }],
          });
          markCommitted();
        }
        return entries;
      };
      reconnected = true;
      const id = await subscriberOf?.client('ID');
      await writer.redis.client('KILL', 'ID', String(id));
      const deadline = Date.now() + 5_000;
      while (!seen.includes(2) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(seen).toEqual([2]);
      unsubscribe();
    } finally {
      await store.close();
      await writer.close();
    }
  }, 15_000);
});

describe.skipIf(!url)('RedisJobStore after close()', () => {
  // Found by the client's chaos test: a job still running on a server that had shut down
  // subscribed again after close(), which opened a new pub/sub connection nobody closes
  // (a process that never exits) and left a listener behind.
  it('refuses to subscribe and opens no pub/sub connection again', async () => {
    const name = `jobstream-closed-${randomUUID()}`;
    const redis = new Redis(url as string, { connectionName: name, maxRetriesPerRequest: 3 });
    const store = new RedisJobStore({ redis, prefix });
    const connectionsNamed = async () =>
      String(await redis.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(` name=${name} `)).length;
    try {
      const { job } = await store.createJob({
        ownerId: 'u',
        kind: 'k',
        input: null,
        steps: [{ name: 'work' }],
      });
      const off = await store.subscribe(job.id, () => {});
      off();
      expect(await connectionsNamed()).toBe(2); // the caller's and the store's pub/sub
      await store.close();

      await expect(store.subscribe(job.id, () => {})).rejects.toMatchObject({
        code: 'store_unavailable',
      });
      expect(store.listenerCount()).toBe(0);
      for (let i = 0; (await connectionsNamed()) !== 1; i++) {
        if (i > 100) throw new Error(`${await connectionsNamed()} connections, not 1`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // The caller's client stays theirs and keeps working.
      expect((await store.getJob(job.id))?.id).toBe(job.id);
    } finally {
      await store.close();
      await redis.quit();
    }
  });
});
