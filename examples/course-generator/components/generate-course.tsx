'use client';

import { createJobClient } from '@jobstream/client';
import { JobClientProvider } from '@jobstream/react';
import { useMemo, useState } from 'react';
import { GenerationProgressModal } from '@/components/GenerationProgressModal';
import type { CourseJob } from '@/lib/course-job';

export interface ActiveJob {
  id: string;
  status: string;
  createdAt: string;
}

/**
 * The seed's study-page flow: Generate Course → the progress modal → the course.
 * Closing the modal keeps the job running; its row stays here to reopen it, and a reload
 * reopens the newest running one where it is.
 */
export function GenerateCourse({
  examId,
  examTitle,
  activeJobs,
}: {
  examId: string;
  examTitle: string;
  activeJobs: ActiveJob[];
}) {
  const client = useMemo(() => createJobClient<CourseJob>({ baseUrl: '/api/generation' }), []);
  const [jobs, setJobs] = useState<ActiveJob[]>(activeJobs);
  const [openJobId, setOpenJobId] = useState<string | null>(activeJobs[0]?.id ?? null);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const handleGenerateCourse = async () => {
    setStarting(true);
    setError(null);
    try {
      const { jobId } = await client.start({ examId });
      setJobs((current) => [
        { id: jobId, status: 'pending', createdAt: new Date().toISOString() },
        ...current,
      ]);
      setOpenJobId(jobId); // opens the progress modal
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : 'Failed to start course generation');
    } finally {
      setStarting(false);
    }
  };

  return (
    <JobClientProvider client={client}>
      <section className="card">
        <div className="row">
          <button
            className="button"
            type="button"
            onClick={handleGenerateCourse}
            disabled={starting}
          >
            {starting ? 'Starting…' : 'Generate Course'}
          </button>
          <span className="muted">
            Builds an outline and lessons for every topic of {examTitle}.
          </span>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {jobs.length > 0 && (
          <>
            <h2 className="jobs-title">Generations in progress</h2>
            <ul className="jobs">
              {jobs.map((job, i) => (
                <li key={job.id}>
                  <span>
                    Started {new Date(job.createdAt).toLocaleTimeString()}{' '}
                    <span className="muted">({job.id.slice(0, 8)})</span>
                  </span>
                  <button
                    className="button secondary"
                    type="button"
                    onClick={() => setOpenJobId(job.id)}
                    aria-label={`Show progress of generation ${i + 1}`}
                  >
                    Show progress
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </section>

      {/* The seed's modal, by its name: @jobstream/react's JobProgressModal inside. */}
      {openJobId && (
        <GenerationProgressModal
          jobId={openJobId}
          examId={examId}
          onClose={() => setOpenJobId(null)}
        />
      )}
    </JobClientProvider>
  );
}
