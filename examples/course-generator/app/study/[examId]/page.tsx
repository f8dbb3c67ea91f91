import { notFound } from 'next/navigation';
import { type ActiveJob, GenerateCourse } from '@/components/generate-course';
import { SignIn } from '@/components/sign-in';
import { findExam } from '@/lib/exams';
import { currentUser } from '@/lib/session';
import { getStores } from '@/lib/stores';

export const dynamic = 'force-dynamic';

export default async function StudyPage({ params }: { params: Promise<{ examId: string }> }) {
  const { examId } = await params;
  const exam = findExam(examId);
  if (!exam) notFound();
  const user = await currentUser();
  if (!user) return <SignIn />;

  // The user's unfinished generations for this exam, newest first: a reload reopens them.
  const { jobs } = await getStores();
  const { jobs: active } = await jobs.listJobs({
    ownerId: user,
    status: ['pending', 'running'],
    kind: 'course',
    limit: 20,
  });
  const activeJobs: ActiveJob[] = active
    .filter((job) => (job.input as { examId?: string }).examId === exam.id)
    .map((job) => ({ id: job.id, status: job.status, createdAt: job.createdAt }));

  return (
    <>
      <p>
        <a href="/">← All exams</a>
      </p>
      <h1>{exam.title}</h1>
      <p className="muted">{exam.description}</p>
      <GenerateCourse examId={exam.id} examTitle={exam.title} activeJobs={activeJobs} />
      <h2>Topics</h2>
      <p>{exam.topics.join(' · ')}</p>
      <h2>Sample questions</h2>
      <ul>
        {exam.sampleQuestions.map((q) => (
          <li key={q}>{q}</li>
        ))}
      </ul>
    </>
  );
}
