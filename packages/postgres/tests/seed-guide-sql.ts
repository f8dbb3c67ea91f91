/**
 * Every SQL block of the seed app's quick-start guide (GENERATION_QUICK_START.md, "Debugging"
 * and "Monitoring"), copied verbatim; the only change is the table name
 * (course_generation_jobs -> jobstream_jobs), made by `adapt`. seed-guide-queries.test.ts
 * runs them on jobs in all five states; schema.test.ts checks their columns against getJob.
 */
export const GUIDE = {
  checkJob: `SELECT * FROM course_generation_jobs
WHERE id = 'job-uuid'
ORDER BY created_at DESC;`,
  average: `SELECT AVG(EXTRACT(EPOCH FROM (completed_at - started_at))) as avg_seconds
FROM course_generation_jobs
WHERE status = 'completed'
  AND completed_at > NOW() - INTERVAL '7 days';`,
  failures: `SELECT current_step, COUNT(*) as failures
FROM course_generation_jobs
WHERE status = 'failed'
  AND created_at > NOW() - INTERVAL '7 days'
GROUP BY current_step
ORDER BY failures DESC;`,
  recent: `SELECT id, status, current_step, created_at, completed_at
FROM course_generation_jobs
ORDER BY created_at DESC
LIMIT 20;`,
};

/** The guide's SQL on our table: the only change made to it. */
export const adapt = (sql: string) => sql.replaceAll('course_generation_jobs', 'jobstream_jobs');
