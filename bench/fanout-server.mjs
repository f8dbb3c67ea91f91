// One SSE server for bench/fanout.mjs, in its own process so its memory and CPU are its own.
// Usage (spawned by fanout.mjs): node --expose-gc fanout-server.mjs <jobstream|better-sse|bare> <jobs>
// FANOUT_STREAM_AGE=off runs jobstream without its stream age limit (no timer per stream).
import http from 'node:http';
import { setImmediate as tick } from 'node:timers/promises';
import { MemoryJobStore } from '@jobstream/core';
import { createJobServer, defineJob, encodeFrame, eventJson } from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import { createChannel, createSession } from 'better-sse';
import { z } from 'zod';

const [contender, jobCountText] = process.argv.slice(2);
const jobCount = Number(jobCountText);
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

/** Each contender: `publish(jobIndex)` sends the next progress event of that job to its viewers. */
async function setup() {
  if (contender === 'jobstream') {
    const store = new MemoryJobStore();
    const job = defineJob({ kind: 'bench', input: z.object({}), steps: ['work'], run() {} });
    const server = createJobServer({
      store,
      jobs: [job],
      authenticate: () => 'bench',
      // Every viewer is the same owner here: the per-owner stream limit would turn them away.
      maxStreamsPerOwner: Number.POSITIVE_INFINITY,
      ...(process.env.FANOUT_STREAM_AGE === 'off' ? { maxStreamAgeMs: false } : {}),
    });
    const jobs = [];
    for (let i = 0; i < jobCount; i++) {
      const { job: created } = await store.createJob({
        ownerId: 'bench',
        kind: 'bench',
        input: {},
        steps: [{ name: 'work' }],
      });
      const { job: running } = await store.commit(created.id, {
        expectedVersion: created.version,
        events: [
          { type: 'job_started', data: {} },
          { type: 'step_started', data: { step: 'work', stepIndex: 1 } },
        ],
      });
      jobs.push({ id: running.id, version: running.version });
    }
    return {
      handler: toNodeHandler(server),
      path: (i) => `/stream/${jobs[i].id}`,
      // The real write path: a version-checked commit that the store fans out.
      publish(i) {
        const job = jobs[i];
        job.version++;
        return store.commit(job.id, {
          expectedVersion: job.version - 1,
          events: [
            {
              type: 'step_progress',
              data: { step: 'work', progress: 50, stepProgress: 50, message: now() },
            },
          ],
        });
      },
    };
  }

  // The peers send byte-identical frames, built here once per event.
  const ids = Array.from({ length: jobCount }, (_, i) => `job-${i}`);
  const versions = new Array(jobCount).fill(3);
  const frameFor = (i) => {
    const id = ++versions[i];
    const event = {
      id,
      jobId: ids[i],
      type: 'step_progress',
      at: new Date().toISOString(),
      data: { step: 'work', progress: 50, stepProgress: 50, message: now() },
    };
    return { id, json: eventJson(event, true) };
  };

  if (contender === 'better-sse') {
    const channels = ids.map(() => createChannel());
    return {
      async handler(req, res) {
        const i = Number(req.url.split('/').pop());
        const session = await createSession(req, res, {
          serializer: (data) => data,
          retry: 3000,
          keepAlive: 15_000,
          headers: { 'x-accel-buffering': 'no' },
        });
        channels[i].register(session);
      },
      path: (i) => `/stream/${i}`,
      publish(i) {
        const { id, json } = frameFor(i);
        channels[i].broadcast(json, 'step_progress', { eventId: String(id) });
      },
    };
  }

  if (contender === 'bare') {
    const viewers = ids.map(() => new Set());
    const RETRY = 'retry: 3000\n\n';
    return {
      handler(req, res) {
        const i = Number(req.url.split('/').pop());
        res.writeHead(200, SSE_HEADERS);
        res.write(RETRY);
        viewers[i].add(res);
        res.on('close', () => viewers[i].delete(res));
      },
      path: (i) => `/stream/${i}`,
      publish(i) {
        const { id, json } = frameFor(i);
        const frame = encodeFrame({ id, event: 'step_progress', data: json });
        for (const res of viewers[i]) res.write(frame);
      },
    };
  }
  throw new Error(`unknown contender ${contender}`);
}

const { handler, path, publish } = await setup();
const server = http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  const paths = Array.from({ length: jobCount }, (_, i) => path(i));
  process.send({ type: 'ready', port: server.address().port, paths });
});

function memory() {
  globalThis.gc?.();
  globalThis.gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

process.on('message', async (message) => {
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ type: 'cpu', micros: user + system });
  } else if (message.type === 'memory') {
    process.send({ type: 'memory', ...memory() });
  } else if (message.type === 'burst') {
    // `rounds` rounds of one event per job, yielding to I/O between rounds.
    for (let round = 0; round < message.rounds; round++) {
      for (let i = 0; i < jobCount; i++) await publish(i);
      await tick();
    }
    process.send({ type: 'produced' });
  } else if (message.type === 'paced') {
    // `perSecond` events per job per second, for `seconds`.
    const interval = 1000 / message.perSecond;
    const end = performance.now() + message.seconds * 1000;
    let next = performance.now();
    while (performance.now() < end) {
      for (let i = 0; i < jobCount; i++) await publish(i);
      next += interval;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
    process.send({ type: 'produced' });
  } else if (message.type === 'snapshot') {
    const v8 = await import('node:v8');
    globalThis.gc?.();
    v8.writeHeapSnapshot(`/tmp/fanout-${contender}.heapsnapshot`);
    process.send({ type: 'snapshot' });
  } else if (message.type === 'exit') {
    process.exit(0);
  }
});
