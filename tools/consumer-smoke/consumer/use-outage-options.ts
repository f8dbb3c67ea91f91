// The options that keep a job alive through a store outage or a platform's time limit, as
// an app sets them: each is typed on the published packages, and a misspelt or mistyped
// one is a compile error. (docs/*.md show most of them; this holds the ones no page does.)
import { MemoryJobStore, ProgressTracker } from '@jobstream/core';
import { runJobStoreOutage } from '@jobstream/core/testing';
import { PostgresJobStore } from '@jobstream/postgres';
import { RedisJobStore } from '@jobstream/redis';
import { createJobServer, defineJob, runJob } from '@jobstream/server';
import { Redis } from 'ioredis';
import { z } from 'zod';

const store = new MemoryJobStore();

export const reportJob = defineJob({
  kind: 'report',
  input: z.object({ id: z.string() }),
  steps: [{ name: 'write', label: 'Writing' }],
  timeLimitMs: 280_000,
  async run() {
    return { ok: true };
  },
});

defineJob({
  kind: 'x',
  input: z.object({}),
  steps: [{ name: 'a', label: 'A' }],
  // @ts-expect-error timeLimitMs is a number of ms
  timeLimitMs: '280s',
  run: async () => 1,
});

createJobServer({
  store,
  jobs: [reportJob],
  authenticate: () => 'user-1',
  timeLimitMs: 280_000,
  tracker: { storeOutageMs: 60_000, coalesceMs: 50, maxConflictRetries: 5 },
});

createJobServer({
  store,
  jobs: [reportJob],
  authenticate: () => 'user-1',
  // @ts-expect-error storeOutageMs belongs under tracker
  storeOutageMs: 60_000,
});

export async function claimAndRun(jobId: string): Promise<void> {
  const tracker = new ProgressTracker(store, jobId, { storeOutageMs: 0 });
  const claimed: boolean = await tracker.claim();
  void claimed;
  await runJob(store, reportJob, jobId, {
    tracker: { storeOutageMs: 10_000 },
    timeLimitMs: 60_000,
  });
}

export const postgres = new PostgresJobStore({
  connectionString: 'postgres://localhost/app',
  poolConfig: { max: 10, connectionTimeoutMillis: 5_000 },
});

export const redis = new RedisJobStore({
  redis: new Redis('redis://localhost', { maxRetriesPerRequest: 1 }),
  subscriberReadyTimeoutMs: 5_000,
});

// @ts-expect-error a number of ms
new RedisJobStore({ redis: new Redis(), subscriberReadyTimeoutMs: '5s' });

export function outageSuite(cut: () => Promise<void>, restore: () => Promise<void>): void {
  runJobStoreOutage({
    name: 'MemoryJobStore behind a proxy',
    store: () => store,
    peer: () => new MemoryJobStore(),
    cut,
    restore,
    outageMs: 1_500,
  });
}
