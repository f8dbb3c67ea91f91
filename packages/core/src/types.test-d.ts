import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type { EventDataMap, JobEvent } from './events.js';
import type { Job } from './job.js';
import type { jobEventSchema, jobSchema } from './schemas.js';

describe('types', () => {
  it('every event the zod schema accepts is a JobEvent', () => {
    expectTypeOf<z.infer<typeof jobEventSchema>>().toExtend<JobEvent>();
  });

  it('a stored job parsed by jobSchema is a Job', () => {
    expectTypeOf<z.infer<typeof jobSchema>>().toExtend<Job>();
  });

  it('type narrows the payload', () => {
    const event = {} as JobEvent<{ examId: string }, { courseId: string }, 'a' | 'b'>;
    if (event.type === 'job_completed')
      expectTypeOf(event.data.result).toEqualTypeOf<{ courseId: string }>();
    if (event.type === 'step_started') expectTypeOf(event.data.step).toEqualTypeOf<'a' | 'b'>();
    if (event.type === 'job_created')
      expectTypeOf(event.data.input).toEqualTypeOf<{ examId: string }>();
    expectTypeOf<EventDataMap['topic_completed']['lessonsGenerated']>().toBeUnknown();
  });

  it('job generics flow to result and step names', () => {
    type CourseJob = Job<{ examId: string }, { courseId: string }, 'fetch' | 'save'>;
    expectTypeOf<CourseJob['result']>().toEqualTypeOf<{ courseId: string } | null>();
    expectTypeOf<CourseJob['currentStep']>().toEqualTypeOf<'fetch' | 'save' | null>();
  });
});
