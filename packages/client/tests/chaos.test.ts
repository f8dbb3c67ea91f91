// A seeded chaos test of the whole path: three server instances over one shared store
// (PostgreSQL, then Redis), a few dozen multi-step jobs, viewers (subscribeToJob and
// watchJob) behind TCP proxies that are cut at random, viewers that change instance on
// reconnect, each instance's link to the store cut now and then, one or two instances
// shut down mid-job and replaced, cancels sent to another instance than the one running
// the job. Every viewer must end up with exactly the store's events
// (or the store's job), and nothing may stay open.
//
// The seed fixes every decision the test makes (jobs, pauses, viewers, where and when
// connections are cut, when instances close); the OS still schedules sockets, so a
// replay repeats the plan, not every interleaving. Replay: JOBSTREAM_CHAOS_SEED=<seed>.
// More seeds in one run: JOBSTREAM_CHAOS_RUNS=<n> (seeds follow the first).
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job, JobEvent } from '@jobstream/core/lite';
import { startTcpProxy, type TcpProxy } from '@jobstream/network-testing';
import { PostgresJobStore } from '@jobstream/postgres';
import { RedisJobStore } from '@jobstream/redis';
import {
  createJobServer,
  defineJob,
  type JobServer,
  type StandardSchemaV1,
} from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  createJobClient,
  type JobClient,
  type JobClientError,
  type JobWatcher,
  type Subscription,
  watchJob,
} from '../src/index.js';
import { waitFor } from './helpers.js';

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (process.env.JOBSTREAM_REQUIRE_SERVICES === '1' && !(databaseUrl && redisUrl)) {
  throw new Error('JOBSTREAM_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set.');
}

const firstSeed = Number(process.env.JOBSTREAM_CHAOS_SEED ?? randomBytes(4).readUInt32LE(0));
const runs = Number(process.env.JOBSTREAM_CHAOS_RUNS ?? 1);
const seeds = Array.from({ length: runs }, (_, i) => (firstSeed + i) >>> 0);

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [lo, hi]. */
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('pick from an empty list');
      return item;
    },
  };
}
type Rng = ReturnType<typeof prng>;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });

/** A pass-through Standard Schema (the client package has no zod). */
function schema<T>(): StandardSchemaV1<T> {
  return {
    '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: value as T }) },
  };
}

const STEPS = ['outline', 'topics', 'lessons', 'save'] as const;
interface ChaosInput {
  name: string;
  /** Pauses (ms) taken in turn between writes: the seed's choice. */
  pauses: number[];
  topics: number;
}

/** Several steps, topics inside one, coalesced progress, small pauses; resumable. */
const chaosJob = defineJob({
  kind: 'chaos',
  input: schema<ChaosInput>(),
  steps: STEPS,
  async run({ name, pauses, topics }, { tracker, signal, isStepCompleted }) {
    let turn = 0;
    const pause = () => sleep(pauses[turn++ % pauses.length] ?? 0, signal);
    for (const step of STEPS) {
      if (isStepCompleted(step)) continue;
      await tracker.startStep(step);
      if (step === 'topics') {
        for (let t = 1; t <= topics; t++) {
          await tracker.startTopic(`topic ${t}`, { index: t, count: topics });
          await pause();
          tracker.topicProgress(50);
          tracker.progress((100 * (t - 0.5)) / topics, `topic ${t}: half`);
          await pause();
          await tracker.completeTopic({ lessonsGenerated: t });
        }
      } else {
        tracker.progress(30, `${step}: a third`);
        await pause();
        tracker.progress(60, `${step}: two thirds`);
        tracker.progress(90, `${step}: nearly`);
        await pause();
      }
      await tracker.completeStep();
    }
    return { courseId: `course-${name}` };
  },
});

interface StoreUnderTest {
  close(): Promise<void>;
  listenerCount(): number;
}
type ChaosStore = (PostgresJobStore | RedisJobStore) & StoreUnderTest;

/** One kind of shared store: how to make another store object on it, and clean up. */
interface Backend {
  /** The server, for a proxy in front of it. */
  target: { hostname: string; port: number };
  /** A store object; through the proxy on `port` when given. */
  create(port?: number): Promise<{ store: ChaosStore; close(): Promise<void> }>;
  drop(): Promise<void>;
}

