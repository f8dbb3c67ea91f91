// Smoke test over a real socket: the example's routes, a whole job, the page.
import { once } from 'node:events';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../src/app.js';

let app;
let base;
beforeAll(async () => {
  app = createApp({ stepMs: 2, maxActiveJobs: 2 });
  app.server.listen(0, '127.0.0.1');
  await once(app.server, 'listening');
  base = `http://127.0.0.1:${app.server.address().port}`;
});
afterAll(async () => {
  app.server.closeAllConnections();
  await new Promise((resolve) => app.server.close(resolve));
});

const start = (headers, body = { examId: 'exam-1' }) =>
  fetch(`${base}/api/generation/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** Reads an SSE response to its end and returns its frames as { id, event, data }. */
async function frames(response) {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => {
      const field = (name) => block.match(new RegExp(`^${name}: (.*)$`, 'm'))?.[1];
      return { id: Number(field('id')), event: field('event'), data: JSON.parse(field('data')) };
    });
}

test('runs the demo course job end to end with the seed routes', async () => {
  const started = await start({ 'x-demo-user': 'ada' });
  expect(started.status).toBe(202);
  const { jobId, streamUrl } = await started.json();
  expect(streamUrl).toBe(`/api/generation/stream/${jobId}`);

  const stream = await fetch(base + streamUrl, { headers: { cookie: 'demo_user=ada' } });
  expect(stream.headers.get('content-type')).toContain('text/event-stream');
  const events = await frames(stream);
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  const steps = events.filter((e) => e.event === 'step_started').map((e) => e.data.data.step);
  expect(steps).toEqual([
    'fetch_questions',
    'analyze_topics',
    'generate_outline',
    'generate_lessons',
    'save_course',
  ]);
  const topics = events.filter((e) => e.event === 'topic_completed');
  expect(topics).toHaveLength(5);
  expect(topics[0].data.lessonsGenerated).toBe(3); // seed-style top-level field
  const last = events.at(-1);
  expect(last.event).toBe('job_completed');
  expect(last.data.courseId).toMatch(/^course-exam-1-/); // JSON.parse(e.data).courseId

  const status = await fetch(`${base}/api/generation/status/${jobId}`, {
    headers: { 'x-demo-user': 'ada' },
  });
  const body = await status.json();
  expect(body.job.status).toBe('completed');
  expect(body.job.total_steps).toBe(5);
  expect(body.canResume).toBe(false);
});

test('no identity is 401; another user sees 404; cancel works; the limit is 429', async () => {
  expect((await start({})).status).toBe(401);
  const slow = createApp({ stepMs: 10_000, maxActiveJobs: 1 });
  slow.server.listen(0, '127.0.0.1');
  await once(slow.server, 'listening');
  const url = `http://127.0.0.1:${slow.server.address().port}/api/generation`;
  try {
    const post = (path, body, user) =>
      fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-demo-user': user },
        body: JSON.stringify(body),
      });
    const { jobId } = await (await post('/start', { examId: 'e' }, 'ada')).json();
    const limited = await post('/start', { examId: 'e' }, 'ada');
    expect(limited.status).toBe(429);
    expect((await limited.json()).error.code).toBe('rate_limited');
    expect((await post('/cancel', { jobId }, 'bob')).status).toBe(404);
    const cancelled = await post('/cancel', { jobId, reason: 'changed my mind' }, 'ada');
    expect(cancelled.status).toBe(200);
    expect((await cancelled.json()).job.status).toBe('cancelled');
  } finally {
    slow.server.closeAllConnections();
    await new Promise((resolve) => slow.server.close(resolve));
  }
});

test('GET / serves the page', async () => {
  const page = await fetch(`${base}/`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('new EventSource(streamUrl)');
  expect(html).toContain('/api/generation');
});
