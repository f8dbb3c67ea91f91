import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { isJobstreamError } from '@jobstream/core';
import { runJobStoreConformance } from '@jobstream/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';

// PGlite needs no server: these always run. One instance per file (each takes seconds to
// start); it lives in a temporary directory so the last case can check durability.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobstream-pglite-'));
let db: PGlite | undefined;
let keptJobId = '';

afterAll(async () => {
  await db?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

runJobStoreConformance({
  name: 'PostgresJobStore (PGlite)',
  create: async () => {
    db = await PGlite.create({ dataDir });
    const store = new PostgresJobStore({ pglite: db });
    await store.migrate();
    return store;
  },
  // PGlite is one embedded database: a second store on the same instance is the nearest
  // thing to a second process (it has its own subscriptions and cache).
  createPeer: () => new PostgresJobStore({ pglite: db! }),
  cleanup: async (store) => {
    const { job } = await store.createJob({
      ownerId: 'durable',
      kind: 'course',
      input: { kept: true },
      steps: [{ name: 'only' }],
    });
    keptJobId = job.id;
    await store.close();
    await db?.close();
    db = undefined;
  },
  listenerCount: (store) => store.listenerCount(),
  timeoutMs: 30_000,
});

// The default above notifies after the commit; the other mode on an in-memory instance.
let memory: PGlite | undefined;
runJobStoreConformance({
  name: "PostgresJobStore (PGlite, notify 'in-transaction')",
  create: async () => {
    memory = await PGlite.create();
    const store = new PostgresJobStore({ pglite: memory, notify: 'in-transaction' });
    await store.migrate();
    return store;
  },
  createPeer: () => new PostgresJobStore({ pglite: memory!, notify: 'in-transaction' }),
  cleanup: async (store) => {
    await store.close();
    await memory?.close();
    memory = undefined;
  },
  listenerCount: (store) => store.listenerCount(),
  timeoutMs: 30_000,
});

describe('PostgresJobStore on PGlite', () => {
  it('keeps jobs on disk across a restart of the embedded database', async () => {
    expect(keptJobId).not.toBe('');
    db = await PGlite.create({ dataDir });
    const store = new PostgresJobStore({ pglite: db });
    try {
      const job = await store.getJob(keptJobId);
      expect(job).toMatchObject({ id: keptJobId, ownerId: 'durable', input: { kept: true } });
      expect(await store.readEvents(keptJobId)).toHaveLength(1);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('an embedded database without the schema rejects with schema_mismatch', async () => {
    const empty = await PGlite.create();
    const store = new PostgresJobStore({ pglite: empty });
    try {
      await expect(store.listJobs()).rejects.toSatisfy((e) =>
        isJobstreamError(e, 'schema_mismatch'),
      );
    } finally {
      await store.close();
      await empty.close();
    }
  }, 60_000);
});
