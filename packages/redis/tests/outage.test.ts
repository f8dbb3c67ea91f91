import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { isJobstreamError, JobstreamError, ProgressTracker } from '@jobstream/core';
import { runJobStoreOutage } from '@jobstream/core/testing';
import { startTcpProxy, type TcpProxy } from '@jobstream/network-testing';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisJobStore } from '../src/index.js';

const url = process.env.REDIS_URL;
if (!url && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error('REDIS_URL is not set but JOBSTREAM_REQUIRE_SERVICES=1');
}

// The worker's store reaches Redis through a TCP proxy that the test cuts (open
// connections reset, new ones refused: a restart, a failover); the peer store, on a
// direct connection, stands for another server instance with a viewer.
const clients: Record<string, RedisOptions> = {
  // ioredis queues commands while it reconnects and resends unanswered ones after.
  'ioredis defaults': {},
  // Fails each command after one reconnect attempt: the store says store_unavailable
  // and the job's tracker waits.
  'maxRetriesPerRequest: 1': { maxRetriesPerRequest: 1 },
};

for (const [label, redisOptions] of Object.entries(clients)) {
  describe.skipIf(!url)(`Redis outage, ${label}`, () => {
    const prefix = `jobstream-outage-${randomUUID()}`;
    let proxy: TcpProxy;
    let worker: RedisJobStore;
    let direct: RedisJobStore;

    beforeAll(async () => {
      proxy = await startTcpProxy(new URL(url as string));
      const proxied = new URL(url as string);
      proxied.hostname = '127.0.0.1';
      proxied.port = String(proxy.port);
      const redis = new Redis(proxied.toString(), redisOptions);
      // The app's client: ioredis logs every reconnect failure unless someone listens.
      redis.on('error', () => {});
      worker = new RedisJobStore({ redis, prefix });
      direct = new RedisJobStore({ redis: new Redis(url as string), prefix });
    });
    afterAll(async () => {
      for (const store of [worker, direct]) {
        await store?.close();
        store?.redis.disconnect();
      }
      await proxy?.close();
    });

    runJobStoreOutage({
      name: `RedisJobStore (${label})`,
      store: () => worker,
      peer: () => direct,
      cut: () => proxy.drop(),
      restore: () => proxy.restore(),
    });
  });
}

/**
 * A store whose Redis is reached through a TCP proxy the test cuts (a client that fails
 * fast, as the README advises for a server), and a store on a direct connection beside it
 * (another instance).
 */
async function behindProxy(storeOptions: { subscriberReadyTimeoutMs?: number } = {}) {
  const proxy = await startTcpProxy(new URL(url as string));
  const proxied = new URL(url as string);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  const redis = new Redis(proxied.toString(), { maxRetriesPerRequest: 1 });
  redis.on('error', () => {}); // the app's client: ioredis logs every failed reconnect otherwise
  const prefix = `jobstream-outage-${randomUUID()}`;
  const store = new RedisJobStore({ redis, prefix, ...storeOptions });
  const direct = new RedisJobStore({ redis: new Redis(url as string), prefix });
  const { job } = await direct.createJob({
    ownerId: 'u1',
    kind: 'k',
    input: null,
    steps: [{ name: 'a' }],
  });
  return {
    proxy,
    redis,
    store,
    direct,
    job,
    prefix,
    async close() {
      proxy.restore();
      await store.close();
      await direct.close();
      redis.disconnect();
      direct.redis.disconnect();
      await proxy.close();
    },
  };
}

