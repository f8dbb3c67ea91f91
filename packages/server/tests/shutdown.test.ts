// jobServer.close() on shutdown (a deploy): every open SSE response must end, so clients
// reconnect elsewhere with Last-Event-ID and the HTTP server can finish closing.
import { afterEach, expect, it } from 'vitest';
import { startJob, startServer, type TestServer, waitFor, waitingJob } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('close() ends the open streams over the Node adapter, and the HTTP server can close', async () => {
  server = await startServer({ jobs: [waitingJob], heartbeatMs: 50 });
  const { base, jobServer, httpServer } = server;
  const jobIds = [(await startJob(base)).jobId, (await startJob(base)).jobId];
  const bodies = await Promise.all(
    jobIds.map(async (jobId) => {
      const response = await fetch(`${base}/stream/${jobId}`, { headers: { 'x-user': 'alice' } });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const body = { text: '', ended: false };
      void (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          body.text += new TextDecoder().decode(value);
        }
        body.ended = true;
      })().catch(() => {});
      return body;
    }),
  );
  await waitFor(() => bodies.every((body) => body.text.includes('event: step_started')));
  expect(jobServer.activeStreams).toBe(2);

  jobServer.close();
  await waitFor(() => bodies.every((body) => body.ended));
  expect(jobServer.activeStreams).toBe(0);
  // Without the streams' ends this waits for the clients to give up (or forever).
  await new Promise<void>((resolve, reject) =>
    httpServer.close((error) => (error ? reject(error) : resolve())),
  );
});
