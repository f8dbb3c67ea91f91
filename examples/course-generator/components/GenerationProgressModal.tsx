'use client';

// The seed app's modal, under its name and path: `<GenerationProgressModal jobId examId
// onClose />` shows the job and, when it completes, goes to the new course. It is
// @jobstream/react's JobProgressModal with the course app's title and redirect.
import { JobProgressModal } from '@jobstream/react';
import { useRouter } from 'next/navigation';
import type { CourseJob } from '@/lib/course-job';
import { findExam } from '@/lib/exams';

export interface GenerationProgressModalProps {
  jobId: string;
  examId: string;
  onClose: () => void;
  /** Instead of going to the course (the default). */
  onComplete?: (courseId: string) => void;
}

export function GenerationProgressModal({
  jobId,
  examId,
  onClose,
  onComplete,
}: GenerationProgressModalProps) {
  const router = useRouter();
  const exam = findExam(examId);
  return (
    <JobProgressModal<CourseJob>
      key={jobId}
      jobId={jobId}
      title={exam ? `Generating your ${exam.title} course` : 'Generating your course'}
      onClose={onClose}
      onComplete={({ courseId }) =>
        onComplete ? onComplete(courseId) : router.push(`/course/${courseId}`)
      }
    />
  );
}
