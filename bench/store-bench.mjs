// What the store benchmarks (core, postgres, redis) share: a started one-step job, a
// progress event, the formatting of figures, and the commit → delivery latency probe.

export const STEPS = [{ name: 'work' }];

/** A step_progress draft of about the size a model's streamed progress writes. */
export const progress = (i) => ({
  type: 'step_progress',
  data: { step: 'work', progress: i % 100, stepProgress: i % 100, message: `token ${i}` },
});

export const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
export const fmt = (n) => Math.round(n).toLocaleString('en-US');
export const ms = (n) => n.toFixed(2);

/** A job created and started on `store`, in its one step: what a running job's writes follow. */
export async function startedJob(store) {
  const { job } = await store.createJob({
    ownerId: 'bench',
    kind: 'bench',
    input: null,
    steps: STEPS,
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

/** `perJob` progress commits to each of `started` (jobs of `store`), the jobs in parallel. */
export async function commitToEach(store, started, perJob) {
  await Promise.all(
    started.map(async (job) => {
      let current = job;
      for (let i = 0; i < perJob; i++) {
        ({ job: current } = await store.commit(current.id, {
          expectedVersion: current.version,
          events: [progress(i)],
        }));
      }
    }),
  );
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// A worker on store A commits at a steady pace (a coalesced tracker writes ~20/s per job;
// here 100/s) and, as a ProgressTracker watching for a cancel does, is subscribed to its
// job; a viewer on store B is subscribed. Latency = from calling commit on A to the event
// reaching B's listener. `load` other jobs commit flat out on A meanwhile.
export async function latency(a, b, samples, load) {
  let job = await startedJob(a);
  const sentAt = new Map();
  const got = [];
  let resolveDone;
  const done = new Promise((r) => {
    resolveDone = r;
  });
  const unwatch = await a.subscribe(job.id, () => {});
  const unsubscribe = await b.subscribe(job.id, (event) => {
    const t = sentAt.get(event.id);
    if (t !== undefined) got.push(performance.now() - t);
    if (got.length === samples) resolveDone();
  });
  let stopLoad = false;
  const loadRun = load
    ? Promise.all(
        Array.from({ length: load }, async () => {
          let other = await startedJob(a);
          while (!stopLoad) {
            ({ job: other } = await a.commit(other.id, {
              expectedVersion: other.version,
              events: [progress(1)],
            }));
          }
        }),
      )
    : Promise.resolve();
  for (let i = 0; i < samples; i++) {
    sentAt.set(job.version + 1, performance.now());
    ({ job } = await a.commit(job.id, { expectedVersion: job.version, events: [progress(i)] }));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  stopLoad = true;
  await loadRun;
  unsubscribe();
  unwatch();
  const sorted = got.sort((x, y) => x - y);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}
