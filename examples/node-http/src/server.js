// pnpm start  (PORT, DEMO_STEP_MS, MAX_ACTIVE_JOBS, JOBSTREAM_SECRET from the environment)
import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const { server } = createApp({
  stepMs: Number(process.env.DEMO_STEP_MS ?? 300),
  maxActiveJobs: Number(process.env.MAX_ACTIVE_JOBS ?? 100),
});
server.listen(port, () => {
  console.log(`jobstream demo on http://localhost:${port}`);
});
