// A real jobstream server for the browser tests: MemoryJobStore, the Node adapter, and a
// course job that only moves on when the test says so (`gate(jobId).release()`).
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryJobStore } from '@jobstream/core';
import {
  createJobServer,
  defineJob,
  type JobServerOptions,
  type StandardSchemaV1,
} from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';

export class Gate {
  #permits = 0;
  #waiters: (() => void)[] = [];
  /** How many times the job has stopped at this gate. */
  reached = 0;
  release(n = 1) {
    this.#permits += n;
    while (this.#permits > 0 && this.#waiters.length > 0) {
      this.#permits--;
      this.#waiters.shift()?.();
    }
  }
  wait(signal: AbortSignal): Promise<void> {
    this.reached++;
    if (this.#permits > 0) {
      this.#permits--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push(resolve);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

type Input = { examId: string; failOnce?: string };
const input: StandardSchemaV1<unknown, Input> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) =>
      typeof (value as { examId?: unknown })?.examId === 'string'
        ? { value: value as Input }
        : { issues: [{ message: 'examId is required' }] },
  },
};

export const TOPICS = [
  'Anatomy',
  'Physiology',
  'Cardiology',
  'Pharmacology',
  'Imaging',
  'Electrophysiology',
  'Valvular disease',
  'Heart failure',
];

/** Stops: 1 in fetch_questions, one per topic, 1 in save_course. */
export const GATES = TOPICS.length + 2;

export async function startDemoServer(html: string, script: string) {
  const store = new MemoryJobStore();
  const gates = new Map<string, Gate>();
  const failed = new Set<string>();
  const gate = (jobId: string) => {
    let g = gates.get(jobId);
    if (!g) {
      g = new Gate();
      gates.set(jobId, g);
    }
    return g;
  };
  const courseJob = defineJob({
    kind: 'course',
    input,
    steps: [
      { name: 'fetch_questions', label: 'Reading your questions' },
      { name: 'generate_lessons', label: 'Writing lessons', weight: 6 },
      { name: 'save_course', label: 'Saving the course' },
    ],
    estimatedDuration: 150_000,
    async run(data, { tracker, signal, jobId, isStepCompleted }) {
      const g = gate(jobId);
      if (!isStepCompleted('fetch_questions')) {
        await tracker.startStep('fetch_questions', 'Reading 412 questions');
        await g.wait(signal);
        await tracker.completeStep(`Found 412 questions in ${TOPICS.length} topics`);
      }
      await tracker.startStep('generate_lessons', 'Planning lessons');
      for (const [i, topic] of TOPICS.entries()) {
        await tracker.startTopic(topic, { index: i + 1, count: TOPICS.length });
        tracker.progress((100 * (i + 0.5)) / TOPICS.length, `Writing lessons on ${topic}`);
        await tracker.flush();
        if (data.failOnce === topic && !failed.has(jobId)) {
          failed.add(jobId);
          throw new Error(`The model is overloaded (while writing ${topic}).`);
        }
        await g.wait(signal);
        await tracker.completeTopic({ lessonsGenerated: 3 });
      }
      await tracker.completeStep(`Wrote ${TOPICS.length * 3} lessons`);
      await tracker.startStep('save_course', 'Saving the course');
      await g.wait(signal);
      await tracker.completeStep();
      return { courseId: `course-${jobId.slice(0, 8)}` };
    },
  });

  let jobServer = makeJobServer();
  // The same jobs under /api/rotating, ending each stream at its age limit very early.
  const rotating = makeJobServer({ basePath: '/api/rotating', maxStreamAgeMs: 300 });
  let streamRequests = 0;
  function makeJobServer(options: Partial<JobServerOptions> = {}) {
    return createJobServer({
      store,
      jobs: [courseJob],
      authenticate: () => 'user-1',
      basePath: '/api/generation',
      retryMs: 200,
      heartbeatMs: 5000,
      onError: () => {},
      ...options,
    });
  }
  const listen = async (port: number) => {
    const api = toNodeHandler(jobServer, { onError: () => {} });
    const rotatingApi = toNodeHandler(rotating, { onError: () => {} });
    const server = http.createServer((req, res) => {
      if (req.url?.includes('/stream/')) streamRequests++;
      if (req.url?.startsWith('/api/rotating/')) return void rotatingApi(req, res);
      if (req.url?.startsWith('/api/')) return void api(req, res);
      if (req.url === '/page.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      } else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return server;
  };
  let server = await listen(0);
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    store,
    origin,
    gate,
    get activeStreams() {
      return jobServer.activeStreams;
    },
    /** `GET /stream` requests so far (reconnections included). */
    get streamRequests() {
      return streamRequests;
    },
    async start(extra: Partial<Input> = {}): Promise<string> {
      const res = await fetch(`${origin}/api/generation/start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ examId: 'exam-1', ...extra }),
      });
      if (res.status !== 202) throw new Error(`start answered ${res.status}`);
      return ((await res.json()) as { jobId: string }).jobId;
    },
    /** Stops listening and drops every connection; the jobs keep running on the store. */
    async stop() {
      jobServer.close();
      rotating.close();
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
    /** A new HTTP server (and job server) on the same port, over the same store. */
    async restart() {
      jobServer = makeJobServer();
      server = await listen(port);
    },
    async close() {
      for (const g of gates.values()) g.release(100);
      if (server.listening) await this.stop();
    },
  };
}
