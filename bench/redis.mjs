// Redis store: commits per second (one job; 100 jobs in parallel) against a bare XADD loop
// through ioredis on the same server (the ceiling), and event latency from a commit on one
// store to its delivery on another store (its own connections), p50/p99. A store with
// `cacheSize: 0` reads the job before every commit, as every commit did before the store
// kept its jobs. A last writer runs the store's own commit script straight through ioredis
// (EVALSHA, the JSON folded with core beforehand, no read first): the script alone.
// Run: pnpm --filter @jobstream/core --filter @jobstream/redis build &&
//      node scripts/with-services.mjs node bench/redis.mjs
import { randomBytes } from 'node:crypto';
import { prepareCommit } from '@jobstream/core';
import { RedisJobStore } from '@jobstream/redis';
import { Redis } from 'ioredis';
import { machine, printTable } from './machine.mjs';
import {
  commitToEach,
  fmt,
  latency,
  median,
  ms,
  percentile,
  progress,
  startedJob,
} from './store-bench.mjs';

const url = process.env.REDIS_URL;
if (!url) {
  console.error('REDIS_URL is not set: run through `node scripts/with-services.mjs`.');
  process.exit(1);
}
const ONE_JOB = Number(process.env.BENCH_ONE_JOB ?? 5000);
const JOBS = 100;
const PER_JOB = Number(process.env.BENCH_PER_JOB ?? 30);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY ?? 1000);
const ROUNDS = 5;

const run = randomBytes(4).toString('hex');

// Operations per second of wall time, and the CPU (user + system) per operation of this
// process and of the Redis server: each side's share of the work, whatever the machine's
// other load lets them have. Redis' figure is from INFO, read before and after.
let infoClient = null;
async function redisCpu() {
  const info = await infoClient.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}
async function clock() {
  const redis0 = await redisCpu();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  return async (ops) => {
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      rate: (ops * 1000) / wall,
      cpu: (cpu.user + cpu.system) / ops,
      redis: ((await redisCpu()) - redis0) / ops,
    };
  };
}
const prefix = `jobstream-bench-${run}`;

// The ceiling: one XADD of an event-sized entry per round trip, nothing else. The entry id
// is given (0-<n>, as the store gives it), so Redis refuses an id that is not above the
// stream's last: the append carries its own ordering check, as a version check would.
let bareRound = 0;
async function bareXadds(redis, workers, perWorker) {
  const round = bareRound++;
  const stop = await clock();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const jobId = `${run}-${round}-${w}`;
      const key = `${prefix}:bare:{${jobId}}:events`;
      for (let i = 1; i <= perWorker; i++) {
        const event = { id: i, jobId, ...progress(i), at: new Date().toISOString() };
        await redis.xadd(key, `0-${i}`, 'e', JSON.stringify(event));
      }
    }),
  );
  return stop(workers * perWorker);
}

async function commitsOneJob(store, n) {
  let job = await startedJob(store);
  const stop = await clock();
  for (let i = 0; i < n; i++) {
    ({ job } = await store.commit(job.id, { expectedVersion: job.version, events: [progress(i)] }));
  }
  return stop(n);
}

async function commitsManyJobs(store, jobs, perJob) {
  const started = await Promise.all(Array.from({ length: jobs }, () => startedJob(store)));
  const stop = await clock();
  await commitToEach(store, started, perJob);
  return stop(jobs * perJob);
}

// The store's commit script with nothing around it: the events are folded with core, as
// the store does, but nothing is read first and the script goes by its SHA. The script is
// the store's, captured from its first commit below; the keys follow its layout
// (packages/redis/src/redis-store.ts).
let commitScript = null;
function captureCommitScript(store) {
  const evaluate = store.redis.eval.bind(store.redis);
  store.redis.eval = (...args) => {
    if (args[1] === 3 && String(args[0]).includes('PUBLISH')) {
      commitScript = { source: args[0], keys: args.slice(2, 5) };
      delete store.redis.eval;
    }
    return evaluate(...args);
  };
}
async function scriptCommits(store, redis, sha, jobs, perJob) {
  const started = await Promise.all(Array.from({ length: jobs }, () => startedJob(store)));
  const key = (id, what) => `${store.prefix}:{${id}}:${what}`;
  const stop = await clock();
  await Promise.all(
    started.map(async (job) => {
      let current = job;
      for (let i = 0; i < perJob; i++) {
        const next = prepareCommit(current, current.id, current.version, [progress(i)]);
        const reply = await redis.evalsha(
          sha,
          3,
          key(current.id, 'job'),
          key(current.id, 'events'),
          commitScript.keys[2],
          String(current.version),
          JSON.stringify(next.job),
          String(next.job.version),
          '',
          current.id,
          key(current.id, 'live'),
          ...next.events.map((e) => JSON.stringify(e)),
        );
        if (reply !== 'OK') throw new Error(`commit script answered ${reply}`);
        current = next.job;
      }
    }),
  );
  return stop(jobs * perJob);
}

