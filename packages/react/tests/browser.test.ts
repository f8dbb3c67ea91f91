// The modal in a real browser (Debian Chromium through playwright-core) over a real
// jobstream server: one browser for the file, one page per test.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATES, startDemoServer, TOPICS } from './browser/demo-server.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = fs.existsSync(chromiumPath);
const required = process.env.JOBSTREAM_REQUIRE_SERVICES === '1';
if (!hasChromium && required) {
  throw new Error(`JOBSTREAM_REQUIRE_SERVICES=1 but there is no Chromium at ${chromiumPath}`);
}
const screenshotsDir = path.resolve(import.meta.dirname, '../../../docs/screenshots');

const HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jobstream modal</title>
<style>body{margin:0;font-family:system-ui,sans-serif;background:#f4f4f8;color:#18181b}
main{max-width:720px;margin:0 auto;padding:40px 20px}h1{margin:0 0 4px}p{color:#63636e}
main>button{font:inherit;padding:10px 16px;border-radius:8px;border:0;background:#4f46e5;color:#fff}</style>
</head><body><div id="root"></div><script src="/page.js"></script></body></html>`;

type PageLog = { completed: unknown[]; errors: unknown[]; closed: number; versions: number[] };

describe.skipIf(!hasChromium)(`JobProgressModal in Chromium (${chromiumPath})`, () => {
  let server: Awaited<ReturnType<typeof startDemoServer>>;
  let browser: BrowserContext;
  let userDir: string;

  beforeAll(async () => {
    const bundle = await esbuild.build({
      entryPoints: [path.join(import.meta.dirname, 'browser/page.tsx')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      write: false,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"development"' },
    });
    server = await startDemoServer(HTML, bundle.outputFiles[0]!.text);
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-'));
    browser = await chromium.launchPersistentContext(userDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function openJob(
    jobId: string,
    opts: { open?: boolean; width?: number; height?: number; at?: number } = {},
  ) {
    const page = await browser.newPage();
    if (opts.at) await page.clock.setFixedTime(opts.at);
    await page.setViewportSize({ width: opts.width ?? 1280, height: opts.height ?? 800 });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.origin}/?job=${jobId}${opts.open === false ? '' : '&open'}`);
    return { page, errors };
  }
  /** docs/screenshots with UPDATE_SCREENSHOTS=1, else a temporary directory. */
  const screenshotPath = (name: string) =>
    path.join(process.env.UPDATE_SCREENSHOTS ? screenshotsDir : userDir, name);
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
    const jobId = await server.start();
    const { page, errors } = await openJob(jobId);
    const dialog = page.getByRole('dialog', { name: 'Generating your course' });
    await dialog.waitFor();
    await page.getByText('Reading 412 questions').waitFor();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:running',
      'Writing lessons:pending',
      'Saving the course:pending',
    ]);
    // StrictMode mounts twice and the page has a second watcher: still one stream.
    expect(server.activeStreams).toBe(1);

    server.gate(jobId).release();
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`).waitFor();
    expect((await steps(page)).slice(0, 2)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:running',
    ]);
    const before = await valueNow(page);
    server.gate(jobId).release();
    await page.getByText(`Topic 2 of ${TOPICS.length}: ${TOPICS[1]}`).waitFor();
    await expect.poll(() => valueNow(page)).toBeGreaterThan(before);
    await page.getByText(/^Elapsed \d+:\d\d$/).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('recovers from a server restart mid-job without losing or repeating steps, and completes once', async () => {
    const jobId = await server.start();
    const { page, errors } = await openJob(jobId);
    const gate = server.gate(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    gate.release();
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`).waitFor();

    await server.stop();
    await page
      .getByRole('status')
      .filter({ hasText: /Reconnecting|Offline/ })
      .waitFor();
    // The job moves on while nobody can see it.
    gate.release(2);
    await expect.poll(() => gate.reached).toBe(4);
    await server.restart();

    await page.getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`).waitFor({ timeout: 30_000 });
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    gate.release(GATES);
    await page.getByText(/^Done in /).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:completed',
      'Saving the course:completed',
    ]);
    expect(await valueNow(page)).toBe(100);

    const final = (await server.store.getJob(jobId))!;
    const seen = await log(page);
    // Every version the page saw came once and in order, up to the store's last.
    expect(seen.versions).toEqual([...seen.versions].sort((a, b) => a - b));
    expect(new Set(seen.versions).size).toBe(seen.versions.length);
    expect(seen.versions.at(-1)).toBe(final.version);
    expect(seen.completed).toEqual([final.result]);

    // Hiding and showing again re-renders with the replayed job: still one onComplete.
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Show progress' }).click();
    await page.getByText(/^Done in /).waitFor();
    expect((await log(page)).completed).toHaveLength(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('drops of the connection alone are recovered too', async () => {
    const jobId = await server.start();
    const { page } = await openJob(jobId);
    const gate = server.gate(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    // Ends the open streams while the HTTP server stays up: the client reconnects at once.
    await server.stop();
    await server.restart();
    gate.release(3);
    await page.getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`).waitFor({ timeout: 30_000 });
    const seen = await log(page);
    expect(new Set(seen.versions).size).toBe(seen.versions.length);
    expect(seen.versions.at(-1)).toBe((await server.store.getJob(jobId))!.version);
    await page.close();
  });

  it('cancels only after confirmation', async () => {
    const jobId = await server.start();
    const { page } = await openJob(jobId);
    await page.getByText('Reading 412 questions').waitFor();
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Keep going' }).click();
    expect((await server.store.getJob(jobId))!.status).toBe('running');

    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('button', { name: 'Yes, cancel job' }).click();
    await page.getByText(/^Cancelled/).waitFor();
    expect((await server.store.getJob(jobId))!.status).toBe('cancelled');
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
    const jobId = await server.start({ failOnce: TOPICS[1] });
    const { page } = await openJob(jobId);
    const gate = server.gate(jobId);
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
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    gate.release(GATES);
    await page.getByText(/^Done in /).waitFor();
    expect(await steps(page)).toEqual([
      'Reading your questions:completed',
      'Writing lessons:completed',
      'Saving the course:completed',
    ]);
    expect((await log(page)).completed).toHaveLength(1);
    await page.close();
  });

  it('works with the keyboard alone: Tab stays inside, Escape closes without cancelling, focus returns', async () => {
    const jobId = await server.start();
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
    expect((await server.store.getJob(jobId))!.status).toBe('running');

    // Reopened, it shows the job where it is now.
    server.gate(jobId).release();
    await page.keyboard.press('Enter');
    await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`).waitFor();
    expect((await log(page)).closed).toBe(1);
    await page.close();
  });

  it('fits and looks right at 1280 px and at 360 px (screenshots)', async () => {
    const jobId = await server.start();
    const gate = server.gate(jobId);
    gate.release(3);
    await expect.poll(() => gate.reached).toBe(4);
    for (const [name, width, height] of [
      ['modal-desktop.png', 1280, 800],
      ['modal-mobile.png', 360, 740],
    ] as const) {
      // As if the job had been running for a while (timers keep running).
      const { page } = await openJob(jobId, { width, height, at: Date.now() + 64_000 });
      await page.getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`).waitFor();
      await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
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
