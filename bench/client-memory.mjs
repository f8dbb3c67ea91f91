// A long-lived page following jobs one after another: does the client keep anything per
// job? The server runs in a child process (so its memory is its own); this process is
// the page: for each of 500 jobs it starts the job, watches it (watchJob, a listener as
// useSyncExternalStore would add), reads it to the end, then releases everything.
// Half of the jobs are also followed by a bare subscribeToJob closed half-way, a quarter
// by one closed while its headers function is still running.
// Heap (plus array buffers) after full GCs at checkpoints; live timers and listeners on
// globalThis (a browser's window, stubbed) counted at the end.
// Run: pnpm build && node --expose-gc bench/client-memory.mjs
import { fork } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { heap, pause } from './heap.mjs';
import { machine, printTable } from './machine.mjs';

const JOBS = Number(process.env.BENCH_JOBS ?? 500);
const CHECKPOINTS = [JOBS / 5, JOBS / 2, JOBS];
const mib = (bytes) => (bytes / 2 ** 20).toFixed(2);

if (process.argv[2] === 'serve') {
  const { MemoryJobStore } = await import('@jobstream/core');
  const { createJobServer, defineJob } = await import('@jobstream/server');
  const { toNodeHandler } = await import('@jobstream/server/node');
  const { z } = await import('zod');
  const job = defineJob({
    kind: 'page',
    input: z.object({}),
    steps: ['work'],
    async run(_input, { tracker }) {
      await tracker.startStep('work');
      for (let i = 1; i <= 20; i++) {
        tracker.progress(i * 5, `part ${i}`);
        await tracker.flush();
        await pause(1);
      }
      await tracker.completeStep();
      return { courseId: 'c' };
    },
  });
  const store = new MemoryJobStore({ retention: { finishedJobTtlMs: 0, sweepIntervalMs: 1000 } });
  const server = createJobServer({
    store,
    jobs: [job],
    authenticate: () => 'page',
    tracker: { coalesceMs: 0 },
  });
  const httpServer = http.createServer(toNodeHandler(server));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  process.send?.(httpServer.address().port);
} else {
  if (typeof globalThis.gc !== 'function') {
    console.error('Run with node --expose-gc.');
    process.exit(1);
  }
  // The page's window: online/offline listeners land here.
  const window = new EventTarget();
  const listeners = new Set();
  globalThis.addEventListener = (type, listener) => {
    listeners.add(listener);
    window.addEventListener(type, listener);
  };
  globalThis.removeEventListener = (type, listener) => {
    listeners.delete(listener);
    window.removeEventListener(type, listener);
  };
  // Timers the client armed and has neither cleared nor seen fire (fetch's own keep-alive
  // timers are left out: they belong to the connection pool, not to a job).
  const timers = new Set();
  const { setTimeout: arm, clearTimeout: disarm } = globalThis;
  globalThis.setTimeout = (fn, ms, ...args) => {
    const handle = arm(() => {
      timers.delete(handle);
      fn(...args);
    }, ms);
    if (/[/\\]client[/\\]dist[/\\]/.test(new Error().stack ?? '')) timers.add(handle);
    return handle;
  };
  globalThis.clearTimeout = (handle) => {
    timers.delete(handle);
    disarm(handle);
  };

  const child = fork(fileURLToPath(import.meta.url), ['serve'], { stdio: 'inherit' });
  const [port] = await once(child, 'message');
  const { createJobClient, subscribeToJob } = await import('@jobstream/client');
  const client = createJobClient({ baseUrl: `http://127.0.0.1:${port}` });

  async function followOne(n) {
    const { jobId } = await client.start({});
    const watcher = client.watch(jobId);
    let finished;
    const done = new Promise((resolve) => {
      finished = resolve;
    });
    const off = watcher.subscribe(() => {
      if (watcher.getSnapshot().connection === 'closed') finished();
    });
    let side;
    if (n % 2) {
      side = subscribeToJob(`${client.baseUrl}/stream/${jobId}`, {
        onEvent: (event) => event.id >= 5 && side.close(),
      });
    } else if (n % 4 === 0) {
      // Dropped while its headers function (a token fetch) is still running.
      const early = subscribeToJob(`${client.baseUrl}/stream/${jobId}`, {
        headers: () => pause(5).then(() => ({})),
      });
      await pause(0);
      early.close();
    }
    await done;
    off();
    watcher.close();
    side?.close();
  }

  for (let i = 0; i < 20; i++) await followOne(i);
  await pause(100);
  const baseline = await heap();
  const rows = [];
  let next = 0;
  for (const checkpoint of CHECKPOINTS) {
    while (next < checkpoint) await followOne(next++);
    await pause(100);
    const used = await heap();
    rows.push([
      `page heap + array buffers after ${checkpoint} jobs (MiB)`,
      mib(used),
      `${used - baseline >= 0 ? '+' : ''}${mib(used - baseline)} MiB over the baseline (after 20 jobs)`,
    ]);
  }
  rows.push([
    `left behind after ${JOBS} jobs`,
    `${timers.size} timers, ${listeners.size} window listeners`,
    'timers: armed and neither cleared nor fired',
  ]);
  child.kill();
  printTable(
    `A page following ${JOBS} jobs one after another (watchJob + subscribeToJob)`,
    machine(),
    rows,
  );
}
