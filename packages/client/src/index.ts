export { backoffDelay, type RetryOptions, retryAfterMs } from './backoff.js';
export {
  httpError,
  isJobClientError,
  isRetryableStatus,
  JobClientError,
  type JobClientErrorKind,
  type JobClientErrorOptions,
} from './errors.js';
export {
  createJobClient,
  type JobClient,
  type JobClientOptions,
  type ListJobsQuery,
  type StartedJob,
} from './job-client.js';
export type {
  AnyJobDefinition,
  InputOf,
  JobEventOf,
  JobOf,
  ResultOf,
  StepOf,
} from './job-types.js';
export {
  type ConnectionState,
  type HeadersOption,
  type SubscribeOptions,
  type Subscription,
  subscribeToJob,
} from './subscribe.js';
export { type JobWatcher, type JobWatchSnapshot, watchJob } from './watch-job.js';
