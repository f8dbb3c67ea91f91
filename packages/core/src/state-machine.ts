import { JobstreamError } from './errors.js';
import type { JobStatus } from './job.js';

export type JobAction = 'start' | 'complete' | 'fail' | 'cancel' | 'resume';

/**
 * pending ──start──▶ running ──complete──▶ completed
 *    │                  ├──fail──────────▶ failed ──resume──▶ pending
 *    └──cancel──┐       └──cancel────────▶ cancelled
 *               └──────────────────────▶ cancelled
 */
const TRANSITIONS: Record<JobStatus, Partial<Record<JobAction, JobStatus>>> = {
  pending: { start: 'running', cancel: 'cancelled' },
  running: { complete: 'completed', fail: 'failed', cancel: 'cancelled' },
  failed: { resume: 'pending' },
  completed: {},
  cancelled: {},
};

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export function isTerminalStatus(status: JobStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** The status `action` leads to from `from`, or null when the move is not allowed. */
export function nextStatus(from: JobStatus, action: JobAction): JobStatus | null {
  return TRANSITIONS[from][action] ?? null;
}

/** Like `nextStatus`, but throws `invalid_transition` for a move the machine forbids. */
export function transition(from: JobStatus, action: JobAction): JobStatus {
  const to = TRANSITIONS[from][action];
  if (!to) {
    throw new JobstreamError('invalid_transition', `Cannot ${action} a ${from} job.`, {
      details: { from, action },
    });
  }
  return to;
}