// Commands the store's connection sends, by name (each awaited in turn: one round trip).
function countCommands(redis) {
  const counts = new Map();
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, ...rest) => {
    counts.set(command.name, (counts.get(command.name) ?? 0) + 1);
    return send(command, ...rest);
  };
  return counts;
}

// The peer for latency: PUBLISH of an event-sized message on one connection, heard on
// another connection's SUBSCRIBE, at the same pace; the load is 20 loops of bare XADD on
// the publishing connection.
async function bareLatency(publisher, samples, load) {
  const subscriber = publisher.duplicate();
  const channel = `${prefix}:bare-live:${randomBytes(4).toString('hex')}`;
  const sentAt = new Map();
  const got = [];
  let resolveDone;
  const done = new Promise((r) => {
    resolveDone = r;
  });
  subscriber.on('message', (_, message) => {
    const t = sentAt.get(JSON.parse(message).id);
    if (t !== undefined) got.push(performance.now() - t);
    if (got.length === samples) resolveDone();
  });
  await subscriber.subscribe(channel);
  let stopLoad = false;
  const loadRun = Promise.all(
    Array.from({ length: load }, async (_, w) => {
      const key = `${prefix}:bare-load:{${randomBytes(4).toString('hex')}-${w}}:events`;
      for (let i = 1; !stopLoad; i++) {
        const event = { id: i, jobId: key, ...progress(i), at: new Date().toISOString() };
        await publisher.xadd(key, `0-${i}`, 'e', JSON.stringify(event));
      }
    }),
  );
  for (let i = 1; i <= samples; i++) {
    const event = { id: i, jobId: channel, ...progress(i), at: new Date().toISOString() };
    sentAt.set(i, performance.now());
    await publisher.publish(channel, JSON.stringify(event));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  stopLoad = true;
  await loadRun;
  await subscriber.quit();
  const sorted = got.sort((x, y) => x - y);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
}

const connections = [];
const connect = () => {
  const redis = new Redis(url);
  connections.push(redis);
  return redis;
};
const bare = connect();
infoClient = connect();
const a = new RedisJobStore({ redis: connect(), prefix });
const b = new RedisJobStore({ redis: connect(), prefix });
// What every commit did before the store kept its jobs: read the job, then run the script.
const reading = new RedisJobStore({ redis: connect(), prefix, cacheSize: 0 });
try {
  // Warm up connections and scripts.
  captureCommitScript(a);
  await bareXadds(bare, 10, 50);
  await commitsOneJob(a, 200);
  await commitsOneJob(reading, 200);
  const sha = await bare.script('LOAD', commitScript.source);
  await scriptCommits(a, bare, sha, 10, 20);

  // Round trips: what the store's connection sends for each commit of one job.
  let job = await startedJob(a);
  const counts = countCommands(a.redis);
  const counted = 200;
  for (let i = 0; i < counted; i++) {
    ({ job } = await a.commit(job.id, { expectedVersion: job.version, events: [progress(i)] }));
  }
  delete a.redis.sendCommand;
  const perCommit = [...counts]
    .map(([name, n]) => `${(n / counted).toFixed(2)} ${name.toUpperCase()}`)
    .join(' + ');

  // The machine is shared and noisy: alternate short rounds of the ceiling and the store
  // and compare medians, so all see the same conditions.
  const rounds = {
    ...{ bareOne: [], oneJob: [], readingOne: [] },
    ...{ bareMany: [], manyJobs: [], readingMany: [], script: [] },
  };
  for (let r = 0; r < ROUNDS; r++) {
    rounds.bareOne.push(await bareXadds(bare, 1, Math.round(ONE_JOB / ROUNDS)));
    rounds.oneJob.push(await commitsOneJob(a, Math.round(ONE_JOB / ROUNDS)));
    rounds.readingOne.push(await commitsOneJob(reading, Math.round(ONE_JOB / ROUNDS)));
    rounds.bareMany.push(await bareXadds(bare, JOBS, PER_JOB));
    rounds.manyJobs.push(await commitsManyJobs(a, JOBS, PER_JOB));
    rounds.readingMany.push(await commitsManyJobs(reading, JOBS, PER_JOB));
    rounds.script.push(await scriptCommits(a, bare, sha, JOBS, PER_JOB));
  }
  const rate = (name) => median(rounds[name].map((m) => m.rate));
  const cpu = (name) =>
    `Node ${median(rounds[name].map((m) => m.cpu)).toFixed(1)} / Redis ${median(rounds[name].map((m) => m.redis)).toFixed(1)} µs CPU each`;
  const bareQuiet = await bareLatency(bare, LATENCY_SAMPLES, 0);
  const quiet = await latency(a, b, LATENCY_SAMPLES, 0);
  const bareLoaded = await bareLatency(bare, Math.round(LATENCY_SAMPLES / 2), 20);
  const loaded = await latency(a, b, Math.round(LATENCY_SAMPLES / 2), 20);
  const ratio = (name, of) => `${(rate(name) / rate(of)).toFixed(2)}x bare XADD`;
  const info = await bare.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';

  printTable(
    `Redis store (Redis ${version}, ioredis, one connection per store and one for the bare loop)`,
    machine(),
    [
      [
        'bare XADD through ioredis, one loop (entries/s)',
        fmt(rate('bareOne')),
        `1.00x (ceiling); ${cpu('bareOne')}`,
      ],
      [
        'RedisJobStore.commit, one job (commits/s)',
        fmt(rate('oneJob')),
        `${ratio('oneJob', 'bareOne')} (median of ${ROUNDS} alternating rounds); ${cpu('oneJob')}`,
      ],
      [
        'same, `cacheSize: 0`: reads the job before each commit (commits/s)',
        fmt(rate('readingOne')),
        `${ratio('readingOne', 'bareOne')}; ${cpu('readingOne')}`,
      ],
      [
        `bare XADD through ioredis, ${JOBS} loops in parallel (entries/s)`,
        fmt(rate('bareMany')),
        `1.00x (ceiling); ${cpu('bareMany')}`,
      ],
      [
        `RedisJobStore.commit, ${JOBS} jobs in parallel x ${PER_JOB} (commits/s)`,
        fmt(rate('manyJobs')),
        `${ratio('manyJobs', 'bareMany')}; ${cpu('manyJobs')}`,
      ],
      [
        'same, `cacheSize: 0`: reads the job before each commit (commits/s)',
        fmt(rate('readingMany')),
        `${ratio('readingMany', 'bareMany')}; ${cpu('readingMany')}`,
      ],
      [
        `the store's commit script by EVALSHA, no read first, ${JOBS} loops x ${PER_JOB} (commits/s)`,
        fmt(rate('script')),
        `${ratio('script', 'bareMany')}: the script alone; ${cpu('script')}`,
      ],
      ['commands the store sends per commit, one job', perCommit, 'each one round trip'],
      [
        `bare PUBLISH → another connection's SUBSCRIBE, p50 / p99 (ms), ${fmt(bareQuiet.n)} messages`,
        `${ms(bareQuiet.p50)} / ${ms(bareQuiet.p99)}`,
        'the peer: 100 messages/s',
      ],
      [
        `commit on A → delivery on B, p50 / p99 (ms), ${fmt(quiet.n)} events`,
        `${ms(quiet.p50)} / ${ms(quiet.p99)}`,
        'one job, 100 commits/s, other store',
      ],
      [
        `bare PUBLISH → SUBSCRIBE while 20 loops XADD flat out, p50 / p99 (ms), ${fmt(bareLoaded.n)} messages`,
        `${ms(bareLoaded.p50)} / ${ms(bareLoaded.p99)}`,
        'the peer under write load',
      ],
      [
        `same, while 20 other jobs commit flat out, p50 / p99 (ms), ${fmt(loaded.n)} events`,
        `${ms(loaded.p50)} / ${ms(loaded.p99)}`,
        'delivery under write load',
      ],
    ],
  );
} finally {
  await a.close();
  await b.close();
  await reading.close();
  // Only this run's keys: REDIS_URL may point at a server that holds other data.
  let cursor = '0';
  do {
    const [next, keys] = await bare.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await bare.unlink(...keys);
  } while (cursor !== '0');
  await Promise.all(connections.map((c) => c.quit()));
}
