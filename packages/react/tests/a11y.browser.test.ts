// axe-core on the modal in Chromium, in every state a user can meet, at desktop and phone
// widths, and with reduced motion and forced colors (Windows High Contrast) emulated.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { type AxeFinding, axeViolations, blocking, describeFindings } from './browser/axe.js';
import { GATES, TOPICS } from './browser/demo-server.js';
import { browserHarness, chromiumPath, hasChromium } from './browser/harness.js';

const WIDTHS = [1280, 360] as const;
const MEDIA = [
  { name: 'default', reducedMotion: 'no-preference', forcedColors: 'none' },
  { name: 'reduced motion', reducedMotion: 'reduce', forcedColors: 'none' },
  { name: 'forced colors', reducedMotion: 'no-preference', forcedColors: 'active' },
] as const;

describe.skipIf(!hasChromium)(
  `JobProgressModal accessibility, axe-core in Chromium (${chromiumPath})`,
  () => {
    const harness = browserHarness();

    /** Runs axe at every width and media setting; fails with every blocking finding listed. */
    async function audit(page: Page, state: string) {
      const found: string[] = [];
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 800 });
        for (const media of MEDIA) {
          await page.emulateMedia({
            reducedMotion: media.reducedMotion,
            forcedColors: media.forcedColors,
          });
          const bad: AxeFinding[] = blocking(await axeViolations(page));
          if (bad.length)
            found.push(`[${state}, ${width} px, ${media.name}]\n${describeFindings(bad)}`);
        }
      }
      await page.emulateMedia({ reducedMotion: 'no-preference', forcedColors: 'none' });
      expect(found, found.join('\n\n')).toEqual([]);
    }

    it('running with steps and a topic, then with the cancel confirmation open, then cancelled', async () => {
      const jobId = await harness.server.start();
      const { page } = await harness.openJob(jobId);
      harness.server.gate(jobId).release();
      await page.getByText(`Topic 1 of ${TOPICS.length}: ${TOPICS[0]}`, { exact: true }).waitFor();
      await page.locator('.jsp-conn', { hasText: 'Connected' }).waitFor();
      await audit(page, 'running');

      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.getByRole('button', { name: 'Keep going' }).waitFor();
      await audit(page, 'cancel confirmation');

      await page.getByRole('button', { name: 'Yes, cancel job' }).click();
      await page.locator('.jsp-alert', { hasText: /^Cancelled/ }).waitFor();
      await audit(page, 'cancelled');
      await page.close();
    });

    it('keeps the bar and the dialog edge visible with forced colors (axe does not check)', async () => {
      const jobId = await harness.server.start();
      const { page } = await harness.openJob(jobId);
      harness.server.gate(jobId).release(3);
      await page.getByText(`Topic 3 of ${TOPICS.length}: ${TOPICS[2]}`, { exact: true }).waitFor();
      await page.emulateMedia({ forcedColors: 'active' });
      const look = await page.evaluate(() => {
        const css = (selector: string) => getComputedStyle(document.querySelector(selector)!);
        return {
          track: css('.jsp-bar').backgroundColor,
          fill: css('.jsp-bar>div').backgroundColor,
          trackEdge: css('.jsp-bar').borderTopStyle,
          dialogEdge: css('.jsp-dialog').borderTopStyle,
        };
      });
      // System colors replace author colors (box-shadows go): the fill must not become the
      // track's color, and the dialog needs a border to stand out from the page.
      expect(look.fill).not.toBe(look.track);
      expect(look.trackEdge).toBe('solid');
      expect(look.dialogEdge).toBe('solid');
      await page.close();
    });

    it('draws the ring of a pending step at 3:1 or more against the dialog (WCAG 1.4.11)', async () => {
      const jobId = await harness.server.start();
      const { page } = await harness.openJob(jobId);
      await page.getByText('Reading 412 questions').waitFor();
      const [ring, background] = await page.evaluate(() => [
        getComputedStyle(document.querySelector('.jsp-step[data-status=pending] .jsp-mark')!)
          .borderTopColor,
        getComputedStyle(document.querySelector('.jsp-dialog')!).backgroundColor,
      ]);
      // The ring is the only mark a pending step has (axe checks text contrast only).
      expect(contrast(ring!, background!)).toBeGreaterThanOrEqual(3);
      await page.close();
    });

    it('failed with the resume action', async () => {
      const jobId = await harness.server.start({ failOnce: TOPICS[0] });
      const { page } = await harness.openJob(jobId);
      harness.server.gate(jobId).release();
      await page.getByRole('button', { name: 'Resume' }).waitFor();
      await audit(page, 'failed');
      await page.close();
    });

    it('completed', async () => {
      const jobId = await harness.server.start();
      harness.server.gate(jobId).release(GATES);
      const { page } = await harness.openJob(jobId);
      await page.locator('.jsp-alert', { hasText: /^Done in / }).waitFor();
      await audit(page, 'completed');
      await page.close();
    });

    it('the connection lost for good (an unknown job: the client gives up)', async () => {
      const { page } = await harness.openJob('no-such-job');
      await page.getByRole('alert').waitFor();
      await audit(page, 'connection lost');
      await page.close();
    });
  },
);

/** WCAG contrast ratio of two opaque `rgb(r, g, b)` colors. */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = (color.match(/\d+/g) ?? []).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
