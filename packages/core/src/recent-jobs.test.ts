import { describe, expect, it } from 'vitest';
import type { Job } from './job.js';
import { MemoryJobStore } from './memory-store.js';
import { RecentJobs } from './recent-jobs.js';

async function jobs(count: number): Promise<Job[]> {
  const store = new MemoryJobStore();
  const made: Job[] = [];
  for (let i = 0; i < count; i++) {
    made.push(
      (await store.createJob({ ownerId: 'u', kind: 'k', input: i, steps: [{ name: 'a' }] })).job,
    );
  }
  return made;
}

describe('RecentJobs', () => {
  it('answers a kept job only at the version asked for', async () => {
    const [job] = (await jobs(1)) as [Job];
    const recent = new RecentJobs();
    expect(recent.at(job.id, 1)).toBeNull();
    recent.remember(job);
    expect(recent.at(job.id, 1)).toBe(job);
    expect(recent.at(job.id, 2)).toBeNull(); // someone wrote since: read the store
    recent.forget(job.id);
    expect(recent.at(job.id, 1)).toBeNull();
  });

  it('lets the least recently remembered job go past its size, and keeps nothing at 0', async () => {
    const [a, b, c] = (await jobs(3)) as [Job, Job, Job];
    const recent = new RecentJobs(2);
    recent.remember(a);
    recent.remember(b);
    recent.remember(a); // a is the newest again
    recent.remember(c);
    expect([a, b, c].map((job) => recent.at(job.id, 1) !== null)).toEqual([true, false, true]);
    recent.clear();
    expect(recent.at(a.id, 1)).toBeNull();

    const none = new RecentJobs(0);
    none.remember(a);
    expect(none.at(a.id, 1)).toBeNull();
  });
});
