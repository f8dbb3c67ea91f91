import type { Job } from '@jobstream/core';

/** The seed app's snake_case columns, as `status` and `cancel` also answer them. */
export interface SeedJobAliases {
  current_step: string | null;
  current_step_index: number;
  total_steps: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
}

/** The job record plus the seed's snake_case aliases (docs/protocol.md). */
export function withSeedAliases<T extends Job>(job: T): T & SeedJobAliases {
  return {
    ...job,
    current_step: job.currentStep,
    current_step_index: job.currentStepIndex,
    total_steps: job.totalSteps,
    created_at: job.createdAt,
    started_at: job.startedAt,
    completed_at: job.completedAt,
  };
}
