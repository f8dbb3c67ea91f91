// The server README's quick start, run from the installed tarballs: it is pasted in at
// "README SNIPPET" by the test, its `listen(3000)` moved to a free port. Then the client
// README's shape: start the job over HTTP and follow it with @jobstream/client to the end.
import { createJobClient } from '@jobstream/client';

// README SNIPPET

const port = await new Promise((resolve) => {
  httpServer.on('listening', () => resolve(httpServer.address().port));
});
const client = createJobClient({
  baseUrl: `http://127.0.0.1:${port}/api/generation`,
  headers: { 'x-user': 'user-1' },
});
const { jobId, streamUrl } = await client.start({ examId: 'e1' });
const events = [];
const states = [];
await new Promise((resolve, reject) => {
  client.subscribe(jobId, {
    onEvent: (event) => events.push(event),
    onError: reject,
    onStateChange: (state) => {
      states.push(state);
      if (state === 'closed') resolve();
    },
  });
});
const { job } = await client.status(jobId);
await server.close();
httpServer.close();
console.log(
  JSON.stringify({
    streamUrl,
    states,
    events: events.map((e) => ({ id: e.id, type: e.type, jobId: e.jobId })),
    status: job.status,
    result: job.result,
  }),
);
