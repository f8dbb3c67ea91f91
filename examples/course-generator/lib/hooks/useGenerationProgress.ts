'use client';

// The seed app's hook, kept under its name and path so its code keeps working unchanged:
// `onComplete(courseId)` gets the course id (a string), `onError(error)` a message that
// prints as itself in `alert(\`Generation failed: ${error}\`)`. New code can call
// `useJobProgress` from @jobstream/react directly (typed result, the whole job).
import { type UseJobProgressResult, useJobProgress } from '@jobstream/react';
import type { CourseJob } from '@/lib/course-job';

export interface UseGenerationProgressOptions {
  jobId: string | null;
  onComplete?: (courseId: string) => void;
  onError?: (error: string) => void;
}

export function useGenerationProgress({
  jobId,
  onComplete,
  onError,
}: UseGenerationProgressOptions): UseJobProgressResult<CourseJob> {
  return useJobProgress<CourseJob>({
    jobId,
    baseUrl: '/api/generation',
    onComplete: (result) => onComplete?.(result.courseId),
    onError: (error) => onError?.(error.message),
  });
}
