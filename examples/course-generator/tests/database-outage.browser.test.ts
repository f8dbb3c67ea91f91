// The app's PostgreSQL goes away for a few seconds in the middle of a course (a restart,
// a failover), as seen from the app: a TCP proxy between the app and the database resets
// every connection and refuses new ones, then lets them through again. The user watching
// the modal must get the course at the end, every step once; nothing is written twice.
import { randomBytes } from 'node:crypto';
import { startTcpProxy, type TcpProxy } from '@jobstream/network-testing';
import pg from 'pg';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from './app-server';
import { hasChromium, launchChromium } from './chromium';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error('DATABASE_URL is not set but JOBSTREAM_REQUIRE_SERVICES=1');
}

async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(!hasChromium || !databaseUrl)('the database goes away mid-course', () => {
  const name = `course_outage_${randomBytes(4).toString('hex')}`;
  const direct = new URL(databaseUrl as string);
  direct.pathname = `/${name}`;
  let proxy: TcpProxy;
  let app: RunningApp;
  let browser: BrowserContext;

  beforeAll(async () => {
    await query(databaseUrl as string, `create database ${name}`);
    proxy = await startTcpProxy(direct);
    const proxied = new URL(direct);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    app = await startApp({ DATABASE_URL: proxied.toString(), DEMO_STEP_MS: '300' });
    browser = await launchChromium();
    await browser.addCookies([{ name: 'demo_user', value: 'outage-user', url: app.url }]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await proxy?.close();
    await query(databaseUrl as string, `drop database if exists ${name} with (force)`);
  });

  it('the modal carries on after the outage and the course arrives; no event twice', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/study/aws-saa`);
    const started = page.waitForResponse((r) => r.url().endsWith('/api/generation/start'));
    await page.getByRole('button', { name: 'Generate Course' }).click();
    const { jobId } = (await (await started).json()) as { jobId: string };
    const bar = page.getByRole('progressbar', { name: 'Overall progress' });
    await expect
      .poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 30_000 })
      .toBeGreaterThan(10);

    proxy.drop();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const during = await query<{ status: string }>(
      direct.toString(),
      'select status from public.jobstream_jobs where id = $1',
      [jobId],
    );
    expect(during[0]?.status).toBe('running'); // waiting, not failed
    proxy.restore();

    // The page goes to the course when the job completes (onComplete).
    await page.waitForURL(/\/course\//, { timeout: 90_000 });
    const events = await query<{ seq: number; type: string; step: string | null }>(
      direct.toString(),
      `select seq, type, data->>'step' as step from public.jobstream_events
       where job_id = $1 order by seq`,
      [jobId],
    );
    expect(events.map((e) => Number(e.seq))).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.type).toBe('job_completed');
    const stepsStarted = events.filter((e) => e.type === 'step_started').map((e) => e.step);
    expect(new Set(stepsStarted).size, 'each step started once').toBe(stepsStarted.length);
    expect(app.log()).not.toMatch(/unhandled/i);
    await page.close();
  }, 150_000);
});
