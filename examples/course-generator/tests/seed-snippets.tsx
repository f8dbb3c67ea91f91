// The seed guide's "Using the Hook" and "Using the Modal" snippets, verbatim but for the
// declarations marked "context" that the guide leaves to the surrounding app. The
// example's typecheck (`tsc`, which includes this file) proves they compile against the
// hook and modal of this app; the browser tests run the same modal.
// biome-ignore-all format: the guide's layout, kept as written
// biome-ignore-all lint/a11y/useButtonType: the guide's buttons, kept as written
import { useState } from 'react';
import { GenerationProgressModal } from '@/components/GenerationProgressModal';
import { useGenerationProgress } from '@/lib/hooks/useGenerationProgress';

// context: what the guide's snippets take from their page
declare const router: { push(url: string): void };
declare const examId: string;

export function MyHookComponent({ jobId }: { jobId: string }) {
  const { progress, cancelJob } = useGenerationProgress({
    jobId,
    onComplete: (courseId) => {
      router.push(`/study/${examId}?courseId=${courseId}`);
    },
    onError: (error) => {
      alert(`Generation failed: ${error}`);
    },
  });

  return (
    <div>
      <p>Status: {progress.status}</p>
      <p>Progress: {progress.progress}%</p>
      <p>Message: {progress.message}</p>
      <button onClick={() => cancelJob()}>Cancel</button>
    </div>
  );
}

export function MyModalComponent() {
  const [jobId, setJobId] = useState<string | null>(null);

  const startGeneration = async () => {
    const response = await fetch('/api/generation/start', {
      method: 'POST',
      body: JSON.stringify({ examId }),
    });
    const data = await response.json();
    setJobId(data.jobId); // Opens modal
  };

  return (
    <>
      <button onClick={startGeneration}>Generate</button>

      {jobId && (
        <GenerationProgressModal
          jobId={jobId}
          examId={examId}
          onClose={() => setJobId(null)}
        />
      )}
    </>
  );
}

// What the guide relies on without saying: `courseId` and `error` are strings, so the
// template literals above print the id and the message, not "[object Object]".
type HookOptions = Parameters<typeof useGenerationProgress>[0];
type IsString<T> = [T] extends [string] ? true : false;
export const courseIdIsString: IsString<
  Parameters<NonNullable<HookOptions['onComplete']>>[0]
> = true;
export const errorIsString: IsString<Parameters<NonNullable<HookOptions['onError']>>[0]> = true;
