import { notFound } from 'next/navigation';
import { findExam } from '@/lib/exams';
import { currentUser } from '@/lib/session';
import { getStores } from '@/lib/stores';

export const dynamic = 'force-dynamic';

export default async function CoursePage({ params }: { params: Promise<{ courseId: string }> }) {
  const { courseId } = await params;
  const user = await currentUser();
  const course = await (await getStores()).courses.get(courseId);
  // Someone else's course answers like a missing one.
  if (!course || course.ownerId !== user) notFound();
  const exam = findExam(course.examId);
  return (
    <>
      <p>
        <a href={`/study/${course.examId}`}>← {exam?.title ?? 'Back'}</a>
      </p>
      <h1>{course.title}</h1>
      <p className="row">
        <span className="pill">{course.modules.length} modules</span>
        <span className="pill">
          {course.modules.reduce((n, m) => n + m.lessons.length, 0)} lessons
        </span>
        {course.generatedBy === 'demo' ? (
          <span className="notice">
            Written by the demo generator (no ANTHROPIC_API_KEY set), not by a model.
          </span>
        ) : (
          <span className="pill">written by Claude</span>
        )}
      </p>
      <h2>Outline</h2>
      <ol>
        {course.outline.map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ol>
      {course.modules.map((module) => (
        <section key={module.topic} className="card" style={{ marginTop: 16 }}>
          <h2>{module.topic}</h2>
          {module.lessons.map((lesson) => (
            <article key={lesson.title} className="lesson">
              <h3>{lesson.title}</h3>
              <p>{lesson.summary}</p>
              <ul>
                {lesson.keyPoints.map((point) => (
                  <li key={point}>{point}</li>
                ))}
              </ul>
            </article>
          ))}
        </section>
      ))}
    </>
  );
}
