import { type CommitRequest, JobstreamError, MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { post, startServer, type TestServer, waitingJob } from './helpers.js';

/** A memory store whose commits fail while `down`, as a store behind a cut link does. */
class DownStore extends MemoryJobStore {
  down = false;
  commits = 0;
  override async commit(jobId: string, request: CommitRequest) {
    if (this.down) {
      this.commits++;
      throw new JobstreamError('store_unavailable', 'connection refused');
    }
    return super.commit(jobId, request);
  }
}

describe('a store outage while a request waits', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('cancel answers 503 store_unavailable after a short wait, not the job-sized one', async () => {
    const store = new DownStore();
    server = await startServer({
      store,
      jobs: [waitingJob],
      // A job's own writes may wait a minute; a request must not.
      tracker: { storeOutageMs: 60_000 },
      onError: () => {},
    });
    const started = await post(`${server.base}/start`, {});
    const { jobId } = (await started.json()) as { jobId: string };
    store.down = true;
    const response = await post(`${server.base}/cancel`, { jobId });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'store_unavailable' } });
    // It did retry (a blip of a few hundred ms would have gone through).
    expect(store.commits).toBeGreaterThan(1);
    store.down = false;
    const again = await post(`${server.base}/cancel`, { jobId });
    expect(again.status).toBe(200);
  }, 20_000);
});
