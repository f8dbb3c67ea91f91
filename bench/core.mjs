// Core baseline: MemoryJobStore.commit throughput (one job; 1,000 jobs) and the cost of
// ProgressTracker.progress() per call with coalescing, beside a bare in-memory append
// (array push + listener call: the ceiling for any store of events in one process).
// Run: pnpm --filter @jobstream/core build && node bench/core.mjs
import { MemoryJobStore, ProgressTracker } from '@jobstream/core';
import { machine, printTable } from './machine.mjs';
import { progress, STEPS, startedJob } from './store-bench.mjs';

async function commitsOneJob(n) {
  const store = new MemoryJobStore();
  let job = await startedJob(store);
  let delivered = 0;
  await store.subscribe(job.id, () => delivered++);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    ({ job } = await store.commit(job.id, { expectedVersion: job.version, events: [progress(i)] }));
  }
  const ms = performance.now() - t0;
  if (delivered !== n) throw new Error(`delivered ${delivered} of ${n}`);
  return (n / ms) * 1000;
}

async function commitsManyJobs(jobs, perJob) {
  const store = new MemoryJobStore();
  const all = await Promise.all(Array.from({ length: jobs }, () => startedJob(store)));
  const t0 = performance.now();
  await Promise.all(
    all.map(async (start) => {
      let job = start;
      for (let i = 0; i < perJob; i++) {
        ({ job } = await store.commit(job.id, {
          expectedVersion: job.version,
          events: [progress(i)],
        }));
      }
    }),
  );
  const ms = performance.now() - t0;
  return ((jobs * perJob) / ms) * 1000;
}

async function bareAppend(n) {
  const events = [];
  let delivered = 0;
  const listeners = new Set([() => delivered++]);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const event = {
      id: i + 1,
      jobId: 'j',
      type: 'step_progress',
      at: new Date().toISOString(),
      ...progress(i),
    };
    events.push(event);
    for (const l of listeners) l(event);
    await undefined;
  }
  return (n / (performance.now() - t0)) * 1000;
}

async function trackerProgress(calls) {
  const store = new MemoryJobStore();
  const tracker = await ProgressTracker.create(store, {
    ownerId: 'b',
    kind: 'b',
    input: null,
    steps: STEPS,
  });
  await tracker.startStep('work');
  const before = (await store.readEvents(tracker.jobId)).length;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    tracker.progress((i / calls) * 100, 'streaming');
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  await tracker.flush();
  const written = (await store.readEvents(tracker.jobId)).length - before;
  tracker.close();
  return { nsPerCall: (ms * 1e6) / calls, calls, written, ms };
}

const N = 20_000;
await commitsOneJob(2_000); // warm up
const oneJob = await commitsOneJob(N);
const manyJobs = await commitsManyJobs(1_000, 20);
const bare = await bareAppend(N);
const tracker = await trackerProgress(1_000_000);

printTable('Core (MemoryJobStore, ProgressTracker)', machine(), [
  [
    'MemoryJobStore.commit, one job (commits/s)',
    Math.round(oneJob),
    `${(oneJob / bare).toFixed(2)}x bare append`,
  ],
  [
    'MemoryJobStore.commit, 1,000 jobs x 20 (commits/s)',
    Math.round(manyJobs),
    `${(manyJobs / bare).toFixed(2)}x bare append`,
  ],
  ['bare append + listener (events/s, ceiling)', Math.round(bare), '1.00x'],
  [
    'tracker.progress() per call, coalesced (ns)',
    tracker.nsPerCall.toFixed(0),
    `${tracker.calls.toLocaleString('en')} calls in ${tracker.ms.toFixed(0)} ms became ${tracker.written} events`,
  ],
]);
