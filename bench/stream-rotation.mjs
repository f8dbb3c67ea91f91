// What a viewer pays for the server's stream age limit (`maxStreamAgeMs`): each rotation
// ends the stream after `retry: 0` and `subscribeToJob` reconnects at once. Viewers
// follow live jobs (an event every 50 ms) through a real node:http server on 127.0.0.1,
// once with rotation off and once with a 2 s limit (so each viewer rotates several times);
// a fetch wrapper times each connection: when the old body ended, when the next request
// left, when its headers came back. Event lateness = receive time − the event's `at`, for
// the events committed after the viewer's first connection opened (not its first replay).
// Run: pnpm build && node bench/stream-rotation.mjs
import { once } from 'node:events';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { subscribeToJob } from '@jobstream/client';
import { MemoryJobStore } from '@jobstream/core';
import { createJobServer, defineJob } from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import { z } from 'zod';
import { machine, printTable } from './machine.mjs';

const VIEWERS = Number(process.env.BENCH_VIEWERS ?? 100);
const EVENTS = 200; // progress events per job, one every 50 ms: ~10 s
const AGE_MS = 2_000;

const job = defineJob({
  kind: 'bench',
  input: z.object({}),
  steps: ['work'],
  async run(_input, { tracker }) {
    await tracker.startStep('work');
    for (let i = 1; i <= EVENTS; i++) {
      tracker.progress((i * 100) / EVENTS, `part ${i}`);
      await tracker.flush();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await tracker.completeStep();
    return { courseId: 'c' };
  },
});

/** A fetch that records each connection's timings (for the reconnection gaps). */
function timedFetch(connections) {
  return async (url, init) => {
    const conn = { requestedAt: performance.now(), headersAt: 0, endedAt: 0 };
    connections.push(conn);
    const response = await fetch(url, init);
    conn.headersAt = performance.now();
    if (!response.body) return response;
    const body = response.body.pipeThrough(
      new TransformStream({
        flush() {
          conn.endedAt = performance.now();
        },
      }),
    );
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

async function run(maxStreamAgeMs) {
  const store = new MemoryJobStore();
  const jobServer = createJobServer({
    store,
    jobs: [job],
    authenticate: () => 'viewer',
    tracker: { coalesceMs: 0 },
    maxStreamsPerOwner: Number.POSITIVE_INFINITY,
    maxStreamAgeMs,
  });
  const httpServer = http.createServer(toNodeHandler(jobServer));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const base = `http://127.0.0.1:${httpServer.address().port}`;

  const viewers = [];
  for (let v = 0; v < VIEWERS; v++) {
    // Ten jobs, ten viewers each, started 100 ms apart.
    if (v % 10 === 0) {
      const response = await jobServer.handle(
        new Request(`${base}/start`, { method: 'POST', body: '{}' }),
      );
      viewers.jobId = (await response.json()).jobId;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const viewer = { connections: [], lateness: [], ids: [], states: [], errors: 0, openAt: 0 };
    viewer.done = new Promise((resolve) => {
      subscribeToJob(`${base}/stream/${viewers.jobId}`, {
        fetch: timedFetch(viewer.connections),
        onEvent: (event) => {
          viewer.ids.push(event.id);
          const at = Date.parse(event.at);
          if (at >= viewer.openAt) viewer.lateness.push(Date.now() - at);
        },
        onStateChange: (state) => {
          viewer.states.push(state);
          if (state === 'open') viewer.openAt = Date.now();
          if (state === 'closed') resolve();
        },
        onError: () => viewer.errors++,
      });
    });
    viewers.push(viewer);
  }
  await Promise.all(viewers.map((viewer) => viewer.done));
  jobServer.close();
  httpServer.closeAllConnections();
  httpServer.close();
  store.close();

  const waits = [];
  const gaps = [];
  let lateness = [];
  let broken = 0;
  for (const viewer of viewers) {
    for (let i = 1; i < viewer.connections.length; i++) {
      const before = viewer.connections[i - 1];
      const after = viewer.connections[i];
      waits.push(after.requestedAt - before.endedAt);
      gaps.push(after.headersAt - before.endedAt);
    }
    lateness = lateness.concat(viewer.lateness);
    const ordered = viewer.ids.every((id, i) => id === i + 1);
    if (!ordered || viewer.errors || viewer.states.join() !== 'connecting,open,closed') broken++;
  }
  return { rotations: gaps.length, waits, gaps, lateness, broken };
}

const pct = (values, p) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (values) =>
  `${pct(values, 50).toFixed(1)} / ${pct(values, 99).toFixed(1)} / ${Math.max(0, ...values).toFixed(1)} ms`;

const off = await run(false);
const on = await run(AGE_MS);
printTable(`Stream rotation (${VIEWERS} viewers, 10 jobs × ${EVENTS + 5} events)`, machine(), [
  [
    'rotations (reconnections)',
    `${off.rotations} → ${on.rotations}`,
    `off → maxStreamAgeMs ${AGE_MS}`,
  ],
  [
    'viewers with a lost, repeated or out-of-order event, an error, or a state other than connecting/open/closed',
    `${off.broken} → ${on.broken}`,
    '',
  ],
  [
    'old body ended → next request sent (p50 / p99 / max)',
    ms(on.waits),
    'the client waits nothing',
  ],
  [
    'old body ended → next stream open (p50 / p99 / max)',
    ms(on.gaps),
    'request, auth, replay read',
  ],
  ['event lateness, rotation off (p50 / p99 / max)', ms(off.lateness), 'receive − event.at'],
  ['event lateness, rotation on (p50 / p99 / max)', ms(on.lateness), ''],
]);
