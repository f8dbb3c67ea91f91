// Postgres store: commits per second (one job; 100 jobs in parallel) against a bare INSERT
// loop through pg on the same server (the ceiling), and event latency from a commit on one
// store to its delivery on another store (its own pool and LISTEN connection), p50/p99.
// Both ways of notifying: after the commit, batched (the default) and inside the commit's
// transaction. A third writer calls jobstream_commit straight through pg (no NOTIFY, no
// validation or fold in JavaScript) to show what the SQL function alone costs.
// Run: pnpm --filter @jobstream/core --filter @jobstream/postgres build &&
//      node scripts/with-services.mjs node bench/postgres.mjs
import { randomBytes } from 'node:crypto';
import { prepareCommit } from '@jobstream/core';
import { PostgresJobStore } from '@jobstream/postgres';
import pg from 'pg';
import { machine, printTable } from './machine.mjs';
import { commitToEach, fmt, latency, median, ms, progress, startedJob } from './store-bench.mjs';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set: run through `node scripts/with-services.mjs`.');
  process.exit(1);
}
const POOL = 10;
const ONE_JOB = Number(process.env.BENCH_ONE_JOB ?? 5000);
const JOBS = 100;
const PER_JOB = Number(process.env.BENCH_PER_JOB ?? 30);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY ?? 1000);
const ROUNDS = 5;

// The ceiling: one INSERT of an event-sized row per round trip, nothing else.
async function bareInserts(pool, workers, perWorker) {
  await pool.query(
    'create table if not exists bench_insert (job_id text, seq int, type text, data jsonb, at timestamptz, primary key (job_id, seq))',
  );
  const t0 = performance.now();
  const run = randomBytes(4).toString('hex');
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 1; i <= perWorker; i++) {
        await pool.query(
          'insert into bench_insert (job_id, seq, type, data, at) values ($1, $2, $3, $4, now())',
          [`${run}-${w}`, i, 'step_progress', JSON.stringify(progress(i).data)],
        );
      }
    }),
  );
  return (workers * perWorker * 1000) / (performance.now() - t0);
}

async function commitsOneJob(store, n) {
  let job = await startedJob(store);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    ({ job } = await store.commit(job.id, { expectedVersion: job.version, events: [progress(i)] }));
  }
  return (n * 1000) / (performance.now() - t0);
}

// jobstream_commit through pg with nothing else: the events are folded with core, as the
// store does, but the statement never notifies.
async function rawCommits(store, pool, jobs, perJob) {
  const started = await Promise.all(Array.from({ length: jobs }, () => startedJob(store)));
  const t0 = performance.now();
  await Promise.all(
    started.map(async (job) => {
      let current = job;
      for (let i = 0; i < perJob; i++) {
        const next = prepareCommit(current, current.id, current.version, [progress(i)], new Date());
        await pool.query({
          name: 'raw_commit',
          text: 'select public.jobstream_commit($1, $2, $3::jsonb, $4::jsonb, false)',
          values: [
            current.id,
            current.version,
            JSON.stringify(next.job),
            JSON.stringify(next.events),
          ],
        });
        current = next.job;
      }
    }),
  );
  return (jobs * perJob * 1000) / (performance.now() - t0);
}

async function commitsManyJobs(store, jobs, perJob) {
  const started = await Promise.all(Array.from({ length: jobs }, () => startedJob(store)));
  const t0 = performance.now();
  await commitToEach(store, started, perJob);
  return (jobs * perJob * 1000) / (performance.now() - t0);
}

const name = `jobstream_bench_${randomBytes(4).toString('hex')}`;
const root = new pg.Client({ connectionString: url });
await root.connect();
await root.query(`create database ${name}`);
await root.end();
const dbUrl = new URL(url);
dbUrl.pathname = `/${name}`;

const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: POOL });
// DROP DATABASE ... WITH (FORCE) at the end ends idle connections; that is expected.
pool.on('error', () => {});
const store = (notify) =>
  new PostgresJobStore({ connectionString: dbUrl.toString(), poolConfig: { max: POOL }, notify });
