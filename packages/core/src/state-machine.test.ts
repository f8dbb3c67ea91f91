import { describe, expect, it } from 'vitest';
import { isJobstreamError } from './errors.js';
import type { JobStatus } from './job.js';
import { type JobAction, nextStatus, transition } from './state-machine.js';

const STATUSES: JobStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled'];
const ACTIONS: JobAction[] = ['start', 'complete', 'fail', 'cancel', 'resume'];

const ALLOWED: Record<string, JobStatus> = {
  'pending:start': 'running',
  'pending:cancel': 'cancelled',
  'running:complete': 'completed',
  'running:fail': 'failed',
  'running:cancel': 'cancelled',
  'failed:resume': 'pending',
};

describe('state machine', () => {
  for (const from of STATUSES) {
    for (const action of ACTIONS) {
      const expected = ALLOWED[`${from}:${action}`];
      it(`${from} --${action}--> ${expected ?? 'refused'}`, () => {
        expect(nextStatus(from, action)).toBe(expected ?? null);
        if (expected) {
          expect(transition(from, action)).toBe(expected);
        } else {
          let caught: unknown;
          try {
            transition(from, action);
          } catch (error) {
            caught = error;
          }
          expect(isJobstreamError(caught, 'invalid_transition')).toBe(true);
          expect((caught as Error).message).toContain(from);
        }
      });
    }
  }
});
