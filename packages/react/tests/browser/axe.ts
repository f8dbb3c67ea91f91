// axe-core in a test page: its source from node_modules (no network), run on the modal.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const axeSource = fs.readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

export type AxeFinding = {
  id: string;
  impact: string;
  help: string;
  targets: string[];
  summary: string;
};

/**
 * Moderate findings that do not apply to a modal dialog, each with the reason. Serious and
 * critical findings are never excused.
 */
export const NOT_APPLICABLE: Record<string, string> = {};

/** Every axe violation inside `.jsp-overlay` on the page as it is now. */
export async function axeViolations(page: Page): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window)))
    await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const axe = (window as any).axe;
    const result = await axe.run('.jsp-overlay', { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n: any) => n.target.join(' ')),
      summary: v.nodes.map((n: any) => n.failureSummary).join(' | '),
    }));
  });
}

/** The findings a test fails on: serious, critical, and moderate ones not excused above. */
export function blocking(findings: AxeFinding[]): AxeFinding[] {
  return findings.filter(
    (f) =>
      f.impact === 'serious' ||
      f.impact === 'critical' ||
      (f.impact === 'moderate' && !(f.id in NOT_APPLICABLE)),
  );
}

export function describeFindings(findings: AxeFinding[]): string {
  return findings
    .map((f) => `${f.impact} ${f.id} (${f.help}) at ${f.targets.join(', ')}: ${f.summary}`)
    .join('\n');
}