describe.skipIf(!url)('Redis outage between the two reads of listJobs', () => {
  it('listJobs rejects with store_unavailable, not a page that silently lacks the jobs', async () => {
    const proxy = await startTcpProxy(new URL(url as string));
    const proxied = new URL(url as string);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const redis = new Redis(proxied.toString(), { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    const store = new RedisJobStore({ redis, prefix: `jobstream-outage-${randomUUID()}` });
    try {
      const ownerId = `owner-${randomUUID()}`;
      for (let i = 0; i < 3; i++) {
        await store.createJob({ ownerId, kind: 'k', input: null, steps: [{ name: 'a' }] });
      }
      // The link drops right after the index was read, before the jobs are.
      const readIndex = redis.zrevrangebylex.bind(redis) as (
        ...args: unknown[]
      ) => Promise<unknown>;
      (redis as unknown as { zrevrangebylex: unknown }).zrevrangebylex = async (
        ...args: unknown[]
      ) => {
        const members = await readIndex(...args);
        proxy.drop();
        return members;
      };
      const outcome = await store.listJobs({ ownerId, status: ['pending', 'running'] }).then(
        (page) => `${page.jobs.length} jobs`,
        (e: { code?: string }) => e.code,
      );
      expect(outcome).toBe('store_unavailable');
    } finally {
      proxy.restore();
      await store.close();
      redis.disconnect();
      await proxy.close();
    }
  });
});

/** A loopback port nothing listens on (the failed-over primary's old peer). */
const closedPort = 1;

/**
 * A Redis of our own, for tests that reconfigure it: the store's client fails fast (as
 * the README advises for a server), and `admin` changes the server under it.
 */
async function privateRedis() {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const admin = new Redis({ port, host: '127.0.0.1' });
  admin.on('error', () => {});
  const store = new RedisJobStore({ redis, prefix: `jobstream-private-${randomUUID()}` });
  return {
    admin,
    store,
    async close() {
      await store.close();
      redis.disconnect();
      admin.disconnect();
      server.kill();
    },
  };
}

/**
 * Runs a job to its first step while `refuse` makes Redis turn writes away and `allow`
 * (300 ms later) ends that: the step's write must wait, then land once.
 */
async function stepThroughRefusal(
  refuse: (admin: Redis) => Promise<unknown>,
  allow: (admin: Redis) => Promise<unknown>,
) {
  const { admin, store, close } = await privateRedis();
  try {
    await admin.ping();
    const tracker = await ProgressTracker.create(
      store,
      { ownerId: 'u', kind: 'k', input: null, steps: [{ name: 'a' }] },
      { coalesceMs: 0 },
    );
    await tracker.start();
    await refuse(admin);
    const allowed = new Promise((resolve) => setTimeout(resolve, 300)).then(() => allow(admin));
    const job = await tracker.startStep('a');
    await allowed;
    expect(job.currentStep).toBe('a');
    expect((await store.readEvents(tracker.jobId)).map((e) => e.type)).toEqual([
      'job_created',
      'job_started',
      'step_started',
    ]);
    tracker.close();
  } finally {
    await close();
  }
}

describe.skipIf(!url)('Redis refusing writes for a while', () => {
  it("failing over (the old primary answers READONLY until promoted): a job's write waits it out", () =>
    // What a failover makes of an old primary: a replica of a server that does not answer.
    stepThroughRefusal(
      (admin) => admin.replicaof('127.0.0.1', String(closedPort)),
      (admin) => admin.replicaof('NO', 'ONE'),
    ));

  it("at maxmemory with noeviction (writes refused with OOM): a job's write waits until there is room", () =>
    stepThroughRefusal(
      (admin) => admin.config('SET', 'maxmemory', '1'),
      (admin) => admin.config('SET', 'maxmemory', '0'),
    ));
});

describe.skipIf(!url)('Redis down when the first subscribe comes', () => {
  it('subscribe rejects with store_unavailable in time, then works once Redis is back', async () => {
    const { proxy, store, direct, job, prefix, close } = await behindProxy({
      subscriberReadyTimeoutMs: 300,
    });
    proxy.drop();
    try {
      // Before: this waited for Redis for as long as it was down.
      const error = await store
        .subscribe(job.id, () => {})
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'store_unavailable' });
      expect(store.listenerCount()).toBe(0);

      proxy.restore();
      const seen: number[] = [];
      // ioredis reconnects on its own backoff (50 ms, 100 ms, … after each failure): a
      // subscribe in the first moments may still time out, as a caller's retry would see.
      let unsubscribe: (() => void) | null = null;
      for (let tries = 0; !unsubscribe; tries++) {
        unsubscribe = await store
          .subscribe(job.id, (event) => seen.push(event.id))
          .catch((e: unknown) => {
            if (tries >= 30 || !isJobstreamError(e, 'store_unavailable')) throw e;
            return null;
          });
      }
      await direct.commit(job.id, {
        expectedVersion: 1,
        events: [{ type: 'job_started', data: {} }],
      });
      const deadline = Date.now() + 10_000;
      while (seen.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual([2]);
      // Still the store's one pub/sub connection, not a second one per attempt.
      const [, listeners] = (await direct.redis.pubsub('NUMSUB', `${prefix}:{${job.id}}:live`)) as [
        string,
        number,
      ];
      expect(Number(listeners)).toBe(1);
      unsubscribe();
    } finally {
      await close();
    }
  }, 30_000);
});

describe.skipIf(!url)('Redis pub/sub back before the store can read', () => {
  it('the catch-up after a reconnect is retried until the reads work', async () => {
    const { proxy, store, direct, job, close } = await behindProxy();
    try {
      const seen: number[] = [];
      const unsubscribe = await store.subscribe(job.id, (event) => seen.push(event.id));
      // The store's reading connection is still away when pub/sub is back: its first
      // reads fail, as they do when ioredis reconnects the subscriber first.
      const readEvents = store.readEvents.bind(store);
      let failing = 3;
      store.readEvents = (...args) =>
        failing-- > 0
          ? Promise.reject(new JobstreamError('store_unavailable', 'still reconnecting'))
          : readEvents(...args);
      proxy.drop();
      // Published while the subscriber was away: only the catch-up can deliver them.
      await direct.commit(job.id, {
        expectedVersion: 1,
        events: [
          { type: 'job_started', data: {} },
          { type: 'step_started', data: { step: 'a', stepIndex: 1 } },
        ],
      });
      proxy.restore();
      const deadline = Date.now() + 15_000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(seen).toEqual([2, 3]);
      expect(failing).toBeLessThan(0);
      unsubscribe();
    } finally {
      await close();
    }
  }, 30_000);
});

describe.skipIf(!url)('Redis pub/sub back while the catch-up read is still to come', () => {
  /**
   * After the subscriber reconnects, the store reads what it missed on its other
   * connection. An event published meanwhile comes live on the subscriber and can be there
   * first: it must not make the listener skip the missed ones the read brings.
   */
  async function liveEventBeforeTheRead(read: 'in flight' | 'failing') {
    const { proxy, redis, store, direct, job, prefix, close } = await behindProxy();
    // The store's pub/sub connection, to see when a message has reached it.
    const duplicate = redis.duplicate.bind(redis);
    let subscriber: Redis | null = null;
    redis.duplicate = (...args) => {
      subscriber = duplicate(...args);
      return subscriber;
    };
    const channel = `${prefix}:{${job.id}}:live`;
    const numsub = async () =>
      Number(((await direct.redis.pubsub('NUMSUB', channel)) as [string, number])[1]);
    /** Waits until `check` holds; false when it did not within 10 s. */
    const waitFor = async (check: () => boolean | Promise<boolean>) => {
      const deadline = Date.now() + 10_000;
      while (!(await check())) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    };
    try {
      const seen: number[] = [];
      const unsubscribe = await store.subscribe(job.id, (event) => seen.push(event.id));
      const received: number[] = [];
      (subscriber as Redis | null)?.on('message', (_channel: string, message: string) =>
        received.push((JSON.parse(message) as { id: number }).id),
      );
      // The catch-up's reads wait (or fail) until the test lets them through.
      const readEvents = store.readEvents.bind(store);
      let reads = 0;
      let letThrough!: () => void;
      const open = new Promise<void>((resolve) => {
        letThrough = resolve;
      });
      let opened = false;
      store.readEvents = async (...args) => {
        reads++;
        if (read === 'in flight') await open;
        else if (!opened) throw new JobstreamError('store_unavailable', 'still reconnecting');
        return readEvents(...args);
      };

      proxy.drop();
      expect(await waitFor(async () => (await numsub()) === 0), 'Redis dropped it').toBe(true);
      // Published while the subscriber was away: only the catch-up can deliver them.
      await direct.commit(job.id, {
        expectedVersion: 1,
        events: [
          { type: 'job_started', data: {} },
          { type: 'step_started', data: { step: 'a', stepIndex: 1 } },
        ],
      });
      proxy.restore();
      // Subscribed again, and the catch-up read has started.
      expect(await waitFor(() => reads > 0), 'the catch-up read started').toBe(true);
      expect(await waitFor(async () => (await numsub()) === 1), 'subscribed again').toBe(true);
      // Published after: it comes live, before the read has brought 2 and 3.
      await direct.commit(job.id, {
        expectedVersion: 3,
        events: [{ type: 'step_progress', data: { step: 'a', progress: 50, stepProgress: 50 } }],
      });
      expect(await waitFor(() => received.includes(4)), 'event 4 came live').toBe(true);
      opened = true;
      letThrough();
      await waitFor(() => seen.length >= 3);
      expect(seen).toEqual([2, 3, 4]);
      unsubscribe();
    } finally {
      await close();
    }
  }

  it(
    'a live event that comes while the read is in flight: the listener still gets every event, in order',
    () => liveEventBeforeTheRead('in flight'),
    30_000,
  );

  it(
    'a live event that comes while the reads still fail: the listener still gets every event, in order',
    () => liveEventBeforeTheRead('failing'),
    30_000,
  );
});
