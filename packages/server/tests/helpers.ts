import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryJobStore } from '@jobstream/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { z } from 'zod';
import { createJobServer, defineJob, type JobServer, type JobServerOptions } from '../src/index.js';
import { toNodeHandler } from '../src/node.js';

export const STEPS = ['fetch_questions', 'analyze_topics', 'save_course'] as const;

/** A small course-like job: three steps, two progress events each, result `{ courseId }`. */
export const quickJob = defineJob({
  kind: 'course',
  input: z.object({ examId: z.string().min(1), failAt: z.enum(STEPS).optional() }),
  steps: STEPS,
  async run({ examId, failAt }, { tracker }) {
    for (const step of STEPS) {
      await tracker.startStep(step);
      if (failAt === step) throw new Error(`boom in ${step}`);
      tracker.progress(50, `${step} half`);
      await tracker.flush();
      tracker.progress(100, `${step} done`);
      await tracker.completeStep();
    }
    return { courseId: `course-${examId}` };
  },
});

/** A job that waits for its signal, so it stays running (holding its slot, its stream open) until cancelled. */
export const waitingJob = defineJob({
  kind: 'waiting',
  input: z.object({}),
  steps: ['wait', 'after'],
  async run(_input, { tracker, signal }) {
    await tracker.startStep('wait');
    await new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    await tracker.startStep('after'); // never reached
  },
});

export interface TestServer {
  url: string;
  base: string;
  store: MemoryJobStore;
  jobServer: JobServer;
  httpServer: http.Server;
  close(): Promise<void>;
}

/** A jobstream server behind node:http on 127.0.0.1:0; identity from `x-user`. */
export async function startServer(
  overrides: Partial<JobServerOptions> = {},
  basePath = '/api/generation',
): Promise<TestServer> {
  const store = (overrides.store as MemoryJobStore | undefined) ?? new MemoryJobStore();
  const jobServer = createJobServer({
    store,
    jobs: [quickJob],
    authenticate: (request) => request.headers.get('x-user'),
    basePath,
    tracker: { coalesceMs: 0 },
    onError: () => {},
    ...overrides,
  });
  const httpServer = http.createServer(toNodeHandler(jobServer));
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    base: `${url}${basePath}`,
    store,
    jobServer,
    httpServer,
    async close() {
      jobServer.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      store.close();
    },
  };
}

export function post(
  url: string,
  body: unknown,
  user: string | null = 'alice',
  init: RequestInit = {},
) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(user ? { 'x-user': user } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

export interface ReadOptions {
  user?: string;
  lastEventId?: number;
  /** Stop (abort the connection) after this many events. */
  take?: number;
  signal?: AbortSignal;
  /** Return what was read when the server cuts the connection, instead of throwing. */
  tolerateDrop?: boolean;
}

export interface StreamRead {
  status: number;
  headers: Headers;
  events: EventSourceMessage[];
  comments: string[];
  retry: number | null;
  /** True when the server ended the body (as opposed to us aborting). */
  ended: boolean;
  /** With `tolerateDrop`: the connection broke before the body ended. */
  dropped?: boolean;
}

/** Opens the stream and reads it with eventsource-parser (an independent SSE parser). */
export async function readStream(
  base: string,
  jobId: string,
  options: ReadOptions = {},
): Promise<StreamRead> {
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort());
  const headers: Record<string, string> = { 'x-user': options.user ?? 'alice' };
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
  const response = await fetch(`${base}/stream/${jobId}`, { headers, signal: controller.signal });
  const out: StreamRead = {
    status: response.status,
    headers: response.headers,
    events: [],
    comments: [],
    retry: null,
    ended: false,
  };
  if (!response.body) return out;
  const parser = createParser({
    onEvent: (event) => out.events.push(event),
    onComment: (comment) => out.comments.push(comment),
    onRetry: (retry) => {
      out.retry = retry;
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        out.ended = true;
        break;
      }
      parser.feed(decoder.decode(value, { stream: true }));
      if (options.take !== undefined && out.events.length >= options.take) {
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (options.tolerateDrop && !controller.signal.aborted) out.dropped = true;
    else if (!controller.signal.aborted) throw error;
  }
  return out;
}

const TERMINAL = new Set(['job_completed', 'job_failed', 'job_cancelled']);

/**
 * Reads a job's stream to its terminal event the way a reconnecting client does: after
 * a drop (or a body that ends early) it reconnects with `Last-Event-ID` set to the last
 * event it got. Returns every event received and how many reconnects it took.
 */
export async function readStreamToEnd(
  base: string,
  jobId: string,
  options: Omit<ReadOptions, 'take' | 'tolerateDrop'> = {},
): Promise<{ events: EventSourceMessage[]; reconnects: number }> {
  const events: EventSourceMessage[] = [];
  for (let reconnects = 0; reconnects < 100; reconnects++) {
    const last = events.at(-1)?.id;
    const read = await readStream(base, jobId, {
      ...options,
      lastEventId: last === undefined ? options.lastEventId : Number(last),
      tolerateDrop: true,
    });
    if (read.status === 204) return { events, reconnects };
    if (read.status !== 200) throw new Error(`stream answered ${read.status}`);
    events.push(...read.events);
    if (read.ended && TERMINAL.has(events.at(-1)?.event ?? '')) return { events, reconnects };
  }
  throw new Error('no terminal event after 100 reconnects');
}

/** Waits until `check` is true (polling; generous timeout, no timing assertions). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function startJob(base: string, examId = 'e1', user = 'alice', extra = {}) {
  const response = await post(`${base}/start`, { examId, ...extra }, user);
  if (response.status !== 202) throw new Error(`start answered ${response.status}`);
  return (await response.json()) as { jobId: string; streamUrl: string };
}
