import { SignIn } from '@/components/sign-in';
import { EXAMS } from '@/lib/exams';
import { currentUser } from '@/lib/session';
import { storeKind } from '@/lib/stores';

export const dynamic = 'force-dynamic';

export default async function Home() {
  const user = await currentUser();
  return (
    <>
      <h1>Your exams</h1>
      <p className="muted">
        Pick an exam and generate a whole course for it. Generation takes a while: close the
        progress window, reload, or lose your connection, and the job keeps going.
      </p>
      <p className="row">
        <span className="pill">store: {storeKind()}</span>
        <span className="pill">
          {process.env.ANTHROPIC_API_KEY ? 'generator: Claude' : 'generator: demo (no API key)'}
        </span>
        {user && <span className="pill">signed in as {user}</span>}
      </p>
      {!user ? (
        <SignIn />
      ) : (
        <div className="grid">
          {EXAMS.map((exam) => (
            <article key={exam.id} className="card">
              <h2>{exam.title}</h2>
              <p className="muted">{exam.description}</p>
              <p>
                {exam.topics.length} topics · {exam.questionCount} questions
              </p>
              <a className="button" href={`/study/${exam.id}`}>
                Study
              </a>
            </article>
          ))}
        </div>
      )}
    </>
  );
}
