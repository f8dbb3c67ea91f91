// The demo job: what the course app's generator does, with the model calls replaced by
// sleeps. Each "unit of work" takes DEMO_STEP_MS (default 300 ms).
import { defineJob } from '@jobstream/server';
import { z } from 'zod';

const TOPICS = ['Cardiology', 'Pharmacology', 'Neurology', 'Immunology', 'Ethics'];

/** Waits `ms`, or rejects at once when `signal` aborts (a cancel). */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
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

/** @param {number} stepMs how long one unit of simulated work takes */
export function createCourseJob(stepMs = 300) {
  return defineJob({
    kind: 'course',
    input: z.object({ examId: z.string().min(1).max(200) }),
    steps: [
      { name: 'fetch_questions', label: 'Reading the exam questions' },
      { name: 'analyze_topics', label: 'Finding the topics' },
      { name: 'generate_outline', label: 'Planning the course' },
      { name: 'generate_lessons', label: 'Writing the lessons', weight: 5 },
      { name: 'save_course', label: 'Saving the course' },
    ],
    estimatedDuration: stepMs * (8 + TOPICS.length * 4),

    async run({ examId }, { tracker, signal, isStepCompleted }) {
      // A resumed job skips the steps an earlier run finished.
      const simpleStep = async (name, units) => {
        if (isStepCompleted(name)) return;
        await tracker.startStep(name);
        for (let unit = 1; unit <= units; unit++) {
          await sleep(stepMs, signal);
          tracker.progress((unit / units) * 100);
        }
        await tracker.completeStep();
      };

      await simpleStep('fetch_questions', 2);
      await simpleStep('analyze_topics', 2);
      await simpleStep('generate_outline', 2);

      if (!isStepCompleted('generate_lessons')) {
        await tracker.startStep('generate_lessons');
        for (const [i, topic] of TOPICS.entries()) {
          await tracker.startTopic(topic, { index: i + 1, count: TOPICS.length });
          for (let part = 1; part <= 4; part++) {
            await sleep(stepMs, signal);
            tracker.topicProgress(part * 25);
            tracker.progress(((i + part / 4) / TOPICS.length) * 100, `Writing ${topic}`);
          }
          await tracker.completeTopic({ lessonsGenerated: 3 });
        }
        await tracker.completeStep();
      }

      await simpleStep('save_course', 2);
      return { courseId: `course-${examId}-${Date.now().toString(36)}` };
    },
  });
}
