// What every browser test file shares: one Chromium (Debian's, through playwright-core) and
// one demo server per file, and a page per test that opens the modal for a job.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from '@jobstream/browser-testing';
import * as esbuild from 'esbuild';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startDemoServer } from './demo-server.js';

export { chromiumPath, hasChromium } from '@jobstream/browser-testing';

const screenshotsDir = path.resolve(import.meta.dirname, '../../../../docs/screenshots');

const HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jobstream modal</title>
<style>body{margin:0;font-family:system-ui,sans-serif;background:#f4f4f8;color:#18181b}
main{max-width:720px;margin:0 auto;padding:40px 20px}h1{margin:0 0 4px}p{color:#63636e}
main>button{font:inherit;padding:10px 16px;border-radius:8px;border:0;background:#4f46e5;color:#fff}</style>
</head><body><div id="root"></div><script src="/page.js"></script></body></html>`;

export type OpenOptions = {
  open?: boolean;
  width?: number;
  height?: number;
  at?: number;
  /** The client's base URL (the demo server's default: /api/generation). */
  base?: string;
};

/** Registers beforeAll/afterAll in the calling describe block; read the fields inside tests. */
export function browserHarness() {
  let server!: Awaited<ReturnType<typeof startDemoServer>>;
  let browser: BrowserContext | undefined;
  /** Where screenshots go unless UPDATE_SCREENSHOTS=1. */
  let scratchDir = '';

  beforeAll(async () => {
    const bundle = await esbuild.build({
      entryPoints: [path.join(import.meta.dirname, 'page.tsx')],
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
    scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jsp-shots-'));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
  });

  return {
    get server() {
      return server;
    },
    /** A new page showing the modal for `jobId` (open unless `open: false`). */
    async openJob(jobId: string, opts: OpenOptions = {}) {
      const page = await browser!.newPage();
      if (opts.at) await page.clock.setFixedTime(opts.at);
      await page.setViewportSize({ width: opts.width ?? 1280, height: opts.height ?? 800 });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      const base = opts.base ? `&base=${encodeURIComponent(opts.base)}` : '';
      await page.goto(`${server.origin}/?job=${jobId}${opts.open === false ? '' : '&open'}${base}`);
      return { page, errors };
    },
    /** docs/screenshots with UPDATE_SCREENSHOTS=1, else a temporary directory. */
    screenshotPath: (name: string) =>
      path.join(process.env.UPDATE_SCREENSHOTS ? screenshotsDir : scratchDir, name),
  };
}
