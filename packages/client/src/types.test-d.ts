import type { Job, JobEvent } from '@jobstream/core/lite';
import type {
  JobDefinition,
  InputOf as ServerInputOf,
  ResultOf as ServerResultOf,
  StepOf as ServerStepOf,
} from '@jobstream/server';
import { describe, expectTypeOf, test } from 'vitest';
import {
  type ConnectionState,
  createJobClient,
  type InputOf,
  type JobClient,
  type JobClientError,
  type JobOf,
  type JobWatcher,
  type ResultOf,
  type StepOf,
  type Subscription,
  subscribeToJob,
  watchJob,
} from './index.js';

type Steps = 'fetch_questions' | 'save_course';
// What `defineJob` returns; a type-only import, as an app would write it.
declare const courseJob: JobDefinition<{ examId: string }, { courseId: string }, Steps>;
type CourseJob = Job<{ examId: string }, { courseId: string }, Steps>;

describe('typing from a job definition', () => {
  const client = createJobClient<typeof courseJob>({ baseUrl: '/api/generation' });

  test('reads the same types as the server does, structurally', () => {
    expectTypeOf<InputOf<typeof courseJob>>().toEqualTypeOf<ServerInputOf<typeof courseJob>>();
    expectTypeOf<ResultOf<typeof courseJob>>().toEqualTypeOf<ServerResultOf<typeof courseJob>>();
    expectTypeOf<StepOf<typeof courseJob>>().toEqualTypeOf<ServerStepOf<typeof courseJob>>();
    expectTypeOf<JobOf<typeof courseJob>>().toEqualTypeOf<CourseJob>();
  });

  test('start takes the input type', () => {
    expectTypeOf(client.start).parameter(0).toEqualTypeOf<{ examId: string }>();
    void client.start({ examId: 'e1' });
    // @ts-expect-error: examId must be a string
    void client.start({ examId: 1 });
    // @ts-expect-error: examId is required
    void client.start({});
  });

  test('status, cancel and watch give a Job<Input, Result, Step>', () => {
    expectTypeOf(client.status).returns.resolves.toEqualTypeOf<{
      job: CourseJob;
      canResume: boolean;
    }>();
    expectTypeOf(client.cancel).returns.resolves.toEqualTypeOf<CourseJob>();
    const snapshot = client.watch('j1').getSnapshot();
    expectTypeOf(snapshot.job).toEqualTypeOf<CourseJob | null>();
    expectTypeOf(snapshot.job?.result).toEqualTypeOf<{ courseId: string } | null | undefined>();
    expectTypeOf(snapshot.job?.currentStep).toEqualTypeOf<Steps | null | undefined>();
    expectTypeOf(snapshot.connection).toEqualTypeOf<ConnectionState>();
    expectTypeOf(snapshot.error).toEqualTypeOf<JobClientError | null>();
  });

  test('subscribe gives typed events, narrowed by type', () => {
    client.subscribe('j1', {
      onEvent: (event) => {
        if (event.type === 'job_completed') {
          expectTypeOf(event.data.result).toEqualTypeOf<{ courseId: string }>();
        }
        if (event.type === 'step_progress') expectTypeOf(event.data.step).toEqualTypeOf<Steps>();
      },
    });
  });

  test('a typed client is still a JobClient (what the React bindings take)', () => {
    expectTypeOf(client).toExtend<JobClient>();
    expectTypeOf(watchJob<CourseJob>(client, 'j1')).toEqualTypeOf<JobWatcher<CourseJob>>();
  });
});

describe('untyped use', () => {
  test('defaults: any input, the plain Job', () => {
    const client = createJobClient({ baseUrl: '/api/generation' });
    expectTypeOf(client.start).parameter(0).toEqualTypeOf<unknown>();
    expectTypeOf(client.watch('j1').getSnapshot().job).toEqualTypeOf<Job | null>();
    expectTypeOf(watchJob(client, 'j1')).toEqualTypeOf<JobWatcher<Job>>();
  });

  test('subscribeToJob', () => {
    const sub = subscribeToJob('/api/generation/stream/j1', {
      onEvent: (event) => expectTypeOf(event).toEqualTypeOf<JobEvent>(),
      headers: async () => ({ authorization: 'Bearer t' }),
      retry: { initialDelayMs: 500 },
    });
    expectTypeOf(sub).toEqualTypeOf<Subscription>();
    expectTypeOf(sub.lastEventId).toEqualTypeOf<number>();
    // @ts-expect-error: read-only
    sub.lastEventId = 3;
  });

  test('errors carry kind, status, code and retryable', () => {
    expectTypeOf<JobClientError['kind']>().toEqualTypeOf<
      'http' | 'network' | 'parse' | 'validation' | 'aborted'
    >();
    expectTypeOf<JobClientError['status']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<JobClientError['retryable']>().toEqualTypeOf<boolean>();
  });
});
