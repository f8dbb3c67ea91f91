// The course generation job: the seed app's five steps, one topic per exam topic.
// With ANTHROPIC_API_KEY set, Claude writes the outline and the lessons through
// @jobstream/anthropic (progress from streamed tokens, cancel aborts the request);
// without it, the demo generator writes them at a realistic pace.
import { defineJob, type JobContext } from '@jobstream/server';
import { z } from 'zod';
import type { Course, CourseModule } from './course';
import { lessonsFor, moduleFor, outlineFor } from './demo-generator';
import { type Exam, findExam } from './exams';
import { getStores } from './stores';

const STEPS = [
  { name: 'fetch_questions', label: 'Reading the exam questions' },
  { name: 'analyze_topics', label: 'Finding the topics' },
  { name: 'generate_outline', label: 'Planning the course', weight: 2 },
  { name: 'generate_lessons', label: 'Writing the lessons', weight: 6 },
  { name: 'save_course', label: 'Saving the course' },
] as const;
type Step = (typeof STEPS)[number]['name'];
type Ctx = JobContext<{ examId: string }, Step>;

/** One unit of simulated work in ms (DEMO_STEP_MS). ~15 s for a whole demo course. */
export function demoStepMs(): number {
  const value = Number(process.env.DEMO_STEP_MS ?? 450);
  return Number.isFinite(value) && value >= 0 ? value : 450;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Steps of simulated work with progress after each unit. */
async function work(ctx: Ctx, units: number, message: (unit: number) => string) {
  for (let unit = 1; unit <= units; unit++) {
    await sleep(demoStepMs(), ctx.signal);
    ctx.tracker.progress((unit / units) * 100, message(unit));
  }
}

async function claudeModule(ctx: Ctx, exam: Exam, topic: string): Promise<CourseModule> {
  const [{ default: Anthropic }, { streamMessage }] = await Promise.all([
    import('@anthropic-ai/sdk'),
    import('@jobstream/anthropic'),
  ]);
  const { text } = await streamMessage(ctx.tracker, {
    client: new Anthropic(),
    params: {
      model: process.env.ANTHROPIC_MODEL ?? 'claude-sonnet-4-6',
      max_tokens: 2000,
      messages: [
        {
          role: 'user',
          content: `Write 3 lessons on "${topic}" for students preparing for ${exam.title}. Answer with JSON only: [{"title": string, "summary": string, "keyPoints": string[]}].`,
        },
      ],
    },
    expectedOutputTokens: 900,
    message: ({ outputTokens }) => `Writing ${topic} (${outputTokens} tokens)`,
  });
  try {
    const lessons = JSON.parse(text.slice(text.indexOf('['), text.lastIndexOf(']') + 1));
    if (Array.isArray(lessons) && lessons.length) return { topic, lessons };
  } catch {
    // The model strayed from JSON: keep the course whole with the templated lessons.
  }
  return { topic, lessons: lessonsFor(exam, topic) };
}

export const courseJob = defineJob({
  kind: 'course',
  input: z.object({ examId: z.string().min(1).max(100) }),
  steps: STEPS,
  estimatedDuration: ({ examId }) => {
    const exam = findExam(examId);
    return exam && !process.env.ANTHROPIC_API_KEY
      ? demoStepMs() * (10 + exam.topics.length * 4)
      : undefined;
  },

  async run({ examId }, ctx) {
    const { tracker, ownerId, jobId } = ctx;
    const exam = findExam(examId);
    if (!exam)
      throw Object.assign(new Error(`There is no exam "${examId}".`), { code: 'unknown_exam' });
    const useClaude = Boolean(process.env.ANTHROPIC_API_KEY);

    await tracker.startStep('fetch_questions', `Reading ${exam.questionCount} questions`);
    await work(
      ctx,
      2,
      (u) => `Read ${Math.round((exam.questionCount * u) / 2)} of ${exam.questionCount} questions`,
    );
    await tracker.completeStep(`Read ${exam.questionCount} questions`);

    await tracker.startStep('analyze_topics');
    await work(ctx, 2, () => `Grouping questions into topics`);
    await tracker.completeStep(`Found ${exam.topics.length} topics`);

    await tracker.startStep('generate_outline');
    await work(ctx, useClaude ? 1 : 3, (u) => `Planning module ${u} of 3`);
    const outline = outlineFor(exam);
    await tracker.completeStep(`Planned ${outline.length} modules`);

    await tracker.startStep('generate_lessons');
    const modules: CourseModule[] = [];
    for (const [i, topic] of exam.topics.entries()) {
      await tracker.startTopic(topic, { index: i + 1, count: exam.topics.length });
      // A new topic's own message at once: the previous one ("… on Cardiology") under
      // "Topic 2 of 6: Pharmacology" would be wrong until the first lesson is written.
      tracker.progress((i / exam.topics.length) * 100, `Writing lessons on ${topic}`);
      let module: CourseModule;
      if (useClaude) {
        module = await claudeModule(ctx, exam, topic);
      } else {
        for (let part = 1; part <= 4; part++) {
          await sleep(demoStepMs(), ctx.signal);
          tracker.topicProgress(part * 25);
          tracker.progress(
            ((i + part / 4) / exam.topics.length) * 100,
            `Writing lesson ${Math.min(part, 3)} of 3 on ${topic}`,
          );
        }
        module = moduleFor(exam, topic);
      }
      modules.push(module);
      await tracker.completeTopic({ lessonsGenerated: module.lessons.length });
    }
    await tracker.completeStep(
      `Wrote ${modules.reduce((n, m) => n + m.lessons.length, 0)} lessons`,
    );

    await tracker.startStep('save_course');
    const course: Course = {
      id: `course-${jobId.slice(0, 8)}`,
      ownerId,
      examId,
      title: `${exam.title}: the complete course`,
      generatedBy: useClaude ? 'claude' : 'demo',
      createdAt: new Date().toISOString(),
      outline,
      modules,
    };
    await sleep(demoStepMs(), ctx.signal);
    await (await getStores()).courses.save(course);
    return { courseId: course.id };
  },
});

export type CourseJob = typeof courseJob;