async function postgresBackend(url: string): Promise<Backend> {
  const name = `jobstream_chaos_${randomBytes(6).toString('hex')}`;
  const root = new pg.Client({ connectionString: url });
  await root.connect();
  try {
    await root.query(`create database ${name}`);
  } finally {
    await root.end();
  }
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const setup = new PostgresJobStore({ connectionString: dbUrl.toString() });
  await setup.migrate();
  await setup.close();
  return {
    target: { hostname: dbUrl.hostname, port: Number(dbUrl.port || 5432) },
    async create(port) {
      const connection = new URL(dbUrl);
      if (port) connection.host = `127.0.0.1:${port}`;
      // A short catch-up poll: an instance closed between a commit and its notification
      // leaves events that only the other instances' poll delivers.
      const store = new PostgresJobStore({
        connectionString: connection.toString(),
        catchUpIntervalMs: 500,
      });
      return { store, close: () => store.close() };
    },
    async drop() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function redisBackend(url: string): Promise<Backend> {
  const prefix = `jobstream-chaos-${randomBytes(6).toString('hex')}`;
  return {
    target: { hostname: new URL(url).hostname, port: Number(new URL(url).port || 6379) },
    async create(port) {
      const connection = new URL(url);
      if (port) connection.host = `127.0.0.1:${port}`;
      const redis = new Redis(connection.toString(), { maxRetriesPerRequest: 3 });
      // Ours to listen to (as in an app): a closed instance's orphaned jobs still call it.
      redis.on('error', () => {});
      const store = new RedisJobStore({ redis, prefix });
      return {
        store,
        async close() {
          await store.close();
          await redis.quit().catch(() => redis.disconnect());
        },
      };
    },
    async drop() {
      const redis = new Redis(url);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    },
  };
}

interface Instance {
  name: string;
  store: ChaosStore;
  jobServer: JobServer;
  origin: string;
  /** Two proxies per instance, so a cut hits some of its viewers, not all. */
  proxies: TcpProxy[];
  /** Between the instance and the store. */
  storeProxy: TcpProxy;
  live: boolean;
  /** Shutdown as on a deploy: streams end, the HTTP server closes, the store closes. */
  close(): Promise<void>;
}

const BASE_PATH = '/api/generation';
/**
 * Waits inside a run end by the watchdog (which prints what is still waiting), not by
 * shorter timeouts of their own: CI runs every package's tests at once on two cores.
 */
const WATCHDOG_MS = 90_000;
const LONG = WATCHDOG_MS + 30_000;
const owner = (job: number) => `user-${job % 7}`;

async function startInstance(name: string, backend: Backend, errors: unknown[]) {
  // Its own link to the store, which the test cuts too (a database restart, a failover).
  const storeProxy = await startTcpProxy(backend.target);
  const { store, close: closeStore } = await backend.create(storeProxy.port);
  const jobServer = createJobServer({
    store,
    jobs: [chaosJob],
    authenticate: (request) => request.headers.get('x-user'),
    basePath: BASE_PATH,
    retryMs: 20,
    heartbeatMs: 1000,
    // An instance that goes away leaves its jobs running in the store: the others fail
    // them as stale (worker_lost) once quiet this long, and the test resumes them.
    staleAfterMs: 2500,
    staleSweepIntervalMs: 300,
    // Jobs ride out the store link's cuts (up to 150 ms, longer under load) as they would
    // a real outage; on a closed instance this is how long its orphans keep trying.
    tracker: { coalesceMs: 15, storeOutageMs: 2000 },
    // Once closed, its orphaned jobs find the store gone: what a dead process would not say.
    onError: (error) => instance.live && errors.push(error),
  });
  const httpServer = http.createServer(toNodeHandler(jobServer));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as AddressInfo;
  const target = { hostname: '127.0.0.1', port };
  const proxies = [await startTcpProxy(target), await startTcpProxy(target)];
  const instance: Instance = {
    name,
    store,
    jobServer,
    origin: `http://127.0.0.1:${port}`,
    proxies,
    storeProxy,
    live: true,
    async close() {
      instance.live = false;
      jobServer.close();
      // What close() promises: every stream has ended, so the server can close.
      expect(jobServer.activeStreams).toBe(0);
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await closeStore();
      await Promise.all([...proxies, storeProxy].map((proxy) => proxy.close()));
    },
  };
  return instance;
}

/**
 * The test's own requests, tried again (on another instance) when the network or the
 * instance went away under them: a request to an instance that is shutting down is cut.
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const { kind, status } = error as JobClientError;
      // Cut, or 503 store_unavailable; never a 500, which would be a bug to see.
      if (!(kind === 'network' || status === 503) || attempt >= 5) throw error;
      await sleep(50);
    }
  }
}

/** Where a viewer's requests go: `sticky` keeps one instance while it lives. */
type Placement = 'sticky' | 'roaming';

interface SubscribeViewer {
  kind: 'subscribe';
  jobIndex: number;
  events: JobEvent[];
  errors: JobClientError[];
  subscriptions: Subscription[];
  done: boolean;
}

interface WatchViewer {
  kind: 'watch';
  jobIndex: number;
  handles: JobWatcher[];
  watcher: JobWatcher | undefined;
  errors: JobClientError[];
  /** Waiting at a failed job; resolved with true when the resume went through this watcher. */
  parked: ((resumedHere: boolean) => void) | undefined;
  claimed: boolean;
  done: boolean;
}

type Viewer = SubscribeViewer | WatchViewer;

interface ChaosJob {
  index: number;
  id: string;
  ownerId: string;
  startedOn: Instance;
  cancelRequested: boolean;
  resumes: number;
  viewers: Viewer[];
}

const ENVELOPE = ['id', 'jobId', 'type', 'at', 'data'] as const;
const envelope = (event: JobEvent) =>
  Object.fromEntries(ENVELOPE.map((key) => [key, (event as Record<string, unknown>)[key]]));

async function chaosRun(seed: number, backend: Backend) {
  const rng = prng(seed);
  const log: string[] = [];
  const note = (line: string) => log.push(`${Date.now() % 100_000} ${line}`);
  const serverErrors: unknown[] = [];
  const instances: Instance[] = [];
  let nextInstance = 0;
  const bringUp = async () => {
    const instance = await startInstance(`i${nextInstance++}`, backend, serverErrors);
    instances.push(instance);
    note(`up ${instance.name}`);
    return instance;
  };
  const live = () => instances.filter((instance) => instance.live);
  const observer = await backend.create();
  const stop = new AbortController();
  const jobs: ChaosJob[] = [];
  const closed: Instance[] = [];

  /** A fetch that sends each request to an instance through one of its proxies. */
  const viewerFetch = (placement: Placement, rngOf: Rng): typeof fetch => {
    let home: Instance | undefined;
    return (input, init) => {
      const alive = live();
      let target: Instance;
      if (placement === 'sticky' && home?.live) target = home;
      else {
        target = rngOf.pick(alive);
        home = target;
      }
      const proxy = rngOf.pick(target.proxies);
      const url = new URL(String(input));
      url.host = `127.0.0.1:${proxy.port}`;
      const after = Number(new Headers(init?.headers).get('last-event-id') ?? 0);
      return fetch(url, init).then((response) =>
        url.pathname.includes('/stream/') ? onTheWire(response, after, url.pathname) : response,
      );
    };
  };
  /**
   * What the server sent, before the client's own id check could hide it: on each
   * connection the ids must go on from Last-Event-ID one by one, none repeated or skipped.
   */
  const wireProblems: string[] = [];
  const onTheWire = (response: Response, after: number, where: string): Response => {
    if (!response.ok || !response.body) return response;
    let last = after;
    let carry = '';
    const decoder = new TextDecoder();
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        carry += decoder.decode(chunk, { stream: true });
        const lines = carry.split('\n');
        carry = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith('id: ')) continue;
          const id = Number(line.slice(4));
          if (id !== last + 1) wireProblems.push(`${where}: id ${id} after ${last}`);
          last = id;
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body.pipeThrough(tap), {
      status: response.status,
      headers: response.headers,
    });
  };
  /** The test's own requests (start, cancel, resume) go straight to an instance. */
  const directClient = (instance: Instance, ownerId: string): JobClient<typeof chaosJob> =>
    createJobClient<typeof chaosJob>({
      baseUrl: `${instance.origin}${BASE_PATH}`,
      headers: { 'x-user': ownerId },
    });

  try {
    instances.length = 0;
    for (let i = 0; i < 3; i++) await bringUp();

    // Cuts: every so often one proxy resets its connections and refuses new ones briefly.
    let cuts = 0;
    let storeCuts = 0;
    const cutter = (async () => {
      while (!stop.signal.aborted) {
        await sleep(rng.int(60, 300), stop.signal);
        const alive = live();
        if (stop.signal.aborted || alive.length === 0) break;
        const instance = rng.pick(alive);
        // Mostly a viewer's link; sometimes an instance's link to the store.
        const toStore = rng.chance(0.15);
        const proxy = toStore ? instance.storeProxy : rng.pick(instance.proxies);
        const ms = rng.int(0, toStore ? 150 : 80);
        proxy.drop();
        if (toStore) storeCuts++;
        else cuts++;
        await sleep(ms);
        proxy.restore();
      }
    })();

    const viewerRuns: Promise<void>[] = [];
    const supervisors: Promise<void>[] = [];
    const jobCount = rng.int(20, 30);
    // One shutdown, sometimes two.
    const closeAt = new Set([rng.int(Math.floor(jobCount / 4), Math.floor(jobCount / 2))]);
    if (rng.chance(0.5)) closeAt.add(rng.int(Math.floor(jobCount / 2) + 1, jobCount - 2));
    let shutdown: Promise<void> | undefined;
    /** Shutdowns of an instance that had a job running. */
    let orphaned = 0;

    for (let j = 0; j < jobCount; j++) {
      await sleep(rng.int(0, 40));
      if (closeAt.has(j)) {
        // Shut down an instance mid-job (the one that started the latest job still
        // running there), and replace it.
        const fallback = rng.pick(live()); // drawn always, so the plan does not shift
        let victim: Instance | undefined;
        for (const job of [...jobs].reverse()) {
          if (!job.startedOn.live || job.resumes > 0) continue;
          if ((await observer.store.getJob(job.id))?.status !== 'running') continue;
          victim = job.startedOn;
          break;
        }
        if (victim) orphaned++;
        victim ??= fallback;
        note(`closing ${victim.name}`);
        shutdown = victim.close().then(async () => {
          closed.push(victim);
          expect(victim.jobServer.activeStreams).toBe(0);
          await bringUp();
        });
        await shutdown;
      }
      const ownerId = owner(j);
      const startedOn = rng.pick(live());
      const input: ChaosInput = {
        name: `j${j}`,
        pauses: Array.from({ length: 5 }, () => rng.int(0, 30)),
        topics: rng.int(1, 3),
      };
      // A start during a cut of the instance's store link answers 503: a user tries again.
      const { jobId } = await retried(() => directClient(startedOn, ownerId).start(input));
      const job: ChaosJob = {
        index: j,
        id: jobId,
        ownerId,
        startedOn,
        cancelRequested: false,
        resumes: 0,
        viewers: [],
      };
      jobs.push(job);
      note(`start ${job.index} ${jobId} on ${startedOn.name}`);
      const viewerCount = rng.int(1, 3);
      for (let v = 0; v < viewerCount; v++) {
        const viewerRng = prng(rng.int(0, 2 ** 31));
        const placement: Placement = rng.chance(0.5) ? 'sticky' : 'roaming';
        const delay = rng.int(0, 300);
        const client = createJobClient<typeof chaosJob>({
          baseUrl: `http://chaos.invalid${BASE_PATH}`,
          headers: { 'x-user': ownerId },
          fetch: viewerFetch(placement, viewerRng),
        });
        if (rng.chance(0.5)) {
          const viewer: SubscribeViewer = {
            kind: 'subscribe',
            jobIndex: j,
            events: [],
            errors: [],
            subscriptions: [],
            done: false,
          };
          job.viewers.push(viewer);
          viewerRuns.push(sleep(delay).then(() => runSubscriber(job, viewer, client)));
        } else {
          const viewer: WatchViewer = {
            kind: 'watch',
            jobIndex: j,
            handles: [],
            watcher: undefined,
            errors: [],
            parked: undefined,
            claimed: false,
            done: false,
          };
          job.viewers.push(viewer);
          viewerRuns.push(sleep(delay).then(() => runWatcher(job, viewer, client)));
        }
      }
      if (rng.chance(0.2)) {
        // Cancel from another instance than the one that runs the job.
        const delay = rng.int(0, 400);
        const choose = prng(rng.int(0, 2 ** 31));
        supervisors.push(
          sleep(delay).then(async () => {
            job.cancelRequested = true;
            await retried(async () => {
              const others = live().filter((instance) => instance !== job.startedOn);
              const via = choose.pick(others.length ? others : live());
              note(`cancel ${job.index} via ${via.name}`);
              await directClient(via, ownerId)
                .cancel(jobId, 'chaos')
                .catch((error: JobClientError) => {
                  // It finished (or failed, to be resumed) first: a 409 is the answer.
                  if (error.status !== 409) throw error;
                });
            });
          }),
        );
      }
      supervisors.push(supervise(job, prng(rng.int(0, 2 ** 31))));
      // Awaited together below; a rejection meanwhile is not "unhandled".
      for (const run of [...supervisors, ...viewerRuns]) run.catch(() => {});
    }
    await shutdown;
    note('all started');

    // A hang shows what is still waiting rather than only a test timeout.
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new Error(`stuck:\n${describeState()}`)), WATCHDOG_MS);
    });
    try {
      await Promise.race([Promise.all(supervisors), stuck]);
      note('supervisors done');
      await Promise.race([Promise.all(viewerRuns), stuck]);
      note('viewers done');
    } finally {
      clearTimeout(watchdog);
    }
    stop.abort();
    await cutter;
    note(`cuts ${cuts}`);

    // Every job ended: completed, or cancelled when the test asked for it.
    for (const job of jobs) {
      const stored = await observer.store.getJob(job.id);
      expect(stored?.status, `job ${job.index}`).toBe(
        stored?.status === 'cancelled' && job.cancelRequested ? 'cancelled' : 'completed',
      );
      const events = await observer.store.readEvents(job.id, { after: 0, limit: 10_000 });
      expect(events.map((event) => event.id)).toEqual(events.map((_, i) => i + 1));
      expect(events.length).toBe(stored?.version);
      for (const viewer of job.viewers) {
        const where = `job ${job.index} (${job.id}), ${viewer.kind} viewer`;
        if (viewer.kind === 'subscribe') {
          // Exactly the store's events, in order, none repeated, the terminal one last.
          expect(
            viewer.events.map((event) => event.id),
            where,
          ).toEqual(events.map((event) => event.id));
          expect(viewer.events.map(envelope), where).toEqual(events.map(envelope));
          expect(
            viewer.subscriptions.every((sub) => sub.state === 'closed'),
            where,
          ).toBe(true);
        } else {
          const snapshot = viewer.watcher?.getSnapshot();
          expect(snapshot?.lastEventId, where).toBe(stored?.version);
          // The snapshot is documented as the fold of every event: the whole stored record.
          expect(snapshot?.job, where).toEqual(stored);
          expect(snapshot?.connection, where).toBe('closed');
        }
      }
    }

    expect(wireProblems).toEqual([]);

    // Nothing left open: no stream on any instance, no store listener anywhere.
    const open = () =>
      live().map((instance) => ({
        name: instance.name,
        streams: instance.jobServer.activeStreams,
        listeners: instance.store.listenerCount(),
      }));
    await waitFor(
      () => open().every((instance) => instance.streams === 0 && instance.listeners === 0),
      30_000,
    ).catch(() => {
      throw new Error(`still open after every job ended: ${JSON.stringify(open())}`);
    });
    for (const job of jobs) {
      for (const viewer of job.viewers) if (viewer.kind === 'watch') viewer.watcher?.close();
    }
    for (const instance of live()) await instance.close();
    for (const instance of instances) {
      expect(instance.jobServer.activeStreams, instance.name).toBe(0);
      expect(instance.store.listenerCount(), instance.name).toBe(0);
    }
    expect(closed.length).toBeGreaterThan(0);
    expect(orphaned, 'no shutdown found a running job').toBeGreaterThan(0);
    // A live instance reports only the store's outages (its link is cut at times).
    const unexpected = serverErrors.filter(
      (error) => (error as { code?: unknown })?.code !== 'store_unavailable',
    );
    expect(unexpected.map(String)).toEqual([]);
    return {
      jobs: jobs.length,
      viewers: jobs.reduce((n, job) => n + job.viewers.length, 0),
      cuts,
      storeCuts,
      shutdowns: closed.length,
      resumes: jobs.reduce((n, job) => n + job.resumes, 0),
      cancelled: jobs.filter((job) => job.cancelRequested).length,
    };
  } catch (error) {
    console.error(
      `chaos test failed with seed ${seed}; replay with JOBSTREAM_CHAOS_SEED=${seed}\n${log.slice(-60).join('\n')}\nreported by the servers: ${serverErrors.map((e) => `${(e as { code?: string }).code} ${e}`).join('\n')}`,
    );
    throw error;
  } finally {
    stop.abort();
    for (const job of jobs) {
      for (const viewer of job.viewers) {
        if (viewer.kind === 'subscribe') for (const sub of viewer.subscriptions) sub.close();
        else for (const handle of viewer.handles) handle.close();
      }
    }
    for (const instance of live()) await instance.close().catch(() => {});
    await observer.close();
  }

  function describeState(): string {
    const lines = instances.map(
      (i) =>
        `${i.name} live=${i.live} streams=${i.jobServer.activeStreams} listeners=${i.store.listenerCount()}`,
    );
    for (const job of jobs) {
      for (const viewer of job.viewers) {
        if (viewer.done) continue;
        if (viewer.kind === 'subscribe') {
          lines.push(
            `job ${job.index} ${job.id} subscribe: last=${viewer.events.at(-1)?.id}/${viewer.events.at(-1)?.type} states=${viewer.subscriptions.map((sub) => sub.state)} errors=${viewer.errors.map((e) => e.message).slice(-3)}`,
          );
        } else {
          const snap = viewer.watcher?.getSnapshot();
          lines.push(
            `job ${job.index} ${job.id} watch: last=${snap?.lastEventId} status=${snap?.job?.status} connection=${snap?.connection} parked=${!!viewer.parked} handles=${viewer.handles.length} errors=${viewer.errors.map((e) => e.message).slice(-3)}`,
          );
        }
      }
    }
    return [...lines, ...log.slice(-40)].join('\n');
  }

  /** Reads the job to its end, subscribing again after a failure the test resumes. */
  async function runSubscriber(
    job: ChaosJob,
    viewer: SubscribeViewer,
    client: JobClient<typeof chaosJob>,
  ) {
    for (;;) {
      await new Promise<void>((resolve) => {
        const sub = client.subscribe(job.id, {
          lastEventId: viewer.events.at(-1)?.id ?? 0,
          retry: { initialDelayMs: 50, maxDelayMs: 400 },
          onEvent: (event) => viewer.events.push(event as JobEvent),
          onError: (error) => viewer.errors.push(error),
          onStateChange: (state) => state === 'closed' && resolve(),
        });
        viewer.subscriptions.push(sub);
      });
      const last = viewer.events.at(-1);
      if (last?.type !== 'job_failed') break;
      // A failed job is resumed by the test: follow on once it is.
      await waitFor(
        async () => ((await observer.store.getJob(job.id))?.version ?? 0) > last.id,
        LONG,
      );
    }
    viewer.done = true;
  }

  /** Watches the job to its end; at a failure, waits for the resume (maybe its own). */
  async function runWatcher(
    job: ChaosJob,
    viewer: WatchViewer,
    client: JobClient<typeof chaosJob>,
  ) {
    const open = () => {
      const watcher = watchJob(client, job.id);
      viewer.handles.push(watcher);
      viewer.watcher = watcher;
      watcher.subscribe(() => {
        const { error } = watcher.getSnapshot();
        if (error && viewer.errors.at(-1) !== error) viewer.errors.push(error);
      });
      return watcher;
    };
    let watcher = open();
    for (;;) {
      await waitFor(() => watcher.getSnapshot().connection === 'closed', LONG);
      const { job: seen, lastEventId } = watcher.getSnapshot();
      if (seen?.status !== 'failed') break;
      const resumedHere = await new Promise<boolean>((resolve) => {
        viewer.claimed = false;
        viewer.parked = resolve;
        // Resumed elsewhere already (or while this watcher caught up): open a new one.
        waitFor(
          async () =>
            viewer.claimed || ((await observer.store.getJob(job.id))?.version ?? 0) > lastEventId,
          LONG,
        )
          .then(() => {
            if (!viewer.claimed) resolve(false);
          })
          .catch(() => {}); // the watchdog reports a hang
      });
      viewer.parked = undefined;
      if (resumedHere) {
        // resume() follows on: wait for that connection to begin before looking again.
        await waitFor(() => {
          const now = watcher.getSnapshot();
          return now.connection !== 'closed' || now.lastEventId > lastEventId;
        }, LONG);
      } else {
        // As a page would, later: a handle taken again in the same tick keeps the old
        // connection (watchJob's StrictMode rule), which ended at the failure.
        watcher.close();
        await sleep(1);
        watcher = open();
        if (viewer.handles.length > 10)
          throw new Error(`job ${job.index}: watcher reopened 10 times`);
      }
    }
    viewer.done = true;
  }

  /** Drives the job to completed or cancelled, resuming it whenever it fails. */
  async function supervise(job: ChaosJob, choose: Rng) {
    for (;;) {
      let stored: Job | null = null;
      await waitFor(async () => {
        stored = await observer.store.getJob(job.id);
        return (
          stored?.status === 'completed' ||
          stored?.status === 'cancelled' ||
          stored?.status === 'failed'
        );
      }, LONG);
      const current = stored as Job | null;
      if (current?.status !== 'failed') return;
      job.resumes++;
      note(`resume ${job.index} (${current.error?.code ?? current.error?.message})`);
      // Through a watcher waiting at the failure when there is one (its resume() follows
      // on), else straight to a random instance.
      const parked = job.viewers.filter(
        (viewer): viewer is WatchViewer =>
          viewer.kind === 'watch' &&
          viewer.parked !== undefined &&
          viewer.watcher?.getSnapshot().lastEventId === current.version,
      );
      let resumed = false;
      if (parked.length && choose.chance(0.5)) {
        const viewer = choose.pick(parked);
        viewer.claimed = true;
        try {
          await viewer.watcher?.resume();
          resumed = true;
        } catch (error) {
          // Cut on its way (it goes through the proxies): maybe applied, maybe not.
          if (!(error as JobClientError).retryable) throw error;
          note(`resume ${job.index} through a watcher was cut`);
        }
        viewer.parked?.(resumed);
      }
      if (!resumed && (await observer.store.getJob(job.id))?.status === 'failed') {
        await retried(() =>
          directClient(choose.pick(live()), job.ownerId)
            .resume(job.id)
            .catch(async (error: JobClientError) => {
              // An earlier try went through but its answer was cut.
              if (
                error.status !== 409 ||
                (await observer.store.getJob(job.id))?.status === 'failed'
              )
                throw error;
            }),
        );
      }
      await waitFor(
        async () => ((await observer.store.getJob(job.id))?.version ?? 0) > current.version,
        LONG,
      );
    }
  }
}

const backends: [string, string | undefined, (url: string) => Promise<Backend>][] = [
  ['PostgreSQL', databaseUrl, postgresBackend],
  ['Redis', redisUrl, redisBackend],
];

for (const [name, url, make] of backends) {
  describe.skipIf(!url)(`chaos over ${name}`, () => {
    if (!url)
      console.warn(
        `chaos over ${name} skipped: its URL is not set (run through scripts/with-services.mjs)`,
      );
    for (const seed of seeds) {
      it(
        `seed ${seed}: every viewer gets exactly the store's events through cuts and a shutdown`,
        async () => {
          const backend = await make(url as string);
          try {
            const outcome = await chaosRun(seed, backend);
            console.info(`chaos over ${name}, seed ${seed}: ${JSON.stringify(outcome)}`);
          } finally {
            await backend.drop();
          }
        },
        LONG + 60_000,
      );
    }
  });
}
