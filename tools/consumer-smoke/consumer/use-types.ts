// A consumer's TypeScript, end to end: the type of the root README's `courseJob` flows
// into createJobClient<typeof courseJob>, and mistakes are compile errors.
import {
  createJobClient,
  type JobClientError,
  type ResultOf,
  type StepOf,
  subscribeToJob,
} from '@jobstream/client';
import { MemoryJobStore } from '@jobstream/core';
import { createJobServer, defineJob } from '@jobstream/server';
import { toNodeHandler } from '@jobstream/server/node';
import { z } from 'zod';
import type { courseJob } from './readme-course-job.js';

const client = createJobClient<typeof courseJob>({
  baseUrl: 'http://127.0.0.1:3000/api/generation',
});

export async function startAndFollow(): Promise<string> {
  const { jobId, streamUrl } = await client.start({ examId: 'e1' });
  // @ts-expect-error the input is typed from the job's zod schema
  await client.start({ examID: 'e1' });
  const step: StepOf<typeof courseJob> = 'generate_lessons';
  // @ts-expect-error a misspelt step name
  const misspelt: StepOf<typeof courseJob> = 'generate_lesson';
  void [step, misspelt, streamUrl];

  return new Promise<string>((resolve, reject) => {
    client.subscribe(jobId, {
      onEvent(event) {
        if (event.type === 'step_started') {
          const started: 'fetch_questions' | 'generate_lessons' | 'save_course' = event.data.step;
          void started;
        }
        if (event.type === 'job_completed') resolve(event.data.result.courseId);
      },
      onError: (error: JobClientError) => reject(error),
    });
  });
}

export async function status(jobId: string): Promise<string | undefined> {
  const { job } = await client.status(jobId);
  // @ts-expect-error the result has courseId, not id
  void job.result?.id;
  return job.result?.courseId;
}

// The low-level reader takes the same event type.
subscribeToJob('http://127.0.0.1:3000/api/generation/stream/x', {
  onStateChange: (state) => {
    // @ts-expect-error not a connection state
    if (state === 'connected') return;
  },
});

const result: ResultOf<typeof courseJob> = { courseId: 'c1' };
void result;

// A server of the consumer's own: step names in `run` are checked against `steps`.
export const reportJob = defineJob({
  kind: 'report',
  input: z.object({ topic: z.string() }),
  steps: ['outline', 'write'],
  async run({ topic }, { tracker }) {
    await tracker.startStep('outline');
    // @ts-expect-error a misspelt step name
    await tracker.startStep('outlien');
    return { pages: topic.length };
  },
});
const reportResult: ResultOf<typeof reportJob> = { pages: 3 };
void reportResult;

export const handler = toNodeHandler(
  createJobServer({
    store: new MemoryJobStore(),
    jobs: [reportJob],
    authenticate: () => 'user-1',
  }),
);
