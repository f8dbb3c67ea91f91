// The jobstream server the route file mounts. Created once per process.
import { createJobServer, type JobServer } from '@jobstream/server';
import { userFromRequest } from './auth';
import { courseJob } from './course-job';
import { getStores } from './stores';

const holder = globalThis as typeof globalThis & { __courseJobServer?: Promise<JobServer> };

export function getJobServer(): Promise<JobServer> {
  holder.__courseJobServer ??= (async () => {
    const { jobs } = await getStores();
    return createJobServer({
      store: jobs,
      jobs: [courseJob],
      basePath: '/api/generation',
      authenticate: userFromRequest,
      // Model calls cost money: a cap on the jobs one user can run at once.
      maxActiveJobsPerOwner: Number(process.env.MAX_ACTIVE_JOBS ?? 5),
    });
  })();
  return holder.__courseJobServer;
}
