import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromiumPath, hasChromium, launchChromium } from '@jobstream/browser-testing';
import { MemoryJobStore } from '@jobstream/core';
import { createJobServer, defineJob, type StandardSchemaV1 } from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import * as esbuild from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';

/** Runs in the worker: follows `jobId` both ways and posts every observation. */
const WORKER_SOURCE = `
import { createJobClient, subscribeToJob } from './src/index.ts';
self.onmessage = ({ data: { base, jobId } }) => {
  const post = (kind, value) => self.postMessage({ kind, value });
  post('globals', { window: typeof window, document: typeof document });
  subscribeToJob(base + '/stream/' + jobId, {
    retry: { initialDelayMs: 20, maxDelayMs: 100 },
    onEvent: (event) => post('event', event.id + ':' + event.type),
    onStateChange: (state) => post('state', state),
    onError: (error) => post('error', error.kind + ':' + error.message),
  });
  const watcher = createJobClient({ baseUrl: base }).watch(jobId);
  watcher.subscribe(() => {
    const { job, connection } = watcher.getSnapshot();
    post('snapshot', { status: job?.status, version: job?.version, connection, result: job?.result });
  });
};
`;

const PAGE = `<!doctype html><meta charset="utf-8"><title>worker</title><script>
window.__log = [];
const worker = new Worker('/worker.js');
worker.onmessage = ({ data }) => window.__log.push(data);
worker.onerror = (event) => window.__log.push({ kind: 'uncaught', value: String(event.message) });
window.follow = (base, jobId) => worker.postMessage({ base, jobId });
</script>`;

type Entry = { kind: string; value: any };

const input: StandardSchemaV1<{ examId: string }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) => ({ value: value as { examId: string } }),
  },
};

describe.skipIf(!hasChromium)(`the client in a Web Worker (${chromiumPath})`, () => {
  let browser: BrowserContext;
  let httpServer: http.Server;
  let origin: string;
  let store: MemoryJobStore;
  let jobServer: ReturnType<typeof createJobServer>;
  const gates: (() => void)[] = [];
  const gate = () => new Promise<void>((resolve) => gates.push(resolve));

  beforeAll(async () => {
    const bundle = await esbuild.build({
      stdin: { contents: WORKER_SOURCE, resolveDir: path.resolve(import.meta.dirname, '..') },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const workerScript = bundle.outputFiles[0]?.text ?? '';
    store = new MemoryJobStore();
    const job = defineJob({
      kind: 'course',
      input,
      steps: ['outline', 'lessons', 'save'],
      async run(_input, { tracker }) {
        for (const step of ['outline', 'lessons', 'save'] as const) {
          await tracker.startStep(step);
          await gate();
          await tracker.completeStep();
        }
        return { courseId: 'c1' };
      },
    });
    jobServer = createJobServer({
      store,
      jobs: [job],
      authenticate: () => 'user-1',
      basePath: '/api/generation',
      tracker: { coalesceMs: 0 },
      retryMs: 20,
      onError: () => {},
    });
    const api = toNodeHandler(jobServer, { onError: () => {} });
    httpServer = http.createServer((req, res) => {
      if (req.url?.startsWith('/api/')) return void api(req, res);
      const [type, body] =
        req.url === '/worker.js' ? ['text/javascript', workerScript] : ['text/html', PAGE];
      res.writeHead(200, { 'content-type': type }).end(body);
    });
    httpServer.listen(0, '127.0.0.1');
    await new Promise((resolve) => httpServer.once('listening', resolve));
    origin = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const release of gates.splice(0)) release();
    await browser?.close();
    jobServer?.close();
    httpServer?.closeAllConnections();
    await new Promise((resolve) => httpServer?.close(resolve));
    store?.close();
  });

  const log = (page: Page) => page.evaluate(() => (window as any).__log as Entry[]);
  const of = (entries: Entry[], kind: string) =>
    entries.filter((e) => e.kind === kind).map((e) => e.value);
  it('follows a job across dropped connections: every event once, in order, and a completed snapshot', async () => {
    const page = await browser.newPage();
    await page.goto(origin);
    const res = await fetch(`${origin}/api/generation/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ examId: 'e1' }),
    });
    const { jobId } = (await res.json()) as { jobId: string };
    await page.evaluate(
      ([base, id]) => (window as any).follow(base, id),
      [`${origin}/api/generation`, jobId],
    );
    const poll = async (check: (entries: Entry[]) => boolean) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const entries = await log(page);
        if (check(entries)) return entries;
        if (Date.now() > deadline) {
          throw new Error(`timed out; the worker said: ${JSON.stringify(entries)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const opened = (entries: Entry[]) => of(entries, 'state').filter((s) => s === 'open').length;

    // Both connections open; then, after each of the first two steps, the server drops
    // every connection.
    await poll((e) => opened(e) >= 1 && of(e, 'snapshot').some((s) => s.connection === 'open'));
    for (let drop = 1; drop <= 2; drop++) {
      await waitFor(() => gates.length > 0);
      gates.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 100));
      httpServer.closeAllConnections();
      await poll((e) => opened(e) > drop);
    }
    await waitFor(() => gates.length > 0);
    gates.shift()?.();

    const entries = await poll((e) => of(e, 'state').at(-1) === 'closed');
    await poll((e) => of(e, 'snapshot').some((s) => s.status === 'completed'));
    const final = await log(page);
    expect(of(final, 'uncaught')).toEqual([]);
    expect(of(final, 'globals')[0]).toEqual({ window: 'undefined', document: 'undefined' });
    const stored = await store.readEvents(jobId, { after: 0 });
    expect(of(entries, 'event')).toEqual(stored.map((e) => `${e.id}:${e.type}`));
    expect(of(entries, 'state').filter((s) => s === 'reconnecting').length).toBeGreaterThan(0);
    expect(of(final, 'snapshot').at(-1)).toMatchObject({
      status: 'completed',
      version: stored.length,
      result: { courseId: 'c1' },
    });
    await page.close();
  });
});
