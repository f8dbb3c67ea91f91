export {
  type AnthropicErrorCode,
  AnthropicJobError,
  type AnthropicJobErrorDetails,
  isAnthropicJobError,
  retryAfterSeconds,
  toAnthropicJobError,
} from './anthropic-errors.js';
export { addUsage, type ModelUsage, usageOf } from './model-usage.js';
export type { RetryOptions } from './retry-policy.js';
export {
  type AnthropicClientLike,
  type MessageProgress,
  type StepTracker,
  type StreamMessageOptions,
  type StreamMessageResult,
  streamMessage,
} from './stream-message.js';
export { TokenProgress, type TokenProgressOptions } from './token-progress.js';
