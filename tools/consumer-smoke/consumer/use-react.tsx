// The React README's modal and hook, typed by the job definition.
import { JobProgressModal, useJobProgress } from '@jobstream/react';
import type { courseJob } from './readme-course-job.js';

export function CoursePage({ jobId, go }: { jobId: string | null; go: (url: string) => void }) {
  const { progress, connection, cancelJob } = useJobProgress<typeof courseJob>({
    jobId,
    onComplete: (result) => go(`/course/${result.courseId}`),
  });
  // @ts-expect-error currentStep is one of the job's step names
  if (progress.currentStep === 'save') void cancelJob();
  return (
    <>
      <p>
        {progress.progress}% {connection}
      </p>
      {jobId && (
        <JobProgressModal<typeof courseJob>
          jobId={jobId}
          onClose={() => go('/')}
          onComplete={({ courseId }) => go(`/course/${courseId}`)}
        />
      )}
      {jobId && (
        <JobProgressModal<typeof courseJob>
          jobId={jobId}
          onClose={() => go('/')}
          // @ts-expect-error the result has courseId, not courseID
          onComplete={({ courseID }) => go(`/course/${courseID}`)}
        />
      )}
    </>
  );
}
