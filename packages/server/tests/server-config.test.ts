import { isJobstreamError, MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobServer, JobServerConfigError, type JobServerOptions } from '../src/index.js';
import { post, quickJob, startJob, startServer, type TestServer, waitFor } from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const base: JobServerOptions = {
  store: new MemoryJobStore(),
  jobs: [quickJob],
  authenticate: () => 'alice',
};

function configError(options: Partial<JobServerOptions>): JobServerConfigError {
  try {
    createJobServer({ ...base, ...options }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(JobServerConfigError);
    expect(isJobstreamError(error, 'invalid_config')).toBe(true);
    return error as JobServerConfigError;
  }
  throw new Error('expected createJobServer to throw');
}

describe('createJobServer refuses a configuration that cannot work', () => {
  it('dispatch without secret fails at start-up and says what to set', () => {
    // The usual way it happens: the env variable is missing in production.
    const error = configError({
      dispatch: async () => {},
      secret: process.env.JOBSTREAM_SECRET_THAT_IS_NOT_SET,
    });
    expect(error.option).toBe('secret');
    expect(error.details).toEqual({ option: 'secret' });
    expect(error.message).toMatch(/`dispatch` is set but `secret` is not: set `secret`/);
    expect(error.message).toMatch(/processRoute: false/);
    expect(configError({ secret: '' }).option).toBe('secret');
  });

  it('names the stale-job option at fault', () => {
    expect(configError({ staleAfterMs: 0 }).option).toBe('staleAfterMs');
    expect(configError({ staleAfterMs: Number.NaN }).option).toBe('staleAfterMs');
    expect(configError({ stalePendingAfterMs: -5 }).option).toBe('stalePendingAfterMs');
    expect(configError({ staleSweepIntervalMs: 0 }).option).toBe('staleSweepIntervalMs');
    expect(configError({ staleAfterMs: false, staleSweepIntervalMs: 1000 }).option).toBe(
      'staleSweepIntervalMs',
    );
    expect(configError({ maxActiveJobsPerOwner: 1.5 }).option).toBe('maxActiveJobsPerOwner');
    expect(configError({ jobs: [] }).option).toBe('jobs');
  });

  it('takes a stream age limit in ms, or false or Infinity for none', () => {
    for (const maxStreamAgeMs of [0, -1, Number.NaN, 2 ** 31, '60000', true]) {
      expect(configError({ maxStreamAgeMs } as never).option).toBe('maxStreamAgeMs');
    }
    expect(configError({ maxStreamAgeMs: 0 }).message).toMatch(/or false \(or Infinity\)/);
    for (const maxStreamAgeMs of [false, Number.POSITIVE_INFINITY, 1, 2 ** 31 - 1] as const) {
      expect(() => createJobServer({ ...base, maxStreamAgeMs }).close()).not.toThrow();
    }
  });

  it('a dispatcher that runs jobs without /process needs no secret, and /process is gone', async () => {
    server = await startServer({
      processRoute: false,
      dispatch: (_job, ctx) => {
        void ctx.run();
      },
    });
    const { jobId } = await startJob(server.base);
    await waitFor(async () => (await server?.store.getJob(jobId))?.status === 'completed');
    expect((await post(`${server.base}/process`, { jobId })).status).toBe(404);
  });

  it('processRequest() without the /process route fails the dispatch, not silently', async () => {
    server = await startServer({
      processRoute: false,
      dispatch: async (_job, ctx) => {
        await ctx.processRequest('http://localhost/process');
      },
    });
    const response = await post(`${server.base}/start`, { examId: 'x' });
    expect(response.status).toBe(503);
    const { jobs } = await server.store.listJobs({ ownerId: 'alice' });
    expect(jobs.map((j) => j.status)).toEqual(['failed']);
  });
});
