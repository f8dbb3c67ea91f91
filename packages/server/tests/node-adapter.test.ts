import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryJobStore } from '@jobstream/core';
import { afterEach, expect, it } from 'vitest';
import { createJobServer } from '../src/index.js';
import { toNodeHandler } from '../src/node.js';
import { quickJob, readStream } from './helpers.js';

let server: http.Server | null = null;
afterEach(async () => {
  const open = server;
  server = null;
  if (!open) return;
  open.closeAllConnections();
  await new Promise((resolve) => open.close(resolve));
});

it('works mounted Express-style: mount path stripped from url, body already parsed', async () => {
  const store = new MemoryJobStore();
  const jobs = createJobServer({
    store,
    jobs: [quickJob],
    authenticate: (request) => request.headers.get('x-user'),
    basePath: '/api/generation',
  });
  const handler = toNodeHandler(jobs);
  // What `app.use('/api/generation', express.json(), handler)` hands over.
  server = http.createServer(async (req, res) => {
    const mounted = req as typeof req & { originalUrl?: string; body?: unknown };
    mounted.originalUrl = req.url;
    mounted.url = (req.url ?? '').slice('/api/generation'.length) || '/';
    if (req.method === 'POST') {
      let text = '';
      for await (const chunk of req) text += chunk;
      mounted.body = JSON.parse(text);
    }
    await handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/generation`;
  const started = await fetch(`${base}/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': 'alice' },
    body: JSON.stringify({ examId: 'x' }),
  });
  expect(started.status).toBe(202);
  expect(started.headers.get('location')).toMatch(/^\/api\/generation\/stream\//);
  const { jobId } = (await started.json()) as { jobId: string };
  const read = await readStream(base, jobId);
  expect(read.events.at(-1)?.event).toBe('job_completed');
  jobs.close();
});

it('single handlers ignore a framework context argument and read the id from the URL', async () => {
  const store = new MemoryJobStore();
  const jobs = createJobServer({ store, jobs: [quickJob], authenticate: () => 'alice' });
  const { job } = await store.createJob({
    ownerId: 'alice',
    kind: 'course',
    input: { examId: 'x' },
    steps: [{ name: 'fetch_questions' }],
  });
  // What a Next.js route file would do: `export const GET = jobs.status`.
  const context = { params: Promise.resolve({ jobId: job.id }) };
  const response = await jobs.status(new Request(`http://x/api/status/${job.id}`), context);
  expect(response.status).toBe(200);
  expect(((await response.json()) as { job: { id: string } }).job.id).toBe(job.id);
});

it('the Web ReadableStream path (Next.js, other runtimes) streams a job and releases on cancel', async () => {
  const store = new MemoryJobStore();
  const jobs = createJobServer({
    store,
    jobs: [quickJob],
    authenticate: () => 'alice',
    tracker: { coalesceMs: 0 },
  });
  const started = await jobs.handle(
    new Request('http://x/start', { method: 'POST', body: JSON.stringify({ examId: 'x' }) }),
  );
  const { jobId } = (await started.json()) as { jobId: string };
  const response = await jobs.handle(new Request(`http://x/stream/${jobId}`));
  const text = await response.text(); // ends after the terminal event
  const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  const total = (await store.getJob(jobId))?.version ?? 0;
  expect(ids).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  expect(text).toMatch(/event: job_completed\n/);

  // A viewer of a job that is still pending, cancelled by its reader.
  const { job } = await store.createJob({
    ownerId: 'alice',
    kind: 'course',
    input: { examId: 'y' },
    steps: [{ name: 'fetch_questions' }],
  });
  const live = await jobs.handle(new Request(`http://x/stream/${job.id}`));
  const reader = live.body?.getReader();
  const first = await reader?.read();
  expect(new TextDecoder().decode(first?.value)).toMatch(/^retry: 3000\n\n/);
  await reader?.cancel();
  expect(jobs.activeStreams).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(store.listenerCount()).toBe(0);
});

it('serves SSE over HTTP/2 too (node:http2 compatibility API)', async () => {
  const http2 = await import('node:http2');
  const store = new MemoryJobStore();
  const jobs = createJobServer({
    store,
    jobs: [quickJob],
    authenticate: () => 'alice',
    tracker: { coalesceMs: 0 },
  });
  const h2 = http2.createServer(toNodeHandler(jobs) as never);
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  const session = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  try {
    const request = (path: string, method: string, body?: string) =>
      new Promise<{ status: number; text: string; headers: Record<string, unknown> }>(
        (resolve, reject) => {
          const stream = session.request({ ':path': path, ':method': method });
          let text = '';
          let status = 0;
          let headers: Record<string, unknown> = {};
          stream.on('response', (h) => {
            status = Number(h[':status']);
            headers = h;
          });
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => {
            text += chunk;
          });
          stream.on('end', () => resolve({ status, text, headers }));
          stream.on('error', reject);
          stream.end(body);
        },
      );
    const started = await request('/start', 'POST', JSON.stringify({ examId: 'h2' }));
    expect(started.status).toBe(202);
    const { jobId } = JSON.parse(started.text) as { jobId: string };
    const streamed = await request(`/stream/${jobId}`, 'GET');
    expect(streamed.status).toBe(200);
    expect(streamed.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(streamed.headers.connection).toBeUndefined();
    expect(streamed.text).toMatch(/event: job_completed\n/);
  } finally {
    session.close();
    jobs.close();
    await new Promise((resolve) => h2.close(resolve));
  }
});
