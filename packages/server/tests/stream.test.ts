import { MemoryJobStore, ProgressTracker } from '@jobstream/core';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../src/index.js';
import { readStream, startJob, startServer, type TestServer, waitFor } from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function finishedJob(s: TestServer) {
  const { jobId } = await startJob(s.base);
  await waitFor(async () => (await s.store.getJob(jobId))?.status === 'completed');
  const job = await s.store.getJob(jobId);
  return { jobId, total: job?.version ?? 0 };
}

describe('GET /stream', () => {
  it('streams a whole job: headers, retry, every event in order, seed fields, then ends', async () => {
    server = await startServer();
    const { jobId, streamUrl } = await startJob(server.base);
    expect(streamUrl).toBe(`/api/generation/stream/${jobId}`);
    const read = await readStream(server.base, jobId);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(read.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(read.headers.get('x-accel-buffering')).toBe('no');
    expect(read.retry).toBe(3000);
    expect(read.ended).toBe(true);

    const stored = await server.store.readEvents(jobId);
    expect(read.events.map((e) => Number(e.id))).toEqual(stored.map((e) => e.id));
    expect(read.events.map((e) => e.event)).toEqual(stored.map((e) => e.type));
    expect(read.events.at(-1)?.event).toBe('job_completed');
    for (const [i, frame] of read.events.entries()) {
      const body = JSON.parse(frame.data);
      expect(body.data).toEqual(stored[i]?.data);
      expect(body.id).toBe(stored[i]?.id);
      expect(body.jobId).toBe(jobId);
    }
    // The seed's EventSource code reads these at the top level.
    const progress = read.events.find((e) => e.event === 'step_progress');
    expect(JSON.parse(progress?.data ?? '{}').progress).toBeGreaterThan(0);
    expect(JSON.parse(read.events.at(-1)?.data ?? '{}').courseId).toBe('course-e1');
  });

  it('replays a failed job that was resumed since past its job_failed, to the end', async () => {
    // Found by the client's chaos test: the replay ended at the first job_failed, so a
    // viewer opened after the resume saw a failed job that had in fact completed.
    server = await startServer();
    const { job } = await server.store.createJob({
      ownerId: 'alice',
      kind: 'course',
      input: { examId: 'e1' },
      steps: [{ name: 'fetch_questions' }],
    });
    const tracker = new ProgressTracker(server.store, job.id);
    onTestFinished(() => tracker.close());
    await tracker.start();
    await tracker.startStep('fetch_questions');
    await tracker.fail(new Error('worker lost'));
    await tracker.resume();
    await tracker.start();
    await tracker.startStep('fetch_questions');
    await tracker.complete({ courseId: 'c1' });
    // Twice: the first reader follows on its own, the second shares its fan if still open.
    for (const read of await Promise.all([
      readStream(server.base, job.id),
      readStream(server.base, job.id),
    ])) {
      expect(read.ended).toBe(true);
      expect(read.events.map((e) => e.event)).toEqual(
        (await server.store.readEvents(job.id)).map((e) => e.type),
      );
      expect(read.events.map((e) => e.event)).toContain('job_failed');
      expect(read.events.at(-1)?.event).toBe('job_completed');
    }
  });

  it('answers 204 to a reconnect to a finished job with nothing newer', async () => {
    server = await startServer();
    const { jobId, total } = await finishedJob(server);
    const read = await readStream(server.base, jobId, { lastEventId: total });
    expect(read.status).toBe(204);
    const partial = await readStream(server.base, jobId, { lastEventId: total - 1 });
    expect(partial.events.map((e) => Number(e.id))).toEqual([total]);
  });

  it('accepts ?lastEventId= for clients that cannot set headers', async () => {
    server = await startServer();
    const { jobId, total } = await finishedJob(server);
    const response = await fetch(`${server.base}/stream/${jobId}?lastEventId=${total - 2}`, {
      headers: { 'x-user': 'alice' },
    });
    const text = await response.text();
    expect(text.match(/^id: \d+$/gm)).toEqual([`id: ${total - 1}`, `id: ${total}`]);
  });

  it('drop at every event index of a finished job, then resume: each event exactly once', async () => {
    server = await startServer();
    const { jobId, total } = await finishedJob(server);
    for (let dropAfter = 1; dropAfter <= total; dropAfter++) {
      const first = await readStream(server.base, jobId, { take: dropAfter });
      const firstIds = first.events.map((e) => Number(e.id));
      const last = firstIds.at(-1) ?? 0;
      const second = await readStream(server.base, jobId, { lastEventId: last });
      const ids = [...firstIds, ...second.events.map((e) => Number(e.id))];
      expect(ids).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      if (last === total) expect(second.status).toBe(204);
    }
  });

  it('drop after every single event of a live job and resume: no gap, no duplicate at the seam', async () => {
    // A job that advances only when the test says so, so every drop lands mid-stream.
    let advance: () => void = () => {};
    const gate = () =>
      new Promise<void>((resolve) => {
        advance = resolve;
      });
    const stepped = defineJob({
      kind: 'stepped',
      input: z.object({}),
      steps: ['a', 'b'],
      async run(_input, { tracker }) {
        for (const step of ['a', 'b'] as const) {
          await gate();
          await tracker.startStep(step);
          for (let p = 25; p <= 100; p += 25) {
            await gate();
            tracker.progress(p);
            await tracker.flush();
          }
        }
        await gate();
        return { done: true };
      },
    });
    server = await startServer({ jobs: [stepped] });
    const { jobId } = await startJob(server.base);
    const seen: number[] = [];
    let lastId = 0;
    // The job advances one event every few ms on its own, while the viewer reconnects
    // after every single event: some seams fall on replayed events, some on live ones.
    const pump = setInterval(() => advance(), 3);
    onTestFinished(() => clearInterval(pump));
    for (let round = 0; round < 200; round++) {
      const read = await readStream(server.base, jobId, { lastEventId: lastId, take: 1 });
      if (read.status === 204) break;
      for (const event of read.events) seen.push(Number(event.id));
      lastId = seen.at(-1) ?? lastId;
      if (read.events.at(-1)?.event === 'job_completed') break;
    }
    const job = await server.store.getJob(jobId);
    expect(job?.status).toBe('completed');
    expect(seen).toEqual(Array.from({ length: job?.version ?? 0 }, (_, i) => i + 1));
  });

  it('50 concurrent jobs, each viewer dropping mid-stream and resuming, get every event once', async () => {
    // Each job waits until its viewer has read once, so that first read is always cut
    // mid-job, however slowly a loaded machine runs the viewers.
    const gates = Array.from({ length: 50 }, () => {
      let resolve: () => void = () => {};
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      return { promise, resolve };
    });
    const paced = defineJob({
      kind: 'paced',
      input: z.object({ n: z.number() }),
      steps: ['one', 'two'],
      async run({ n }, { tracker }) {
        await gates[n]?.promise;
        for (const step of ['one', 'two'] as const) {
          await tracker.startStep(step);
          for (let p = 10; p <= 100; p += 10) {
            tracker.progress(p, `${step} ${p}`);
            await tracker.flush();
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        return { n };
      },
    });
    server = await startServer({ jobs: [paced] });
    const s = server;
    const viewers = Array.from({ length: 50 }, async (_, n) => {
      const { jobId } = await startJob(s.base, 'x', 'alice', { n });
      const ids: number[] = [];
      let last = 0;
      let drops = 0;
      let cuts = 0;
      for (;;) {
        // Drop after 1..5 events, differently per viewer, until the job ends.
        const read = await readStream(s.base, jobId, {
          lastEventId: last,
          // The first read takes one event (the job waits for it); then 1..5, per viewer.
          take: drops === 0 ? 1 : drops < 4 ? 1 + ((n + drops) % 5) : undefined,
        });
        drops++;
        gates[n]?.resolve();
        if (!read.ended) cuts++;
        if (read.status === 204) break;
        for (const event of read.events) ids.push(Number(event.id));
        last = ids.at(-1) ?? last;
        if (read.events.at(-1)?.event === 'job_completed') break;
      }
      const job = await s.store.getJob(jobId);
      expect(job?.status).toBe('completed');
      expect(ids).toEqual(Array.from({ length: job?.version ?? 0 }, (_, i) => i + 1));
      return cuts;
    });
    const drops = await Promise.all(viewers);
    // Every viewer's connection was cut mid-job at least once.
    expect(drops.every((cuts) => cuts >= 1)).toBe(true);
  }, 60_000);

  it('sends heartbeat comments on an idle stream', async () => {
    server = await startServer({ heartbeatMs: 30 });
    const { job } = await server.store.createJob({
      ownerId: 'alice',
      kind: 'course',
      input: { examId: 'idle' },
      steps: [{ name: 'fetch_questions' }],
    });
    const controller = new AbortController();
    const response = await fetch(`${server.base}/stream/${job.id}`, {
      headers: { 'x-user': 'alice' },
      signal: controller.signal,
    });
    // Read until two heartbeats arrived (no clock involved: the test limit catches a hang).
    const reader = response.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/^: ping$/gm) ?? []).length < 2) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    expect(text.match(/^: ping$/gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text.match(/^event: .*$/gm)).toEqual(['event: job_created']);
  });

  it('rejects a forged frame: newlines in payload strings stay inside one data line', async () => {
    server = await startServer();
    const tracker = await ProgressTracker.create(server.store, {
      ownerId: 'alice',
      kind: 'course',
      input: { examId: 'x' },
      steps: [{ name: 's' }],
    });
    await tracker.startStep('s', 'line one\n\nevent: job_completed\ndata: {"forged":true}\r\n');
    await tracker.cancel('stop\nid: 999');
    const read = await readStream(server.base, tracker.jobId);
    expect(read.events.map((e) => e.event)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'job_cancelled',
    ]);
    expect(JSON.parse(read.events[2]?.data ?? '{}').message).toContain('event: job_completed');
    expect(read.events.map((e) => e.id)).toEqual(['1', '2', '3', '4']);
  });

  it('1,000 connect/abort cycles leave no listener, no stream and no timer', async () => {
    const store = new MemoryJobStore();
    // Count timers the server (or core) creates and does not clear, by wrapping the
    // globals; the test's own fetch client (undici keep-alive timers) is not counted.
    const live = new Set<unknown>();
    const ours = () => /packages\/(server\/src|core\/)/.test(new Error().stack ?? '');
    const original = { setInterval, clearInterval, setTimeout, clearTimeout };
    globalThis.setInterval = ((fn: () => void, ms?: number) => {
      const handle = original.setInterval(fn, ms);
      if (ours()) live.add(handle);
      return handle;
    }) as typeof setInterval;
    globalThis.clearInterval = ((handle: Parameters<typeof clearInterval>[0]) => {
      live.delete(handle);
      original.clearInterval(handle);
    }) as typeof clearInterval;
    globalThis.setTimeout = ((
      fn: (...args: unknown[]) => void,
      ms?: number,
      ...args: unknown[]
    ) => {
      const handle = original.setTimeout(() => {
        live.delete(handle);
        fn(...args);
      }, ms);
      if (ours()) live.add(handle);
      return handle;
    }) as typeof setTimeout;
    globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
      live.delete(handle);
      original.clearTimeout(handle);
    }) as typeof clearTimeout;
    try {
      server = await startServer({ store, heartbeatMs: 50 });
      const { job } = await store.createJob({
        ownerId: 'alice',
        kind: 'course',
        input: { examId: 'x' },
        steps: [{ name: 'fetch_questions' }],
      });
      for (let i = 0; i < 1000; i++) {
        const controller = new AbortController();
        const response = await fetch(`${server.base}/stream/${job.id}`, {
          headers: { 'x-user': 'alice' },
          signal: controller.signal,
        });
        // Half read a chunk first, half abort with the body untouched.
        if (i % 2 === 0) await response.body?.getReader().read();
        controller.abort();
      }
      await waitFor(() => server?.jobServer.activeStreams === 0 && store.listenerCount() === 0);
      expect(store.listenerCount()).toBe(0);
      expect(server.jobServer.activeStreams).toBe(0);
      expect(live.size).toBe(0);
    } finally {
      Object.assign(globalThis, original);
    }
  }, 120_000);
});
