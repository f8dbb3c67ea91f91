// The modal in a real browser (Debian Chromium through playwright-core) over a real
// jobstream server: one browser for the file, one page per test.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { GATES, TOPICS } from './browser/demo-server.js';
import { browserHarness, chromiumPath, hasChromium } from './browser/harness.js';

type PageLog = { completed: unknown[]; errors: unknown[]; closed: number; versions: number[] };

describe.skipIf(!hasChromium)(`JobProgressModal in Chromium (${chromiumPath})`, () => {
  const harness = browserHarness();
  const { openJob, screenshotPath } = harness;
  const log = (page: Page) => page.evaluate(() => (window as any).__page as PageLog);
  const steps = (page: Page) =>
    page.$$eval('.jsp-step', (items) =>
      items.map(
        (li) => `${li.children[1]?.firstChild?.textContent}:${li.getAttribute('data-status')}`,
      ),
    );
  const valueNow = (page: Page) =>
    page.getByRole('progressbar').getAttribute('aria-valuenow').then(Number);

  it('shows steps and topics advance, over one connection despite StrictMode', async () => {
    const jobId = await harness.server.start();
    const { page, errors } = await openJob(jobId);
    const dialog = page.getByRole('dialog', { name: 'Generating your course' });
    await dialog.waitFor();
    await page.getByText('Reading 412 questions').waitFor();
    await page.locator('.jsp-conn', { hasText: 'Connected' }).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:running',
      'Writing lessons:pending',
      'Saving the course:pending',
    ]);
    // StrictMode mounts twice and the page has a second watcher: still one stream.
    expect(harness.server.activeStreams).toBe(1);

    harness.server.gate(jobId).release();
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`, { exact: true }).waitFor();
    expect((await steps(page)).slice(0, 2)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:running',
    ]);
    const before = await valueNow(page);
    harness.server.gate(jobId).release();
    await page.getByText(`Topic 2 of ${TOPICS.length}: ${TOPICS[1]}`, { exact: true }).waitFor();
    // One polite live region, saying the step and topic (not each progress tick).
    expect(await page.getByRole('status').allTextContents()).toEqual([
      `Step 2 of 3: Writing lessons. Topic 2 of ${TOPICS.length}: ${TOPICS[1]}`,
    ]);
    await expect.poll(() => valueNow(page)).toBeGreaterThan(before);
    await page.getByText(/^Elapsed \d+:\d\d$/).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('recovers from a server restart mid-job without losing or repeating steps, and completes once', async () => {
    const jobId = await harness.server.start();
    const { page, errors } = await openJob(jobId);
    const gate = harness.server.gate(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    gate.release();
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`, { exact: true }).waitFor();

    await harness.server.stop();
    await page
      .getByRole('status')
      .filter({ hasText: /Reconnecting|Offline/ })
      .waitFor();
    // The job moves on while nobody can see it.
    gate.release(2);
    await expect.poll(() => gate.reached).toBe(4);
    await harness.server.restart();

    await page
      .getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`, { exact: true })
      .waitFor({ timeout: 30_000 });
    await page.locator('.jsp-conn', { hasText: 'Connected' }).waitFor();
    gate.release(GATES);
    await page.locator('.jsp-alert', { hasText: /^Done in / }).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:completed',
      'Saving the course:completed',
    ]);
    expect(await valueNow(page)).toBe(100);

    const final = (await harness.server.store.getJob(jobId))!;
    const seen = await log(page);
    // Every version the page saw came once and in order, up to the store's last.
    expect(seen.versions).toEqual([...seen.versions].sort((a, b) => a - b));
    expect(new Set(seen.versions).size).toBe(seen.versions.length);
    expect(seen.versions.at(-1)).toBe(final.version);
    expect(seen.completed).toEqual([final.result]);

    // Hiding and showing again re-renders with the replayed job: still one onComplete.
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Show progress' }).click();
    await page.locator('.jsp-alert', { hasText: /^Done in / }).waitFor();
    expect((await log(page)).completed).toHaveLength(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('drops of the connection alone are recovered too', async () => {
    const jobId = await harness.server.start();
    const { page } = await openJob(jobId);
    const gate = harness.server.gate(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    await page.locator('.jsp-conn', { hasText: 'Connected' }).waitFor();
    // Ends the open streams while the HTTP server stays up: the client reconnects at once.
    await harness.server.stop();
    await harness.server.restart();
    gate.release(3);
    await page
      .getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`, { exact: true })
      .waitFor({ timeout: 30_000 });
    const seen = await log(page);
    expect(new Set(seen.versions).size).toBe(seen.versions.length);
    expect(seen.versions.at(-1)).toBe((await harness.server.store.getJob(jobId))!.version);
    await page.close();
  });

  it("shows nothing when the server rotates the stream (maxStreamAgeMs): no 'Reconnecting…', no lost step", async () => {
    // /api/rotating: the demo's jobs on a server whose streams end at 240–300 ms.
    const jobId = await harness.server.start();
    const { page, errors } = await openJob(jobId, { base: '/api/rotating' });
    const gate = harness.server.gate(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    await page.locator('.jsp-conn', { hasText: 'Connected' }).waitFor();
    // Every text the connection badge and the live region show from now on.
    await page.evaluate(() => {
      const shown = new Set<string>();
      (window as any).__shown = shown;
      const record = () => {
        for (const el of document.querySelectorAll('.jsp-conn, [role="status"]')) {
          shown.add(el.textContent ?? '');
        }
      };
      record();
      new MutationObserver(record).observe(document.body, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
      });
    });
    // The job moves on topic by topic, its stream ended and reopened after each.
    for (let topic = 1; topic <= 4; topic++) {
      gate.release();
      await page
        .getByText(`Topic ${topic} of ${TOPICS.length}: ${TOPICS[topic - 1]}`, { exact: true })
        .waitFor();
      const requests = harness.server.streamRequests;
      await expect
        .poll(() => harness.server.streamRequests, { timeout: 5_000 })
        .toBeGreaterThan(requests);
    }
    gate.release(GATES);
    await page.locator('.jsp-alert', { hasText: /^Done in / }).waitFor();

    const shown = await page.evaluate(() => [...(window as any).__shown] as string[]);
    expect(shown.filter((text) => /Reconnecting|Offline|Connecting/.test(text))).toEqual([]);
    expect(shown).toContain('Connected');
    const seen = await log(page);
    expect(seen.versions).toEqual([...seen.versions].sort((a, b) => a - b));
    expect(new Set(seen.versions).size).toBe(seen.versions.length);
    expect(seen.versions.at(-1)).toBe((await harness.server.store.getJob(jobId))!.version);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('cancels only after confirmation', async () => {
    const jobId = await harness.server.start();
    const { page } = await openJob(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Keep going' }).click();
    expect((await harness.server.store.getJob(jobId))!.status).toBe('running');

    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Yes, cancel job' }).click();
    await page.locator('.jsp-alert', { hasText: /^Cancelled/ }).waitFor();
    expect((await harness.server.store.getJob(jobId))!.status).toBe('cancelled');
    // The buttons that had focus are gone; focus stayed in the dialog.
    expect(await page.evaluate(() => !!document.activeElement?.closest('[role=dialog]'))).toBe(
      true,
    );
    expect(await steps(page)).toEqual([
      'Reading your questions:cancelled',
      'Writing lessons:pending',
      'Saving the course:pending',
    ]);
    expect((await log(page)).completed).toEqual([]);
    await page.close();
  });

  it('shows a failure with its error, and resumes it', async () => {
    const jobId = await harness.server.start({ failOnce: TOPICS[1] });
    const { page } = await openJob(jobId);
    const gate = harness.server.gate(jobId);
    gate.release(); // fetch_questions
    gate.release(); // topic 1, then topic 2 throws
    await page.getByRole('alert').filter({ hasText: 'The model is overloaded' }).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:failed',
      'Saving the course:pending',
    ]);
    expect((await log(page)).errors).toEqual([
      `The model is overloaded (while writing ${TOPICS[1]}).`,
    ]);
    await page.emulateMedia({ reducedMotion: 'reduce' }); // no bar mid-transition
    await page.screenshot({ path: screenshotPath('modal-failed.png') });

    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`, { exact: true }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    gate.release(GATES);
    await page.locator('.jsp-alert', { hasText: /^Done in / }).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:completed',
      'Saving the course:completed',
    ]);
    expect((await log(page)).completed).toHaveLength(1);
    await page.close();
  });

  it('works with the keyboard alone: Tab stays inside, Escape closes without cancelling, focus returns', async () => {
    const jobId = await harness.server.start();
    const { page } = await openJob(jobId, { open: false });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Show progress');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('dialog');
    await page.getByText('Reading 412 questions').waitFor();

    const visited: string[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      visited.push(
        await page.evaluate(() =>
          document.activeElement?.closest('[role=dialog]')
            ? (document.activeElement.getAttribute('aria-label') ??
              document.activeElement.textContent ??
              '')
            : `OUTSIDE:${document.activeElement?.tagName}`,
        ),
      );
    }
    expect(visited).toEqual([
      'Close',
      'Cancel job',
      'Hide',
      'Close',
      'Cancel job',
      'Hide',
      'Close',
    ]);
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Hide');

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Show progress');
    expect((await harness.server.store.getJob(jobId))!.status).toBe('running');

    // Reopened, it shows the job where it is now.
    harness.server.gate(jobId).release();
    await page.keyboard.press('Enter');
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`, { exact: true }).waitFor();
    expect((await log(page)).closed).toBe(1);
    await page.close();
  });

  it("takes an app's theme (docs/react.md) whichever stylesheet loads first", async () => {
    const jobId = await harness.server.start();
    const { page } = await openJob(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    const look = await page.evaluate(() => {
      // The app's sheet comes first in <head>, the injected default one after it: the
      // order in which an app's own CSS usually meets the modal's.
      const theme = document.createElement('style');
      theme.textContent =
        ':root{--jsp-bg:rgb(28, 28, 33)}.jsp-overlay{--jsp-accent:rgb(15, 118, 110)}';
      document.head.prepend(theme);
      return {
        injectedLast: document.head.lastElementChild?.id,
        fill: getComputedStyle(document.querySelector('.jsp-bar>div')!).backgroundColor,
        dialog: getComputedStyle(document.querySelector('.jsp-dialog')!).backgroundColor,
        track: getComputedStyle(document.querySelector('.jsp-bar')!).backgroundColor,
      };
    });
    expect(look).toEqual({
      injectedLast: 'jobstream-progress-css',
      fill: 'rgb(15, 118, 110)',
      dialog: 'rgb(28, 28, 33)',
      // What the theme does not set keeps its default.
      track: 'rgb(236, 236, 240)',
    });
    await page.close();
  });

  it('fits and looks right at 1280 px and at 360 px (screenshots)', async () => {
    const jobId = await harness.server.start();
    const gate = harness.server.gate(jobId);
    gate.release(3);
    await expect.poll(() => gate.reached).toBe(4);
    for (const [name, width, height] of [
      ['modal-desktop.png', 1280, 800],
      ['modal-mobile.png', 360, 740],
    ] as const) {
      // As if the job had been running for a while (timers keep running).
      const { page } = await openJob(jobId, { width, height, at: Date.now() + 64_000 });
      await page.getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`, { exact: true }).waitFor();
      await page.locator('.jsp-conn', { hasText: 'Connected' }).waitFor();
      const spin = () =>
        page.$eval(
          '.jsp-step[data-status=running] .jsp-mark',
          (el) => getComputedStyle(el).animationName,
        );
      // The connection's ring is a ::before, which `*` does not select: checked on its own.
      const ring = () =>
        page.$eval('.jsp-conn', (el) => {
          const connected = el.getAttribute('data-state');
          el.setAttribute('data-state', 'reconnecting');
          const name = getComputedStyle(el, '::before').animationName;
          el.setAttribute('data-state', connected!);
          return name;
        });
      expect(await spin()).toBe('jsp-spin');
      expect(await ring()).toBe('jsp-spin');
      await page.emulateMedia({ reducedMotion: 'reduce' });
      expect(await spin()).toBe('none');
      expect(await ring()).toBe('none');
      const box = (await page.getByRole('dialog').boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(width);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        width,
      );
      await page.screenshot({ path: screenshotPath(name) });
      await page.close();
    }
  });
});
