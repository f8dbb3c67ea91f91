// The quick start again through require(): the CJS builds of core, server and client.
const http = require('node:http');
const { MemoryJobStore, isJobstreamError } = require('@jobstream/core');
const { createJobServer, defineJob } = require('@jobstream/server');
const { toNodeHandler } = require('@jobstream/server/node');
const { createJobClient, subscribeToJob } = require('@jobstream/client');
const { z } = require('zod');

const courseJob = defineJob({
  kind: 'course',
  input: z.object({ examId: z.string() }),
  steps: ['fetch_questions', 'generate_lessons', 'save_course'],
  async run({ examId }, { tracker }) {
    await tracker.startStep('fetch_questions');
    await tracker.startStep('generate_lessons');
    await tracker.startStep('save_course');
    return { courseId: `course-of-${examId}` };
  },
});

async function main() {
  const server = createJobServer({
    store: new MemoryJobStore(),
    jobs: [courseJob],
    authenticate: (request) => request.headers.get('x-user'),
    basePath: '/api/generation',
  });
  const httpServer = http.createServer(toNodeHandler(server));
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${httpServer.address().port}`;
  const headers = { 'x-user': 'user-1' };
  const client = createJobClient({ baseUrl: `${origin}/api/generation`, headers });
  const { jobId, streamUrl } = await client.start({ examId: 'e1' });
  const events = [];
  await new Promise((resolve, reject) => {
    subscribeToJob(new URL(streamUrl, origin).href, {
      headers,
      onEvent: (event) => events.push(event),
      onError: reject,
      onStateChange: (state) => state === 'closed' && resolve(),
    });
  });
  let notFound = null;
  try {
    await client.status('no-such-job');
  } catch (error) {
    notFound = { status: error.status, code: error.code };
  }
  await server.close();
  httpServer.close();
  console.log(
    JSON.stringify({
      events: events.map((e) => ({ id: e.id, type: e.type, jobId: e.jobId })),
      jobId,
      result: events.at(-1)?.data.result,
      notFound,
      isJobstreamError: typeof isJobstreamError,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
