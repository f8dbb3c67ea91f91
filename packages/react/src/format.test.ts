import { describe, expect, it } from 'vitest';
import { estimateTimeLeft, formatClock, formatDuration, formatTimeLeft } from './format.js';
import { elapsedMs, stepText, topicText } from './view-model.js';

describe('formatDuration', () => {
  it('reads like a person would say it', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(840)).toBe('<1s');
    expect(formatDuration(12_400)).toBe('12s');
    expect(formatDuration(185_000)).toBe('3m 05s');
    expect(formatDuration(3_725_000)).toBe('1h 02m');
    expect(formatDuration(-5)).toBe('0s');
    expect(formatDuration(Number.NaN)).toBe('0s');
  });
  it('formats a clock', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(65_900)).toBe('1:05');
    expect(formatClock(3_661_000)).toBe('1:01:01');
  });
});

describe('estimateTimeLeft', () => {
  it('uses the declared estimate before there is a pace', () => {
    expect(estimateTimeLeft(0, 10_000, 60_000)).toBe(50_000);
    expect(estimateTimeLeft(1, 70_000, 60_000)).toBe(0);
  });
  it('uses the pace when nothing was declared', () => {
    expect(estimateTimeLeft(50, 30_000, null)).toBe(30_000);
    expect(estimateTimeLeft(1, 30_000, null)).toBeNull();
  });
  it('trusts the pace more the further the job is', () => {
    // declared says 30 s left, pace says 90 s left (25 % in 30 s)
    const early = estimateTimeLeft(25, 30_000, 60_000)!;
    expect(early).toBe(0.25 * 90_000 + 0.75 * 30_000);
    // at 90 %, pace (10 s) dominates declared (0 s)
    expect(estimateTimeLeft(90, 90_000, 60_000)).toBe(0.9 * 10_000);
    expect(estimateTimeLeft(100, 1, 60_000)).toBe(0);
  });
  it('words it', () => {
    expect(formatTimeLeft(null)).toBeNull();
    expect(formatTimeLeft(3_000)).toBe('Almost done');
    expect(formatTimeLeft(41_000)).toBe('About 50s left');
    expect(formatTimeLeft(150_000)).toBe('About 3 min left');
    expect(formatTimeLeft(2 * 3_600_000)).toBe('About 2 h left');
  });
});

describe('view model', () => {
  it('names the topic as "Topic 3 of 8: Cardiology"', () => {
    const topic = { name: 'Cardiology', index: 3, count: 8, progress: 0, startedAt: '' };
    expect(topicText(topic)).toBe('Topic 3 of 8: Cardiology');
    expect(topicText({ ...topic, count: null })).toBe('Topic 3: Cardiology');
    expect(topicText(null)).toBeNull();
  });
  it('names the step', () => {
    const steps = [{ label: 'Reading' }, { label: 'Writing' }] as never;
    expect(stepText({ steps, currentStepIndex: 2, totalSteps: 2 })).toBe('Step 2 of 2: Writing');
    expect(stepText({ steps, currentStepIndex: 0, totalSteps: 2 })).toBeNull();
  });
  it('measures elapsed time to now, or to the end once finished', () => {
    const job = { createdAt: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:10Z' };
    const now = Date.parse('2026-01-01T00:01:10Z');
    expect(elapsedMs({ ...job, completedAt: null }, now)).toBe(60_000);
    expect(elapsedMs({ ...job, completedAt: '2026-01-01T00:00:40Z' }, now)).toBe(30_000);
  });
});
