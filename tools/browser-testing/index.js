// How every browser test in the repo launches Chromium: Debian's package through
// playwright-core (nothing is downloaded), as root without a sandbox, with nothing that
// reaches for the network on a closed machine, on a fresh profile removed on close.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = fs.existsSync(chromiumPath);
if (!hasChromium) {
  if (process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
    throw new Error(`JOBSTREAM_REQUIRE_SERVICES=1 but there is no Chromium at ${chromiumPath}`);
  }
  console.warn(`No Chromium at ${chromiumPath}: the browser tests are skipped.`);
}

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A phone: 360 px wide, touch only, mobile viewport rules, a dense screen. */
export const PHONE = Object.freeze({
  viewport: Object.freeze({ width: 360, height: 740 }),
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 3,
});

/** A headless Chromium on a fresh profile (deleted once `close()` resolves). */
export async function launchChromium(options = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-jobstream-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ARGS,
    ...options,
  });
  // After close() has resolved the browser is gone; the 'close' event comes too early
  // (Chromium is still writing the profile). A leftover temp dir must not fail a test.
  const close = context.close.bind(context);
  context.close = async (...args) => {
    await close(...args);
    try {
      fs.rmSync(profile, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    } catch {}
  };
  return context;
}
