import { describe, expect, it } from 'vitest';
import { jobProgressCss } from './styles.js';

describe('jobProgressCss', () => {
  const uses = [...jobProgressCss.matchAll(/var\((--jsp-[a-z]+),([^;}]+?)\)[;}]/g)];

  it('declares no variable, so a theme set anywhere wins whatever the sheet order', () => {
    expect(jobProgressCss).not.toMatch(/[{;]--jsp-[a-z]+:/);
    // Every use carries its default, so none is left without one.
    expect(jobProgressCss.match(/var\(--jsp-/g)?.length).toBe(uses.length);
  });

  it('gives each variable one default, everywhere it is used', () => {
    const defaults = new Map<string, Set<string>>();
    for (const [, name, fallback] of uses) {
      defaults.set(name!, (defaults.get(name!) ?? new Set()).add(fallback!));
    }
    expect([...defaults.keys()].sort()).toEqual(
      [
        '--jsp-accent',
        '--jsp-backdrop',
        '--jsp-bg',
        '--jsp-border',
        '--jsp-danger',
        '--jsp-fg',
        '--jsp-font',
        '--jsp-muted',
        '--jsp-radius',
        '--jsp-ring',
        '--jsp-success',
        '--jsp-track',
        '--jsp-warn',
      ].sort(),
    );
    for (const [name, fallbacks] of defaults) expect([name, ...fallbacks]).toHaveLength(2);
  });
});
