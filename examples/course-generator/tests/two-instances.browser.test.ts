// Two instances of the built app (two `next start` processes) on one PostgreSQL, as a
// deployment behind a load balancer runs it: a course started on A is watched on B and
// cancelled from B, and A's worker stops. The database is the only thing they share.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from './app-server';
import { hasChromium, launchChromium } from './chromium';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error('DATABASE_URL is not set but JOBSTREAM_REQUIRE_SERVICES=1');
}

/** A database of its own on the test server, so other packages' tests are not touched. */
async function withDatabase(sql: string) {
  const root = new pg.Client({ connectionString: databaseUrl });
  await root.connect();
  try {
    await root.query(sql);
  } finally {
    await root.end();
  }
}

describe.skipIf(!hasChromium || !databaseUrl)('two app instances on one PostgreSQL', () => {
  const name = `course_two_${randomBytes(4).toString('hex')}`;
  let a: RunningApp;
  let b: RunningApp;
  let browser: BrowserContext;

  beforeAll(async () => {
    await withDatabase(`create database ${name}`);
    const url = new URL(databaseUrl as string);
    url.pathname = `/${name}`;
    // A slower demo pace, so there is time to open the job on B and cancel it mid-way.
    const env = { DATABASE_URL: url.toString(), DEMO_STEP_MS: '400' };
    [a, b] = await Promise.all([startApp(env), startApp(env)]);
    browser = await launchChromium();
    // Cookies are per host, not per port: one sign-in serves both instances.
    await browser.addCookies([{ name: 'demo_user', value: 'two-instance-user', url: a.url }]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await withDatabase(`drop database if exists ${name} with (force)`);
  });

  const progressOf = async (page: Page) =>
    Number(
      await page
        .getByRole('progressbar', { name: 'Overall progress' })
        .getAttribute('aria-valuenow'),
    );

  it('starts on A, shows and cancels on B, and A stops its worker', async () => {
    const onA = await browser.newPage();
    await onA.goto(`${a.url}/study/aws-saa`);
    const started = onA.waitForResponse((r) => r.url().endsWith('/api/generation/start'));
    await onA.getByRole('button', { name: 'Generate Course' }).click();
    const { jobId } = (await (await started).json()) as { jobId: string };
    await expect.poll(() => progressOf(onA), { timeout: 30_000 }).toBeGreaterThan(5);

    // B never ran this job: it finds it in the shared store and follows it live.
    const onB = await browser.newPage();
    await onB.goto(`${b.url}/study/aws-saa`);
    const dialogB = onB.getByRole('dialog');
    await dialogB.getByText('Connected').waitFor({ timeout: 30_000 });
    const seenOnB = await progressOf(onB);
    await expect.poll(() => progressOf(onB), { timeout: 30_000 }).toBeGreaterThan(seenOnB);

    await dialogB.getByRole('button', { name: 'Cancel job' }).click();
    await dialogB.getByRole('button', { name: 'Yes, cancel job' }).click();
    await dialogB.locator('.jsp-alert', { hasText: /^Cancelled/ }).waitFor({ timeout: 30_000 });
    // A's modal hears the cancel committed on B.
    await onA
      .getByRole('dialog')
      .locator('.jsp-alert', { hasText: /^Cancelled/ })
      .waitFor({ timeout: 30_000 });

    // A's worker stopped: the job stays cancelled and no course is written.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await onA.evaluate(async (id) => {
      const status = await (await fetch(`/api/generation/status/${id}`)).json();
      const course = await fetch(`/course/course-${id.slice(0, 8)}`);
      return { status: status.job.status, course: course.status };
    }, jobId);
    expect(after).toEqual({ status: 'cancelled', course: 404 });
    await onA.close();
    await onB.close();
  }, 150_000);
});
