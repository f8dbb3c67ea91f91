// Server heap over many jobs: does anything grow per job that is never freed?
// 2,000 jobs of ~50 events each run through a real node:http server, each watched by a
// viewer that connects over a raw socket, drops it abruptly after a few events (half
// with a RST), then reconnects with Last-Event-ID and reads to the terminal event.
// Owners rotate over 500 ids, so per-owner bookkeeping sees many keys come and go.
// Heap (plus array buffers, where encoded frames live) is read after three full GCs at checkpoints; then what is left open is counted.
// Run: pnpm build && node scripts/with-services.mjs node --expose-gc bench/server-memory.mjs
// (without DATABASE_URL only the memory store runs).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { MemoryJobStore } from '@jobstream/core';
import { PostgresJobStore } from '@jobstream/postgres';
import { createJobServer, defineJob } from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import pg from 'pg';
import { z } from 'zod';
import { heap, pause } from './heap.mjs';
import { machine, printTable } from './machine.mjs';

if (typeof globalThis.gc !== 'function') {
  console.error('Run with node --expose-gc.');
  process.exit(1);
}
const JOBS = Number(process.env.BENCH_JOBS ?? 2000);
const PROGRESS = 45; // + created, started, step started, step completed, completed = 50 events
const PARALLEL = 20;
const OWNERS = 500;
const CHECKPOINTS = [JOBS / 4, JOBS / 2, (3 * JOBS) / 4, JOBS];
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
const kib = (bytes) => (bytes / 1024).toFixed(2);
const job = defineJob({
  kind: 'bench',
  input: z.object({}),
  steps: ['work'],
  async run(_input, { tracker }) {
    await tracker.startStep('work');
    for (let i = 1; i <= PROGRESS; i++) {
      tracker.progress((i * 100) / PROGRESS, `token ${i} of the model's answer`);
      await tracker.flush();
      // Slow enough that the viewer is reading live, not replaying a finished job.
      if (i % 5 === 0) await pause(1);
    }
    await tracker.completeStep();
    return { courseId: `course-${randomBytes(4).toString('hex')}` };
  },
});

/** GET /stream over a raw socket; resolves with the socket and the last id seen once `take` events arrived. */
function dropAfter(port, jobId, owner, take) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.write(`GET /stream/${jobId} HTTP/1.1\r\nhost: bench\r\nx-user: ${owner}\r\n\r\n`);
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      resolve({ socket, last: ids.at(-1) ?? 0 });
    };
    socket.on('data', (chunk) => {
      text += chunk;
      if ((text.match(/^id: /gm)?.length ?? 0) >= take) finish();
    });
    socket.on('end', finish);
  });
}

async function readToEnd(base, jobId, owner, last) {
  const response = await fetch(`${base}/stream/${jobId}`, {
    headers: { 'x-user': owner, 'last-event-id': String(last) },
  });
  if (response.status === 204) return;
  const text = await response.text();
  if (!/event: job_completed/.test(text)) throw new Error(`no terminal event for ${jobId}`);
}

async function runOne(base, port, n) {
  const owner = `owner-${n % OWNERS}`;
  const started = await fetch(`${base}/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': owner },
    body: '{}',
  });
  const { jobId } = await started.json();
  const { socket, last } = await dropAfter(port, jobId, owner, 5);
  if (n % 2) socket.resetAndDestroy();
  else socket.destroy();
  await readToEnd(base, jobId, owner, last);
}

async function measure(name, store, counters) {
  const server = createJobServer({
    store,
    jobs: [job],
    authenticate: (request) => request.headers.get('x-user'),
    tracker: { coalesceMs: 0 },
    maxActiveJobsPerOwner: 10,
    onError: (error) => console.error(error),
  });
  const httpServer = http.createServer(toNodeHandler(server));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address();
  const base = `http://127.0.0.1:${port}`;
  // Warm up (JIT, pools, the first Postgres connections) before the baseline.
  for (let i = 0; i < PARALLEL * 2; i++) await runOne(base, port, i);
  const rows = [];
  const baseline = await heap();
  const started = performance.now();
  let next = 0;
  for (const checkpoint of CHECKPOINTS) {
    while (next < checkpoint) {
      const batch = [];
      for (let i = 0; i < PARALLEL && next < checkpoint; i++)
        batch.push(runOne(base, port, next++));
      await Promise.all(batch);
    }
    // What a viewer left behind is released on the socket's close event: let those run.
    await pause(200);
    const used = await heap();
    rows.push([
      `${name}: heap + array buffers after ${checkpoint.toLocaleString('en-US')} jobs (MiB)`,
      mib(used),
      `+${mib(used - baseline)} MiB over the baseline, ${kib((used - baseline) / checkpoint)} KiB/job`,
    ]);
  }
  const seconds = (performance.now() - started) / 1000;
  const state = counters();
  rows.push([
    `${name}: left open after the last job`,
    `${server.activeStreams} streams, ${state}`,
    `${((JOBS * 50) / seconds).toFixed(0)} events/s through ${JOBS.toLocaleString('en-US')} jobs`,
  ]);
  server.close();
  httpServer.closeAllConnections();
  await new Promise((resolve) => httpServer.close(resolve));
  return { rows, baseline };
}

const machineLine = machine();
const rows = [];

{
  const store = new MemoryJobStore();
  const { rows: memoryRows, baseline } = await measure(
    'memory',
    store,
    () => `${store.listenerCount()} store listeners`,
  );
  rows.push(...memoryRows);
  const deleted = await store.deleteJobs({ finishedBefore: new Date(Date.now() + 1000) });
  const after = await heap();
  rows.push([
    'memory: heap + array buffers after deleteJobs of every finished job (MiB)',
    mib(after),
    `${deleted.toLocaleString('en-US')} jobs deleted; ${after - baseline >= 0 ? '+' : ''}${mib(after - baseline)} MiB over the baseline`,
  ]);
  store.close();
}

const url = process.env.DATABASE_URL;
if (url) {
  const name = `bench_memory_${randomBytes(4).toString('hex')}`;
  const root = new pg.Client({ connectionString: url });
  await root.connect();
  await root.query(`create database ${name}`);
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const store = new PostgresJobStore({ connectionString: dbUrl.toString() });
  try {
    await store.migrate();
    const { rows: pgRows } = await measure(
      'postgres',
      store,
      () => `${store.listenerCount()} store listeners`,
    );
    rows.push(...pgRows);
  } finally {
    await store.close();
    await root.query(`drop database if exists ${name} with (force)`);
    await root.end();
  }
} else {
  console.error('DATABASE_URL is not set: the Postgres rows are skipped.');
}

printTable(`Server heap over ${JOBS.toLocaleString('en-US')} jobs x 50 events`, machineLine, rows);
