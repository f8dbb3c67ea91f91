export { type FollowJobOptions, followJob } from './follow-job.js';
export * from './lite.js';
export { MemoryJobStore, type MemoryJobStoreOptions } from './memory-store.js';
export { ProgressTracker, type ProgressTrackerOptions } from './progress-tracker.js';
export { RecentJobs } from './recent-jobs.js';
export {
  eventDataSchemas,
  eventDraftSchema,
  jobErrorSchema,
  jobEventSchema,
  jobSchema,
  jobStatusSchema,
  newJobSchema,
  parseEventDraft,
  parseJob,
  parseJobEvent,
  parseNewJob,
  stepDefinitionSchema,
} from './schemas.js';
export {
  type FailStaleJobsOptions,
  type FailStaleJobsResult,
  failStaleJob,
  failStaleJobs,
  isJobStale,
  NEVER_STARTED,
  type StaleJobRules,
  WORKER_LOST,
} from './stale-jobs.js';
export type {
  CommitRequest,
  DeleteJobsFilter,
  EventListener,
  JobStore,
  ListJobsFilter,
  ListJobsPage,
  ReadEventsOptions,
} from './store.js';
export {
  checkReadOptions,
  decodeCursor,
  encodeCursor,
  pageSize,
  prepareCommit,
  prepareCreate,
  statusFilter,
  toDate,
} from './store-helpers.js';
