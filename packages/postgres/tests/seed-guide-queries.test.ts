import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { adapt, GUIDE } from './seed-guide-sql.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

describe.skipIf(skipReason !== null)("the seed guide's SQL, verbatim, on jobstream_jobs", () => {
  let database: TestDatabase;
  let store: PostgresJobStore;
  const ids: Record<string, string> = {};

  async function make(state: string, events: { type: string; data: unknown }[]) {
    const { job } = await store.createJob({
      ownerId: 'guide-owner',
      kind: 'course',
      input: { examId: `exam-${state}` },
      steps: [{ name: 'fetch_questions' }, { name: 'generate_lessons', weight: 3 }],
    });
    if (events.length > 0) {
      await store.commit(job.id, { expectedVersion: job.version, events: events as never[] });
    }
    ids[state] = job.id;
    // created_at is the order of the "Recent jobs" query: keep the five jobs apart.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_guide');
    store = new PostgresJobStore({ connectionString: database.url });
    await store.migrate();
    await make('pending', []);
    await make('running', [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
    ]);
    await make('completed', [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
      { type: 'step_completed', data: { step: 'fetch_questions', stepIndex: 1, duration: 10 } },
      { type: 'step_started', data: { step: 'generate_lessons', stepIndex: 2 } },
      { type: 'job_completed', data: { result: { courseId: 'c1' }, totalDuration: 20 } },
    ]);
    await make('failed', [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'generate_lessons', stepIndex: 2 } },
      { type: 'job_failed', data: { error: { message: 'boom' }, failedStep: 'generate_lessons' } },
    ]);
    await make('cancelled', [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
      {
        type: 'job_cancelled',
        data: { reason: 'User cancelled', cancelledAt: new Date().toISOString() },
      },
    ]);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const run = async (sql: string) => (await database.admin.query(adapt(sql))).rows;

  it('"Check Job in Database" finds the job by id, with every column the guide shows', async () => {
    expect(await run(GUIDE.checkJob)).toEqual([]);
    const rows = await run(GUIDE.checkJob.replace('job-uuid', ids.running ?? ''));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: ids.running,
      status: 'running',
      current_step: 'fetch_questions',
      current_step_index: 1,
      total_steps: 2,
    });
    expect(rows[0].created_at).toBeInstanceOf(Date);
    expect(rows[0].started_at).toBeInstanceOf(Date);
    expect(rows[0].completed_at).toBeNull();
  });

  it('"Average generation time" is a number of seconds over completed jobs only', async () => {
    const rows = await run(GUIDE.average);
    expect(rows).toHaveLength(1);
    const seconds = Number(rows[0].avg_seconds);
    expect(rows[0].avg_seconds).not.toBeNull();
    expect(Number.isFinite(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it('"Failure rate by step" names the step the job failed in', async () => {
    expect(await run(GUIDE.failures)).toEqual([
      { current_step: 'generate_lessons', failures: '1' },
    ]);
  });

  it('"Recent jobs" lists all five states newest first; finished ones have completed_at', async () => {
    const rows = await run(GUIDE.recent);
    expect(rows.map((r) => [r.id, r.status])).toEqual(
      ['cancelled', 'failed', 'completed', 'running', 'pending'].map((s) => [ids[s], s]),
    );
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r]));
    expect(byStatus.pending.current_step).toBeNull();
    expect(byStatus.running.current_step).toBe('fetch_questions');
    expect(byStatus.cancelled.current_step).toBe('fetch_questions');
    for (const s of ['completed', 'failed', 'cancelled']) {
      expect(byStatus[s].completed_at).toBeInstanceOf(Date);
      expect(byStatus[s].completed_at.getTime()).toBeGreaterThanOrEqual(
        byStatus[s].created_at.getTime(),
      );
    }
    for (const s of ['pending', 'running']) expect(byStatus[s].completed_at).toBeNull();
  });
});
