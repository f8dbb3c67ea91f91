// The course generator in real Chromium against the built app (`next start`): generate a
// course end to end, cancel one, reload mid-run, two at once, a dropped network; and the
// seed app's own plain-EventSource snippet run in the page.

import { startTcpProxy } from '@jobstream/network-testing';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from './app-server';
import { hasChromium, launchChromium, PHONE } from './chromium';

describe.skipIf(!hasChromium)('course generator in Chromium', () => {
  let app: RunningApp;
  let browser: BrowserContext;

  beforeAll(async () => {
    app = await startApp();
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  async function signedInPage(name: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('dialog', (d) => void d.dismiss());
    await browser.addCookies([{ name: 'demo_user', value: name, url: app.url }]);
    return page;
  }

  /** Clicks Generate Course and returns the job id the server answered with. */
  async function clickGenerate(page: Page): Promise<string> {
    const started = page.waitForResponse((r) => r.url().endsWith('/api/generation/start'));
    await page.getByRole('button', { name: 'Generate Course' }).click();
    const response = await started;
    expect(response.status()).toBe(202);
    return ((await response.json()) as { jobId: string }).jobId;
  }

  async function startGeneration(page: Page, examId = 'aws-saa') {
    await page.goto(`${app.url}/study/${examId}`);
    const jobId = await clickGenerate(page);
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    return { dialog, jobId };
  }

  async function statusOf(page: Page, jobId: string): Promise<string> {
    return page.evaluate(
      async (id) => (await (await fetch(`/api/generation/status/${id}`)).json()).job.status,
      jobId,
    );
  }

  async function progressOf(page: Page): Promise<number> {
    return Number(
      await page
        .getByRole('progressbar', { name: 'Overall progress' })
        .getAttribute('aria-valuenow'),
    );
  }

  it('signs in, generates a course with live steps and topics, and lands on the course', async () => {
    const page = await browser.newPage();
    await page.goto(app.url);
    await page.getByLabel('Your name').fill('ada');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Study' }).first().waitFor();
    await page.goto(`${app.url}/study/usmle-step-1`);
    await page.getByRole('button', { name: 'Generate Course' }).click();
    const dialog = page.getByRole('dialog', { name: /Generating your USMLE Step 1 course/ });
    await dialog.waitFor();
    // A topic line appears while lessons are written ("Topic 2 of 6: Pharmacology").
    await dialog.getByText(/^Topic \d of 6: /).waitFor({ timeout: 30_000 });
    await page.waitForURL(/\/course\/course-/, { timeout: 60_000 });
    await page.getByRole('heading', { name: 'USMLE Step 1: the complete course' }).waitFor();
    expect(await page.getByRole('heading', { level: 2, name: 'Pharmacology' }).count()).toBe(1);
    expect(await page.locator('.lesson').count()).toBe(18);
    await page.close();
  }, 90_000);

  it('cancels a generation mid-way after confirming', async () => {
    const page = await signedInPage('cancel-user');
    const { dialog, jobId } = await startGeneration(page, 'cfa-level-1');
    await expect.poll(() => progressOf(page), { timeout: 30_000 }).toBeGreaterThan(0);
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await dialog.getByRole('button', { name: 'Yes, cancel job' }).click();
    await dialog.locator('.jsp-alert', { hasText: /^Cancelled/ }).waitFor();
    expect(await statusOf(page, jobId)).toBe('cancelled');
    // It stays cancelled: the worker stopped instead of finishing the course.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await statusOf(page, jobId)).toBe('cancelled');
    expect(page.url()).toContain('/study/cfa-level-1');
    await page.close();
  }, 90_000);

  it('keeps going across a reload and shows the job where it is', async () => {
    const page = await signedInPage('reload-user');
    const { jobId } = await startGeneration(page, 'cfa-level-1');
    await expect.poll(() => progressOf(page), { timeout: 30_000 }).toBeGreaterThan(10);
    const before = await progressOf(page);
    await page.reload();
    // The study page reopens the running job; its progress did not go back.
    await page.getByRole('dialog').waitFor();
    await expect.poll(() => progressOf(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(before);
    await page.waitForURL(`**/course/course-${jobId.slice(0, 8)}`, { timeout: 90_000 });
    await page.close();
  }, 120_000);

  it('runs two generations at once; closing the modal does not stop a job', async () => {
    const page = await signedInPage('two-user');
    const { dialog, jobId: first } = await startGeneration(page, 'aws-saa');
    await dialog.getByRole('button', { name: 'Hide' }).click();
    await dialog.waitFor({ state: 'detached' });
    const second = await clickGenerate(page);
    expect(second).not.toBe(first);
    await expect
      .poll(() => page.getByRole('button', { name: /Show progress of generation/ }).count())
      .toBe(2);
    await page.waitForURL(`**/course/course-${second.slice(0, 8)}`, { timeout: 90_000 });
    // The hidden one ran to completion as well.
    await expect.poll(() => statusOf(page, first), { timeout: 60_000 }).toBe('completed');
    expect(
      await page.evaluate(
        async (id) => (await fetch(`/course/course-${id.slice(0, 8)}`)).status,
        first,
      ),
    ).toBe(200);
    await page.close();
  }, 150_000);

  it('rides out the network going away: the modal says so, reconnects and finishes the course', async () => {
    // The page talks to the app through a proxy that can cut every connection.
    const proxy = await startTcpProxy(new URL(app.url));
    try {
      await browser.addCookies([{ name: 'demo_user', value: 'offline-user', url: proxy.url }]);
      const page = await browser.newPage();
      await page.goto(`${proxy.url}/study/aws-saa`);
      const jobId = await clickGenerate(page);
      const dialog = page.getByRole('dialog');
      await expect.poll(() => progressOf(page), { timeout: 30_000 }).toBeGreaterThan(5);
      proxy.drop();
      await dialog.locator('.jsp-conn', { hasText: 'Reconnecting…' }).waitFor({ timeout: 30_000 });
      const offlineAt = await progressOf(page);
      await new Promise((r) => setTimeout(r, 1500));
      proxy.restore();
      // Back: it resumes after the last event it showed and carries on to the course.
      await dialog.getByText('Connected').waitFor({ timeout: 30_000 });
      expect(await progressOf(page)).toBeGreaterThanOrEqual(offlineAt);
      await page.waitForURL(`**/course/course-${jobId.slice(0, 8)}`, { timeout: 90_000 });
      expect(await statusOf(page, jobId)).toBe('completed');
      await page.close();
    } finally {
      await proxy.close();
    }
  }, 150_000);

  it('says so the moment the browser goes offline, and carries on when it is back', async () => {
    const page = await signedInPage('flaky-wifi-user');
    const { dialog, jobId } = await startGeneration(page, 'cfa-level-1');
    await dialog.getByText('Connected').waitFor({ timeout: 30_000 });
    await browser.setOffline(true);
    // No waiting for the heartbeat timeout: the `offline` event drops the connection.
    await dialog.locator('.jsp-conn', { hasText: 'Reconnecting…' }).waitFor({ timeout: 5_000 });
    await browser.setOffline(false);
    await page.waitForURL(`**/course/course-${jobId.slice(0, 8)}`, { timeout: 90_000 });
    await page.close();
  }, 120_000);

  it('works on a phone: taps only, nothing wider than the screen, hide and reopen, then the course', async () => {
    // The seed's checklist item "Test on mobile device": a 360 px touch screen.
    const phone = await launchChromium(PHONE);
    try {
      await phone.addCookies([{ name: 'demo_user', value: 'phone-user', url: app.url }]);
      const page = await phone.newPage();
      await page.goto(`${app.url}/study/aws-saa`);
      const started = page.waitForResponse((r) => r.url().endsWith('/api/generation/start'));
      await page.getByRole('button', { name: 'Generate Course' }).tap();
      const { jobId } = (await (await started).json()) as { jobId: string };
      const dialog = page.getByRole('dialog');
      await expect.poll(() => progressOf(page), { timeout: 30_000 }).toBeGreaterThan(0);
      // The modal and the page fit the screen: no sideways scrolling, buttons on screen.
      const box = await dialog.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 360).toBe(true);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        360,
      );
      const hide = dialog.getByRole('button', { name: 'Hide' });
      const hideBox = await hide.boundingBox();
      expect(hideBox && hideBox.y + hideBox.height <= 740 && hideBox.height >= 32).toBe(true);
      await hide.tap();
      await dialog.waitFor({ state: 'detached' });
      expect(await statusOf(page, jobId)).toBe('running');
      await page.getByRole('button', { name: 'Show progress of generation 1' }).tap();
      await dialog.waitFor();
      await page.waitForURL(`**/course/course-${jobId.slice(0, 8)}`, { timeout: 90_000 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        360,
      );
    } finally {
      await phone.close();
    }
  }, 120_000);

  it("runs the seed's API snippets: start, EventSource with .progress and .courseId, status, cancel", async () => {
    const page = await signedInPage('seed-user');
    await page.goto(`${app.url}/`);
    const seen = await page.evaluate(async () => {
      const response = await fetch('/api/generation/start', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ examId: 'aws-saa' }),
      });
      const { jobId, streamUrl } = await response.json();
      const progress: number[] = [];
      const courseId = await new Promise<string>((resolve, reject) => {
        const eventSource = new EventSource(streamUrl);
        eventSource.addEventListener('step_progress', (event) => {
          const data = JSON.parse((event as MessageEvent).data);
          progress.push(data.progress);
        });
        eventSource.addEventListener('job_completed', (event) => {
          const data = JSON.parse((event as MessageEvent).data);
          eventSource.close();
          resolve(data.courseId);
        });
        setTimeout(() => reject(new Error('no job_completed within 60 s')), 60_000);
      });
      const status = await (await fetch(`/api/generation/status/${jobId}`)).json();
      const cancel = await fetch('/api/generation/cancel', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ jobId, reason: 'User cancelled' }),
      });
      return {
        jobId,
        streamUrl,
        progress,
        courseId,
        status: status.job.status,
        stepIndex: status.job.current_step_index,
        totalSteps: status.job.total_steps,
        canResume: status.canResume,
        cancelStatus: cancel.status,
      };
    });
    expect(seen.streamUrl).toBe(`/api/generation/stream/${seen.jobId}`);
    expect(seen.progress.length).toBeGreaterThan(3);
    expect(seen.progress).toEqual([...seen.progress].sort((a, b) => a - b));
    expect(seen.courseId).toMatch(/^course-/);
    expect(seen).toMatchObject({
      status: 'completed',
      stepIndex: 5,
      totalSteps: 5,
      canResume: false,
      cancelStatus: 409,
    });
    await page.close();
  }, 90_000);
});
