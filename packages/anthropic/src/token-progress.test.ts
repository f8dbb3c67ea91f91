import { describe, expect, it } from 'vitest';
import { TokenProgress } from './token-progress.js';

describe('TokenProgress', () => {
  it('estimates tokens from characters until the API reports a higher count', () => {
    const progress = new TokenProgress({ expectedTokens: 100 });
    progress.addText('a'.repeat(40));
    expect(progress.tokens).toBe(10);
    progress.reportTokens(25);
    expect(progress.tokens).toBe(25);
    progress.reportTokens(5); // an older, lower count never lowers it
    expect(progress.tokens).toBe(25);
  });

  it('never passes 99 before the end, never repeats or goes back, and reaches 100 at the end', () => {
    const progress = new TokenProgress({ expectedTokens: 10 });
    progress.addText('a'.repeat(20));
    expect(progress.next()).toBe(50);
    expect(progress.next()).toBeNull();
    progress.addText('a'.repeat(400));
    expect(progress.next()).toBe(99);
    progress.addText('a'.repeat(400));
    expect(progress.next()).toBeNull();
    expect(progress.next(true)).toBe(100);
    expect(progress.next(true)).toBeNull();
  });

  it('keeps what was shown across a restart', () => {
    const progress = new TokenProgress({ expectedTokens: 100 });
    progress.reportTokens(60);
    expect(progress.next()).toBe(60);
    progress.restart();
    progress.reportTokens(30);
    expect(progress.tokens).toBe(30);
    expect(progress.next()).toBeNull();
    progress.reportTokens(70);
    expect(progress.next()).toBe(70);
  });

  it('maps onto a span and starts above a floor', () => {
    const progress = new TokenProgress({ expectedTokens: 100, span: [50, 75], floor: 55 });
    progress.reportTokens(10); // 52.5: below what the step already shows
    expect(progress.next()).toBeNull();
    progress.reportTokens(40); // 60
    expect(progress.next()).toBe(60);
    progress.reportTokens(1000);
    expect(progress.next()).toBe(74.7);
    expect(progress.next(true)).toBe(75);
  });

  it('rejects a budget or span that cannot work', () => {
    expect(() => new TokenProgress({ expectedTokens: 0 })).toThrow(RangeError);
    expect(() => new TokenProgress({ expectedTokens: 10, span: [80, 20] })).toThrow(RangeError);
    expect(() => new TokenProgress({ expectedTokens: 10, span: [0, 120] })).toThrow(RangeError);
  });
});
