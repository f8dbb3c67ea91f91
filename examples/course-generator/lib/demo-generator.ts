// The demo generator: a believable course without a model, written at a believable pace,
// so the app runs anywhere. Every page says when a course came from it.

import type { CourseModule, Lesson } from './course';
import type { Exam } from './exams';

const ANGLES = [
  ['Foundations of', 'the vocabulary and core mechanisms every question builds on'],
  ['High-yield patterns in', 'the scenarios examiners return to year after year'],
  ['Common traps in', 'distractors that look right and why they are wrong'],
  ['Putting it together:', 'mixed practice that links this topic to the rest of the exam'],
] as const;

export function outlineFor(exam: Exam): string[] {
  return exam.topics.map((topic, i) => `Module ${i + 1}: ${topic}`);
}

export function lessonsFor(exam: Exam, topic: string, count = 3): Lesson[] {
  return ANGLES.slice(0, count).map(([prefix, focus], i) => ({
    title: `${prefix} ${topic}`,
    summary: `${topic} for ${exam.title}: ${focus}. Work through it with ${
      2 + ((topic.length + i) % 4)
    } practice questions at the end.`,
    keyPoints: [
      `Define the key terms of ${topic.toLowerCase()} in your own words`,
      `Recognise the ${i === 2 ? 'wrong answers' : 'classic presentation'} quickly`,
      `Link ${topic.toLowerCase()} to ${exam.topics[(exam.topics.indexOf(topic) + 1) % exam.topics.length]}`,
    ],
  }));
}

export function moduleFor(exam: Exam, topic: string): CourseModule {
  return { topic, lessons: lessonsFor(exam, topic) };
}
