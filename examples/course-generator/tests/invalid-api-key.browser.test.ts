// The seed's checklist item "Trigger error (invalid AI key) and see error message", in real
// Chromium against the built app with ANTHROPIC_API_KEY set to a bad key.
//
// api.anthropic.com cannot be reached from here, so ANTHROPIC_BASE_URL points the real
// @anthropic-ai/sdk in the app at a local HTTP server that answers the way the API answers
// a bad key (401 with an `authentication_error` body). That stub is the only stand-in.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp } from './app-server';
import { hasChromium, launchChromium } from './chromium';

describe.skipIf(!hasChromium)('course generator with an invalid Anthropic key', () => {
  let app: RunningApp;
  let browser: BrowserContext;
  let anthropic: http.Server;
  const seenKeys: string[] = [];

  beforeAll(async () => {
    anthropic = http.createServer((request, response) => {
      // The SDK sends the key as `x-api-key` or, in newer versions, as a bearer token.
      const bearer = request.headers.authorization?.replace(/^Bearer /, '');
      seenKeys.push(String(request.headers['x-api-key'] ?? bearer));
      request.resume();
      response.writeHead(401, { 'content-type': 'application/json', 'request-id': 'req_stub_1' });
      response.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'authentication_error', message: 'invalid x-api-key' },
          request_id: 'req_stub_1',
        }),
      );
    });
    await new Promise<void>((resolve) => anthropic.listen(0, '127.0.0.1', resolve));
    const { port } = anthropic.address() as AddressInfo;
    app = await startApp({
      ANTHROPIC_API_KEY: 'sk-ant-not-a-real-key',
      ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`,
    });
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await new Promise((resolve) => anthropic?.close(resolve));
  });

  it('fails the job with a message about the key, shown in the modal', async () => {
    await browser.addCookies([{ name: 'demo_user', value: 'bad-key-user', url: app.url }]);
    const page = await browser.newPage();
    await page.goto(`${app.url}/study/aws-saa`);
    const started = page.waitForResponse((r) => r.url().endsWith('/api/generation/start'));
    await page.getByRole('button', { name: 'Generate Course' }).click();
    const { jobId } = (await (await started).json()) as { jobId: string };
    const dialog = page.getByRole('dialog');
    await dialog.getByText(/Anthropic rejected the API key/).waitFor({ timeout: 60_000 });
    // The key reached the (stub) API, and the job failed with a code a UI can act on.
    expect(seenKeys).toContain('sk-ant-not-a-real-key');
    const status = await page.evaluate(
      async (id) => (await fetch(`/api/generation/status/${id}`)).json(),
      jobId,
    );
    expect(status.job.status).toBe('failed');
    expect(status.job.error.code).toBe('anthropic_auth');
    expect(status.job.error.message).toContain('check ANTHROPIC_API_KEY');
    expect(page.url()).toContain('/study/aws-saa');
    await page.close();
  }, 90_000);
});
