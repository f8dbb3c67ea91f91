// The seed guide's "API usage" snippets, run from Node against the built app (`next start`):
// start → { jobId, streamUrl }; an SSE reader listening for step_progress / job_completed
// and reading JSON.parse(data).progress and .courseId; status with the seed's field names;
// cancel. No browser needed, so this runs wherever Node does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from './app-server';

let app: RunningApp;
const asUser = (name: string) => ({ cookie: `demo_user=${encodeURIComponent(name)}` });

beforeAll(async () => {
  app = await startApp({ DEMO_STEP_MS: '120' });
});
afterAll(async () => {
  await app?.stop();
});

async function start(user: string, examId: string) {
  const response = await fetch(`${app.url}/api/generation/start`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...asUser(user) },
    body: JSON.stringify({ examId }),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as { jobId: string; streamUrl: string };
}

/** A minimal EventSource: calls `on(type, data)` per frame until `stop()` returns true. */
async function readSse(
  url: string,
  headers: Record<string, string>,
  on: (type: string, data: string) => boolean,
): Promise<void> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        let type = 'message';
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length > 0 && on(type, data.join('\n'))) return;
      }
    }
  } finally {
    abort.abort();
  }
}

describe("the seed's API usage, from Node", () => {
  it('start, stream to job_completed with .progress and .courseId, status, then cancel answers 409', async () => {
    const { jobId, streamUrl } = await start('node-seed', 'cfa-level-1');
    expect(streamUrl).toBe(`/api/generation/stream/${jobId}`);

    const progress: number[] = [];
    const types: string[] = [];
    let courseId: string | undefined;
    await readSse(`${app.url}${streamUrl}`, asUser('node-seed'), (type, data) => {
      types.push(type);
      if (type === 'step_progress') progress.push(JSON.parse(data).progress);
      if (type === 'job_completed') {
        courseId = JSON.parse(data).courseId;
        return true;
      }
      return false;
    });
    expect(types[0]).toBe('job_created');
    expect(types).toContain('step_started');
    expect(progress.length).toBeGreaterThan(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(courseId).toMatch(/^course-/);

    const status = await fetch(`${app.url}/api/generation/status/${jobId}`, {
      headers: asUser('node-seed'),
    });
    const { job, canResume } = await status.json();
    expect(job).toMatchObject({ status: 'completed', current_step_index: 5, total_steps: 5 });
    expect(canResume).toBe(false);

    // The course the job reported is served.
    const page = await fetch(`${app.url}/course/${courseId}`, { headers: asUser('node-seed') });
    expect(page.status).toBe(200);

    const cancel = await fetch(`${app.url}/api/generation/cancel`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...asUser('node-seed') },
      body: JSON.stringify({ jobId, reason: 'User cancelled' }),
    });
    expect(cancel.status).toBe(409);
  }, 90_000);

  it('cancels a running job: the stream ends with job_cancelled and status says cancelled', async () => {
    const { jobId, streamUrl } = await start('node-cancel', 'usmle-step-1');
    const types: string[] = [];
    let cancelled: Promise<Response> | null = null;
    await readSse(`${app.url}${streamUrl}`, asUser('node-cancel'), (type) => {
      types.push(type);
      // Cancel once a topic of generate_lessons is under way: surely mid-run.
      if (type === 'topic_started' && !cancelled) {
        cancelled = fetch(`${app.url}/api/generation/cancel`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...asUser('node-cancel') },
          body: JSON.stringify({ jobId, reason: 'User cancelled' }),
        });
      }
      return type === 'job_cancelled' || type === 'job_completed';
    });
    expect(cancelled).not.toBeNull();
    expect((await (cancelled as unknown as Promise<Response>)).status).toBe(200);
    expect(types.at(-1)).toBe('job_cancelled');
    expect(types).not.toContain('job_completed');

    const { job } = await (
      await fetch(`${app.url}/api/generation/status/${jobId}`, { headers: asUser('node-cancel') })
    ).json();
    expect(job.status).toBe('cancelled');
    expect(job.current_step_index).toBeLessThan(job.total_steps);
  }, 90_000);

  it("another user's job is 404 and no sign-in is 401", async () => {
    const { jobId } = await start('node-owner', 'aws-saa');
    const other = await fetch(`${app.url}/api/generation/status/${jobId}`, {
      headers: asUser('someone-else'),
    });
    expect(other.status).toBe(404);
    const anonymous = await fetch(`${app.url}/api/generation/status/${jobId}`);
    expect(anonymous.status).toBe(401);
    // A malformed sign-in cookie is no sign-in, not a crash.
    const garbled = await fetch(`${app.url}/api/generation/status/${jobId}`, {
      headers: { cookie: 'demo_user=%E0%A4%A' },
    });
    expect(garbled.status).toBe(401);
    expect(await garbled.json()).toMatchObject({ error: { code: 'unauthorized' } });
  }, 30_000);
});
