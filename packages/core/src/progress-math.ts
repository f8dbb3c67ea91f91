import type { JobStep } from './job.js';

/** Round to two decimals so progress values stay short on the wire. */
export function roundProgress(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Overall progress 0–100 from weighted steps: completed steps count in full, the
 * running step counts by its own progress.
 */
export function weightedProgress(steps: readonly JobStep[], runningStepProgress?: number): number {
  let total = 0;
  let done = 0;
  for (const step of steps) {
    total += step.weight;
    if (step.status === 'completed') done += step.weight;
    else if (step.status === 'running') {
      done += (step.weight * (runningStepProgress ?? step.progress)) / 100;
    }
  }
  if (total <= 0) return 0;
  return Math.min(100, roundProgress((done / total) * 100));
}
