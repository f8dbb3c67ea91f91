export { JobServerConfigError } from './config-error.js';
export type { CorsOptions } from './cors.js';
export {
  type AnyJobDefinition,
  type DefineJobOptions,
  defineJob,
  type InputOf,
  type JobContext,
  type JobDefinition,
  type ResultOf,
  type StepInput,
  type StepOf,
} from './define-job.js';
export {
  createJobServer,
  type DispatchContext,
  type DispatchedJob,
  type Handler,
  type JobServer,
  type JobServerOptions,
  toNextHandlers,
} from './job-server.js';
export { type RunJobOptions, runJob, TIME_LIMIT } from './run-job.js';
export { type SeedJobAliases, withSeedAliases } from './seed-aliases.js';
export {
  DEFAULT_SIGNATURE_TOLERANCE_MS,
  SIGNATURE_HEADER,
  signBody,
  TIMESTAMP_HEADER,
  verifyBody,
} from './signature.js';
export {
  DEFAULT_HEARTBEAT_MS,
  encodeEvent,
  encodeFrame,
  eventJson,
  SSE_HEADERS,
  type SseFrame,
} from './sse-encoder.js';
export type { StandardSchemaV1 } from './standard-schema.js';
