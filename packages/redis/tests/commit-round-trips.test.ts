import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisJobStore } from '../src/index.js';

const url = process.env.REDIS_URL;
if (!url && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error('REDIS_URL is not set but JOBSTREAM_REQUIRE_SERVICES=1');
}

const prefix = `jobstream-round-trips-${randomUUID()}`;
const connections: Redis[] = [];

/** A client that records the name of every command it sends to Redis. */
function recording(): { redis: Redis; sent: string[] } {
  const redis = new Redis(url as string);
  connections.push(redis);
  const sent: string[] = [];
  const send = redis.sendCommand.bind(redis) as (...args: unknown[]) => unknown;
  (redis as unknown as { sendCommand: unknown }).sendCommand = (
    command: { name: string },
    ...rest: unknown[]
  ) => {
    sent.push(command.name);
    return send(command, ...rest);
  };
  return { redis, sent };
}

const progress = (n: number) => ({
  type: 'step_progress' as const,
  data: { step: 'work', progress: n, stepProgress: n },
});

async function startedJob(store: RedisJobStore) {
  const { job } = await store.createJob({
    ownerId: 'u',
    kind: 'k',
    input: null,
    steps: [{ name: 'work' }],
  });
  const { job: running } = await store.commit(job.id, {
    expectedVersion: 1,
    events: [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'work', stepIndex: 1 } },
    ],
  });
  return running;
}

describe.skipIf(!url)('RedisJobStore commit round trips', () => {
  const stores: RedisJobStore[] = [];
  const store = (redis: Redis) => {
    const created = new RedisJobStore({ redis, prefix });
    stores.push(created);
    return created;
  };
  afterAll(async () => {
    for (const s of stores) await s.close();
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
  });

  it('a commit to a job this store just wrote sends one command (no read of the job first)', async () => {
    const { redis, sent } = recording();
    const writer = store(redis);
    let job = await startedJob(writer);
    sent.length = 0;
    for (let i = 1; i <= 3; i++) {
      ({ job } = await writer.commit(job.id, {
        expectedVersion: job.version,
        events: [progress(i * 10)],
      }));
    }
    expect(sent).toHaveLength(3);
    expect(sent).not.toContain('hget');
    const peer = store(recording().redis);
    expect(await peer.getJob(job.id)).toEqual(job);
  });

  it('with cacheSize: 0 every commit reads the job first', async () => {
    const { redis, sent } = recording();
    const writer = new RedisJobStore({ redis, prefix, cacheSize: 0 });
    stores.push(writer);
    const job = await startedJob(writer);
    sent.length = 0;
    await writer.commit(job.id, { expectedVersion: job.version, events: [progress(10)] });
    expect(sent).toEqual(['hget', 'eval']);
  });

  it('a copy made stale by another store costs a conflict, then the next commit folds onto the stored job', async () => {
    const writer = store(recording().redis);
    const other = store(recording().redis);
    const job = await startedJob(writer);
    const { job: moved } = await other.commit(job.id, {
      expectedVersion: job.version,
      events: [progress(50)],
    });

    const stale = await writer
      .commit(job.id, { expectedVersion: job.version, events: [progress(20)] })
      .then(
        () => null,
        (e: { code?: string }) => e.code,
      );
    expect(stale).toBe('conflict');

    const { job: after } = await writer.commit(job.id, {
      expectedVersion: moved.version,
      events: [{ type: 'step_completed', data: { step: 'work', stepIndex: 1, duration: 5 } }],
    });
    expect(after.version).toBe(moved.version + 1);
    expect(after.progress).toBe(100);
    expect(await other.getJob(job.id)).toEqual(after);
    expect((await other.readEvents(job.id)).map((e) => e.type)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'step_progress',
      'step_completed',
    ]);
  });

  it('a job another store deleted is not found, not re-created from the copy', async () => {
    const writer = store(recording().redis);
    const other = store(recording().redis);
    const job = await startedJob(writer);
    const { job: failed } = await writer.commit(job.id, {
      expectedVersion: job.version,
      events: [{ type: 'job_failed', data: { error: { message: 'boom' }, failedStep: 'work' } }],
    });
    expect(await other.deleteJobs({ finishedBefore: new Date(Date.now() + 60_000) })).toBe(1);
    const code = await writer
      .commit(job.id, {
        expectedVersion: failed.version,
        events: [{ type: 'job_resumed', data: {} }],
      })
      .then(
        () => null,
        (e: { code?: string }) => e.code,
      );
    expect(code).toBe('not_found');
    expect(await other.getJob(job.id)).toBeNull();
  });
});
