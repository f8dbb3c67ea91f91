import type { Job, JobStep, JobTopic, StepStatus } from '@jobstream/core/lite';

/** How a step is shown: the mark beside it and the words a screen reader hears. */
export const STEP_MARKS: Record<StepStatus, { mark: string; text: string }> = {
  pending: { mark: '', text: 'pending' },
  running: { mark: '', text: 'in progress' },
  completed: { mark: '✓', text: 'done' },
  failed: { mark: '✕', text: 'failed' },
  cancelled: { mark: '–', text: 'cancelled' },
};

/** "Topic 3 of 8: Cardiology" ("Topic 3: Cardiology" when the count is unknown). */
export function topicText(topic: JobTopic | null): string | null {
  if (!topic) return null;
  const of = topic.count != null ? ` of ${topic.count}` : '';
  return `Topic ${topic.index}${of}: ${topic.name}`;
}

/** "Step 2 of 5: Writing lessons", or null before the first step. */
export function stepText(
  job: Pick<Job, 'steps' | 'currentStepIndex' | 'totalSteps'>,
): string | null {
  const step: JobStep | undefined = job.steps[job.currentStepIndex - 1];
  if (!step) return null;
  return `Step ${job.currentStepIndex} of ${job.totalSteps}: ${step.label}`;
}

/** Milliseconds the job has run: to `now` while it runs, to its end once finished. */
export function elapsedMs(
  job: Pick<Job, 'startedAt' | 'createdAt' | 'completedAt'>,
  now: number,
): number {
  const from = Date.parse(job.startedAt ?? job.createdAt);
  const to = job.completedAt ? Date.parse(job.completedAt) : now;
  return Number.isFinite(from) && Number.isFinite(to) ? Math.max(0, to - from) : 0;
}
