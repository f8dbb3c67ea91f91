// The page in a real Chromium: the browser's own EventSource against our SSE stream.
import { once } from 'node:events';
import { hasChromium as haveChromium, launchChromium } from '@jobstream/browser-testing';
import { afterAll, beforeAll, expect, onTestFinished, test } from 'vitest';
import { createApp } from '../src/app.js';

let app;
let context;
let base;
beforeAll(async () => {
  if (!haveChromium) return;
  app = createApp({ stepMs: 20 });
  app.server.listen(0, '127.0.0.1');
  await once(app.server, 'listening');
  base = `http://127.0.0.1:${app.server.address().port}`;
  context = await launchChromium();
}, 60_000);
afterAll(async () => {
  await context?.close();
  app?.server.closeAllConnections();
  if (app) await new Promise((resolve) => app.server.close(resolve));
});

test.skipIf(!haveChromium)(
  'the page starts a job and shows it live to the end',
  async () => {
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.getByText(/Course course-exam-1-\w+ is ready\./).waitFor({ timeout: 30_000 });
    expect(await page.locator('#status').textContent()).toBe('Done');
    expect(await page.locator('li.completed').count()).toBe(5);
    expect(await page.locator('#bar').evaluate((bar) => bar.value)).toBe(100);
    await page.close();
  },
  60_000,
);

/** An app whose job is slow enough to act on while it runs, closed when the test ends. */
async function slowApp(stepMs) {
  const slow = createApp({ stepMs });
  slow.server.listen(0, '127.0.0.1');
  await once(slow.server, 'listening');
  onTestFinished(async () => {
    slow.server.closeAllConnections();
    await new Promise((resolve) => slow.server.close(resolve));
  });
  return { ...slow, url: `http://127.0.0.1:${slow.server.address().port}/` };
}

test.skipIf(!haveChromium)(
  'a reload mid-job shows the same job again, live to the end',
  async () => {
    const slow = await slowApp(250); // ~7 s a course: time to reload while it runs
    const page = await context.newPage();
    await page.goto(slow.url);
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('li.completed').first().waitFor({ timeout: 30_000 });
    await page.reload();
    // The page asked GET /jobs for the user's running job and follows it from the start.
    await page.getByText(/Course course-exam-1-\w+ is ready\./).waitFor({ timeout: 30_000 });
    expect(await page.locator('li.completed').count()).toBe(5);
    const { jobs } = await slow.store.listJobs({});
    expect(jobs).toHaveLength(1); // the same job, not a new one
    await page.close();
  },
  60_000,
);

test.skipIf(!haveChromium)(
  'a job that failed and was resumed, reopened after a reload, is shown running to its end',
  async () => {
    const slow = await slowApp(250);
    const page = await context.newPage();
    await page.goto(slow.url);
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('li.running').waitFor({ timeout: 30_000 });
    // Its worker is lost (written as another instance would), then the user resumes it.
    const [{ id }] = (await slow.store.listJobs({})).jobs;
    for (;;) {
      const job = await slow.store.getJob(id);
      const failed = await slow.store
        .commit(id, {
          expectedVersion: job.version,
          events: [
            {
              type: 'job_failed',
              data: {
                error: { message: 'The worker was lost.', code: 'worker_lost' },
                failedStep: job.currentStep,
              },
            },
          ],
        })
        .then(
          () => true,
          (error) => (error.code === 'conflict' ? false : Promise.reject(error)),
        );
      if (failed) break;
    }
    await page.locator('#status', { hasText: 'Failed' }).waitFor({ timeout: 30_000 });
    const user = (await context.cookies()).find((cookie) => cookie.name === 'demo_user').value;
    const resumed = await fetch(`${slow.url}api/generation/resume`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-demo-user': user },
      body: JSON.stringify({ jobId: id }),
    });
    expect(resumed.status).toBe(202);
    // The replay holds job_failed, then job_resumed and the rest: not a job that failed.
    await page.reload();
    await page.getByText(/Course course-exam-1-\w+ is ready\./).waitFor({ timeout: 30_000 });
    expect(await page.locator('#status').textContent()).toBe('Done');
    expect(await page.locator('#resume').isHidden()).toBe(true);
    await page.close();
  },
  60_000,
);

test.skipIf(!haveChromium)(
  'cancel from the page stops the job',
  async () => {
    // A slow job, so the click always lands while it runs.
    const slow = await slowApp(1_000);
    const page = await context.newPage();
    page.on('dialog', (dialog) => dialog.dismiss()); // an alert() would block the page
    await page.goto(slow.url);
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.locator('li.running').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('#status', { hasText: 'Cancelled' }).waitFor({ timeout: 30_000 });
    const { jobs } = await slow.store.listJobs({ status: 'cancelled' });
    expect(jobs).toHaveLength(1);
    await page.close();
  },
  60_000,
);
