import type { BrowserContext, chromium } from 'playwright-core';

/** `CHROMIUM_PATH`, or Debian's `/usr/bin/chromium`. */
export declare const chromiumPath: string;
/** Whether it is there. Without it importing throws under `JOBSTREAM_REQUIRE_SERVICES=1` (CI). */
export declare const hasChromium: boolean;
/** A phone: 360 px wide, touch only, mobile viewport rules, a dense screen. */
export declare const PHONE: {
  readonly viewport: { readonly width: 360; readonly height: 740 };
  readonly isMobile: true;
  readonly hasTouch: true;
  readonly deviceScaleFactor: 3;
};
export type LaunchOptions = NonNullable<Parameters<typeof chromium.launchPersistentContext>[1]>;
/** A headless Chromium on a fresh profile (deleted once `close()` resolves). */
export declare function launchChromium(options?: LaunchOptions): Promise<BrowserContext>;
