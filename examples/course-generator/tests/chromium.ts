// Debian's Chromium through playwright-core, launched the way this machine needs it
// (no sandbox as root, no background networking on a closed network).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = fs.existsSync(chromiumPath);
if (!hasChromium && process.env.JOBSTREAM_REQUIRE_SERVICES === '1') {
  throw new Error(`No Chromium at ${chromiumPath} but JOBSTREAM_REQUIRE_SERVICES=1`);
}
if (!hasChromium) console.warn(`No Chromium at ${chromiumPath}: skipping the browser tests.`);

/** A headless Chromium with a fresh profile. */
export function launchChromium(viewport = { width: 1280, height: 860 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-course-')), {
    executablePath: chromiumPath,
    headless: true,
    viewport,
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
}
