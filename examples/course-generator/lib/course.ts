// What a generated course is, and where it is kept.

export interface Lesson {
  title: string;
  summary: string;
  keyPoints: string[];
}

export interface CourseModule {
  topic: string;
  lessons: Lesson[];
}

export interface Course {
  id: string;
  ownerId: string;
  examId: string;
  title: string;
  generatedBy: 'demo' | 'claude';
  createdAt: string;
  outline: string[];
  modules: CourseModule[];
}

/** Where courses live: memory by default, the same database as the jobs otherwise. */
export interface CourseStore {
  save(course: Course): Promise<void>;
  get(id: string): Promise<Course | null>;
}

export class MemoryCourseStore implements CourseStore {
  readonly #courses = new Map<string, Course>();
  async save(course: Course) {
    this.#courses.set(course.id, course);
  }
  async get(id: string) {
    return this.#courses.get(id) ?? null;
  }
}