const modes = {
  after: {
    name: "notify 'after-commit' (default)",
    a: store('after-commit'),
    b: store('after-commit'),
  },
  inTx: { name: "notify 'in-transaction'", a: store('in-transaction'), b: store('in-transaction') },
};
const stores = Object.values(modes).flatMap((m) => [m.a, m.b]);
try {
  await modes.after.a.migrate();
  for (const s of stores) await s.ready();
  // Warm up connections and plans.
  await bareInserts(pool, 10, 50);
  for (const m of Object.values(modes)) await commitsOneJob(m.a, 200);
  await rawCommits(modes.after.a, pool, 10, 20);

  // The machine is shared and noisy: alternate short rounds of the ceiling and the stores
  // and compare medians, so all see the same conditions.
  const rounds = { bareOne: [], bareMany: [], raw: [], batchOne: [], batchMany: [] };
  for (const m of Object.values(modes)) Object.assign(m, { oneJob: [], manyJobs: [] });
  const { after, inTx } = modes;
  for (let r = 0; r < ROUNDS; r++) {
    rounds.bareOne.push(await bareInserts(pool, 1, Math.round(ONE_JOB / ROUNDS)));
    let sent = after.a.notifyBatches;
    after.oneJob.push(await commitsOneJob(after.a, Math.round(ONE_JOB / ROUNDS)));
    rounds.batchOne.push(Math.round(ONE_JOB / ROUNDS) / (after.a.notifyBatches - sent));
    inTx.oneJob.push(await commitsOneJob(inTx.a, Math.round(ONE_JOB / ROUNDS)));
    rounds.bareMany.push(await bareInserts(pool, JOBS, PER_JOB));
    sent = after.a.notifyBatches;
    after.manyJobs.push(await commitsManyJobs(after.a, JOBS, PER_JOB));
    // Creating and starting the jobs notifies too (200 commits of the 3,000 + 200).
    rounds.batchMany.push((JOBS * (PER_JOB + 2)) / (after.a.notifyBatches - sent));
    inTx.manyJobs.push(await commitsManyJobs(inTx.a, JOBS, PER_JOB));
    rounds.raw.push(await rawCommits(after.a, pool, JOBS, PER_JOB));
  }
  const bareOne = median(rounds.bareOne);
  const bareMany = median(rounds.bareMany);
  const raw = median(rounds.raw);
  for (const m of Object.values(modes)) {
    m.quiet = await latency(m.a, m.b, LATENCY_SAMPLES, 0);
    m.loaded = await latency(m.a, m.b, Math.round(LATENCY_SAMPLES / 2), 20);
  }
  const ratio = (x, of) => `${(x / of).toFixed(2)}x bare insert`;

  printTable(
    `Postgres store (PostgreSQL ${(await pool.query('show server_version')).rows[0].server_version}, pool of ${POOL})`,
    machine(),
    [
      [
        'bare INSERT through pg, one connection in a loop (rows/s)',
        fmt(bareOne),
        '1.00x (ceiling)',
      ],
      ...Object.values(modes).map((m) => [
        `PostgresJobStore.commit, one job, ${m.name} (commits/s)`,
        fmt(median(m.oneJob)),
        `${ratio(median(m.oneJob), bareOne)} (median of ${ROUNDS} alternating rounds)`,
      ]),
      [
        `bare INSERT through pg, ${JOBS} loops in parallel (rows/s)`,
        fmt(bareMany),
        '1.00x (ceiling)',
      ],
      ...Object.values(modes).map((m) => [
        `PostgresJobStore.commit, ${JOBS} jobs in parallel x ${PER_JOB}, ${m.name} (commits/s)`,
        fmt(median(m.manyJobs)),
        ratio(median(m.manyJobs), bareMany),
      ]),
      [
        `jobstream_commit straight through pg, no NOTIFY, ${JOBS} loops x ${PER_JOB} (commits/s)`,
        fmt(raw),
        `${ratio(raw, bareMany)}: the SQL function alone`,
      ],
      [
        "commits per notifying statement, 'after-commit': one job / 100 jobs",
        `${median(rounds.batchOne).toFixed(1)} / ${median(rounds.batchMany).toFixed(1)}`,
        'median',
      ],
      ...Object.values(modes).flatMap((m) => [
        [
          `commit on A → delivery on B, ${m.name}, p50 / p99 (ms), ${m.quiet.n} events`,
          `${ms(m.quiet.p50)} / ${ms(m.quiet.p99)}`,
          'one job, 100 commits/s, other store',
        ],
        [
          `same, while 20 other jobs commit flat out, p50 / p99 (ms), ${m.loaded.n} events`,
          `${ms(m.loaded.p50)} / ${ms(m.loaded.p99)}`,
          'delivery under write load',
        ],
      ]),
    ],
  );
} finally {
  for (const s of stores) await s.close();
  await pool.end();
  const cleanup = new pg.Client({ connectionString: url });
  await cleanup.connect();
  await cleanup.query(`drop database if exists ${name} with (force)`);
  await cleanup.end();
}
