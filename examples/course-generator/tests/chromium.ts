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

/** A phone: 360 px wide, touch only, mobile viewport rules, a dense screen. */
export const PHONE = {
  viewport: { width: 360, height: 740 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 3,
} as const;

/** A headless Chromium with a fresh profile (a desktop window unless told otherwise). */
export function launchChromium(
  device: {
    viewport: { width: number; height: number };
    isMobile?: boolean;
    hasTouch?: boolean;
    deviceScaleFactor?: number;
  } = {
    viewport: { width: 1280, height: 860 },
  },
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-course-')), {
    executablePath: chromiumPath,
    headless: true,
    ...device,
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
