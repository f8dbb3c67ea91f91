import { describe, expect, it } from 'vitest';
import { JobstreamError } from './errors.js';
import type { JobEvent } from './events.js';
import { followJob } from './follow-job.js';
import { ProgressTracker } from './progress-tracker.js';
import type { JobStore } from './store.js';

export interface JobStoreOutageOptions<S extends JobStore = JobStore> {
  /** Shown in the test name. */
  name: string;
  /**
   * The store a job's worker writes through, connected through a link the test can cut
   * (a TCP proxy in front of the server: see the PostgreSQL and Redis tests).
   */
  store: () => S;
  /** Another process's store on the same data, on a link that stays up (the viewer). */
  peer: () => JobStore;
  /** Cuts the link: open connections reset, new ones refused (a restart, a failover). */
  cut: () => void | Promise<void>;
  restore: () => void | Promise<void>;
  /** How long the link stays down. @default 1500 */
  outageMs?: number;
  /** Time limit of the case. @default 60_000 */
  testTimeoutMs?: number;
}

const STEPS = [
  { name: 'fetch_questions', label: 'Fetching questions' },
  { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
];

const EXPECTED = [
  'job_created',
  'job_started',
  'step_started',
  'step_progress',
  'step_completed',
  'step_started',
  'topic_started',
  'topic_completed',
  'step_completed',
  'job_completed',
];

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `store` whose every commit is written and then answers `store_unavailable`, as when
 * the connection drops between the write and its answer.
 */
function losingEveryAnswer<S extends JobStore>(store: S): JobStore {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'commit') {
        return async (...args: Parameters<JobStore['commit']>) => {
          await target.commit(...args);
          throw new JobstreamError('store_unavailable', 'the answer was lost');
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** App data a store turns to JSON and back: key order, Dates, undefined, odd numbers. */
const AWKWARD = {
  zeta: 1,
  alpha: { b: [1, undefined, 0.1 + 0.2, -0, 1e21, 5e-324], a: new Date(0) },
  gone: undefined,
  nan: Number.NaN,
  '10': 'ten',
  '2': 'two',
  text: 'é ü 漢字 😀 \u2028 "quoted" \\ back\nslash',
};

/**
 * A store outage under a running job: the link between the worker's store and its server
 * goes down mid-job and comes back. What jobstream needs of the store: while it cannot
 * reach its server it rejects with `store_unavailable` (or waits), never half-writes, and
 * its subscriptions catch up after the link returns. Then the job's tracker waits the
 * outage out, and every event is stored and delivered once, in order, to a viewer on
 * another instance and to a listener on the cut store itself.
 *
 * @example
 * runJobStoreOutage({ name: 'MyStore', store: () => behindProxy, peer: () => direct,
 *   cut: () => proxy.drop(), restore: () => proxy.restore() });
 */
export function runJobStoreOutage<S extends JobStore>(options: JobStoreOutageOptions<S>): void {
  const outageMs = options.outageMs ?? 1500;
  describe(`JobStore outage: ${options.name}`, { timeout: options.testTimeoutMs ?? 60_000 }, () => {
    it("a running job's writes wait the outage out; every event is stored and delivered once, in order", async () => {
      const worker = options.store();
      const peer = options.peer();
      const tracker = await ProgressTracker.create(
        worker,
        { ownerId: `outage-${Date.now()}`, kind: 'course', input: {}, steps: STEPS },
        { coalesceMs: 0 },
      );
      const viewing = (async () => {
        const seen: JobEvent[] = [];
        for await (const event of followJob(peer, tracker.jobId)) seen.push(event);
        return seen;
      })();
      // A listener on the store whose link is cut: it must catch up after the link returns.
      const live: number[] = [];
      const unsubscribe = await worker.subscribe(tracker.jobId, (event) => live.push(event.id));
      try {
        await tracker.start();
        await tracker.startStep('fetch_questions');
        await options.cut();
        let restored = false;
        const restoring = new Promise<void>((resolve, reject) =>
          setTimeout(() => {
            restored = true;
            Promise.resolve(options.restore()).then(resolve, reject);
          }, outageMs),
        );
        // Made while the store cannot reach its server: each waits, none is lost or doubled.
        tracker.progress(60, 'Read 24 of 40 questions');
        await tracker.completeStep();
        expect(restored, 'a write made during the outage resolved before the link returned').toBe(
          true,
        );
        await tracker.startStep('generate_lessons');
        await tracker.startTopic('Cardiology', { index: 1, count: 1 });
        await tracker.completeTopic({ lessonsGenerated: 3 });
        await restoring;
        const done = await tracker.complete({ courseId: 'c1' });
        expect(done.version).toBe(EXPECTED.length);

        const seen = await viewing;
        expect(
          seen.map((e) => e.type),
          'the events a viewer on the peer store read',
        ).toEqual(EXPECTED);
        expect(seen.map((e) => e.id)).toEqual(EXPECTED.map((_, i) => i + 1));
        expect((await peer.getJob(tracker.jobId))?.result).toEqual({ courseId: 'c1' });
        // Subscribed after event 1: events 2… once each, in order, after the link returned.
        await until(() => live.length >= EXPECTED.length - 1, 'the cut store to catch up');
        expect(live, 'the events a listener on the cut store got').toEqual(
          EXPECTED.slice(1).map((_, i) => i + 2),
        );
      } finally {
        unsubscribe();
        tracker.close();
      }
    });

    it('every commit written but its answer lost: the tracker finds each in the store and writes it once', async () => {
      const tracker = await ProgressTracker.create(
        losingEveryAnswer(options.store()),
        { ownerId: `lost-${Date.now()}`, kind: 'course', input: {}, steps: STEPS },
        { coalesceMs: 0 },
      );
      try {
        await tracker.start();
        await tracker.startStep('fetch_questions');
        tracker.progress(60, 'Read 24 of 40 questions');
        await tracker.completeStep({ meta: AWKWARD });
        await tracker.startStep('generate_lessons');
        await tracker.startTopic('Cardiology', { index: 1, count: 1 });
        await tracker.completeTopic({ ...AWKWARD, lessonsGenerated: 3 });
        const done = await tracker.complete(AWKWARD);
        expect(done.version).toBe(EXPECTED.length);
        const events = await options.peer().readEvents(tracker.jobId);
        expect(events.map((e) => e.type)).toEqual(EXPECTED);
        expect((await options.peer().getJob(tracker.jobId))?.result).toEqual(
          JSON.parse(JSON.stringify(AWKWARD)),
        );
      } finally {
        tracker.close();
      }
    });
  });
}
