// maxStreamAgeMs: a stream is ended at its age limit between two frames, after `retry: 0`,
// and a reconnection with Last-Event-ID goes on from the next event.
import { MemoryJobStore } from '@jobstream/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createJobServer, defineJob } from '../src/index.js';
import { quickJob, startJob, startServer, type TestServer, waitingJob } from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = null;
});

/** Reports progress every few ms, `ticks` times, so events are flowing when a stream ends. */
const tickingJob = defineJob({
  kind: 'course',
  input: z.object({ examId: z.string(), ticks: z.number() }),
  steps: ['tick'],
  async run({ ticks }, { tracker }) {
    await tracker.startStep('tick');
    for (let i = 1; i <= ticks; i++) {
      tracker.progress((i * 100) / ticks, `tick ${i}`);
      await tracker.flush();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await tracker.completeStep();
    return { courseId: 'ticked' };
  },
});

interface RawRead {
  status: number;
  /** The body as sent, to check where the server ended it. */
  text: string;
  events: EventSourceMessage[];
}

/** One stream request, read to its end. */
async function readRaw(base: string, jobId: string, lastEventId?: string): Promise<RawRead> {
  const headers: Record<string, string> = { 'x-user': 'alice' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const response = await fetch(`${base}/stream/${jobId}`, { headers });
  const text = await response.text();
  const events: EventSourceMessage[] = [];
  createParser({ onEvent: (event) => events.push(event) }).feed(text);
  return { status: response.status, text, events };
}

const TERMINAL = /^job_(completed|failed|cancelled)$/;

describe('maxStreamAgeMs', () => {
  it('ends an old stream between two events after retry: 0; the reconnection goes on from the next event and gets its slot', async () => {
    // One stream per owner: each reconnection is admitted only if the ended stream's slot
    // was freed before the client could see the end.
    server = await startServer({ jobs: [tickingJob], maxStreamAgeMs: 150, maxStreamsPerOwner: 1 });
    const { base, store } = server;
    const { jobId } = await startJob(base, 'e1', 'alice', { ticks: 120 });
    const reads: RawRead[] = [];
    let last: string | undefined;
    while (reads.length < 100) {
      const read = await readRaw(base, jobId, last);
      expect(read.status).toBe(200);
      reads.push(read);
      last = read.events.at(-1)?.id ?? last;
      if (TERMINAL.test(read.events.at(-1)?.event ?? '')) break;
    }

    const rotated = reads.slice(0, -1);
    expect(rotated.length).toBeGreaterThanOrEqual(1);
    for (const read of rotated) {
      expect(read.text.startsWith('retry: 3000\n\n')).toBe(true);
      // Nothing after the reconnect request, and no frame cut short before it.
      expect(read.text.endsWith('\n\nretry: 0\n\n')).toBe(true);
      expect(read.text.match(/^retry: 0$/gm)).toHaveLength(1);
    }
    // Events were flowing across at least one of the ends.
    expect(rotated.some((read) => read.events.length > 0)).toBe(true);

    const final = reads.at(-1) as RawRead;
    expect(final.events.at(-1)?.event).toBe('job_completed');
    expect(final.text).not.toMatch(/^retry: 0$/m);

    const stored = await store.readEvents(jobId);
    const received = reads.flatMap((read) => read.events.map((event) => Number(event.id)));
    expect(received).toEqual(stored.map((event) => event.id));
    expect(server.jobServer.activeStreams).toBe(0);
  }, 30_000);

  it('leaves a stream that ends with its job before the limit as it was', async () => {
    server = await startServer({ maxStreamAgeMs: 60_000 });
    const { jobId } = await startJob(server.base);
    const read = await readRaw(server.base, jobId);
    expect(read.events.at(-1)?.event).toBe('job_completed');
    expect(read.text).not.toMatch(/^retry: 0$/m);
    expect(read.text.endsWith('\n\n')).toBe(true);
    expect(server.jobServer.activeStreams).toBe(0);
  });

  it('draws each limit between 80 % and 100 %, so streams opened together do not end together', async () => {
    vi.useFakeTimers();
    const store = new MemoryJobStore();
    const jobServer = createJobServer({
      store,
      jobs: [waitingJob],
      authenticate: () => 'alice',
      maxStreamAgeMs: 10_000,
      onError: () => {},
    });
    const { job } = await store.createJob({
      ownerId: 'alice',
      kind: 'waiting',
      input: {},
      steps: [{ name: 'wait' }, { name: 'after' }],
    });
    const start = Date.now();
    const ends: number[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await jobServer.stream(new Request(`http://x/stream/${job.id}`));
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      void (async () => {
        while (!(await reader.read()).done);
        ends.push(Date.now() - start);
      })();
    }
    expect(jobServer.activeStreams).toBe(20);
    await vi.advanceTimersByTimeAsync(7_999);
    expect(ends).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_001);
    expect(ends).toHaveLength(20);
    expect(jobServer.activeStreams).toBe(0);
    expect(Math.min(...ends)).toBeGreaterThanOrEqual(8_000);
    expect(Math.max(...ends)).toBeLessThanOrEqual(10_000);
    expect(new Set(ends).size).toBeGreaterThan(10);
    jobServer.close();
    store.close();
  });

  it('is 4 minutes by default; false and Infinity keep a stream open until its job ends', async () => {
    vi.useFakeTimers();
    for (const maxStreamAgeMs of [undefined, false, Number.POSITIVE_INFINITY] as const) {
      const store = new MemoryJobStore();
      const jobServer = createJobServer({
        store,
        jobs: [quickJob],
        authenticate: () => 'alice',
        ...(maxStreamAgeMs === undefined ? {} : { maxStreamAgeMs }),
        staleAfterMs: false,
        onError: () => {},
      });
      const { job } = await store.createJob({
        ownerId: 'alice',
        kind: 'course',
        input: { examId: 'e' },
        steps: [{ name: 'fetch_questions' }],
      });
      const response = await jobServer.stream(new Request(`http://x/stream/${job.id}`));
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let ended = false;
      void (async () => {
        while (!(await reader.read()).done);
        ended = true;
      })();
      await vi.advanceTimersByTimeAsync(191_999);
      expect(ended).toBe(false);
      await vi.advanceTimersByTimeAsync(48_001);
      if (maxStreamAgeMs === undefined) {
        expect(ended).toBe(true);
        expect(jobServer.activeStreams).toBe(0);
        jobServer.close();
        store.close();
        continue;
      }
      await vi.advanceTimersByTimeAsync(3_600_000);
      expect(ended).toBe(false);
      expect(jobServer.activeStreams).toBe(1);
      jobServer.close();
      await vi.advanceTimersByTimeAsync(0);
      expect(ended).toBe(true);
      store.close();
    }
  });
});
