import type Anthropic from '@anthropic-ai/sdk';

/**
 * What one Claude call cost and how it ended, in a JSON-friendly shape for a step's
 * `meta` (`completeStep({ meta: { usage } })`).
 */
export interface ModelUsage {
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** Input tokens written to the prompt cache (0 when caching was not used). */
  cacheCreationInputTokens: number;
  /** Input tokens read from the prompt cache. */
  cacheReadInputTokens: number;
  /** Why the model stopped: `end_turn`, `max_tokens`, `tool_use`… */
  stopReason: string | null;
  /** Requests made, overload retries included (a retried call may bill partial output). */
  attempts: number;
}

/** Reads the usage of a finished message. */
export function usageOf(message: Anthropic.Message, attempts = 1): ModelUsage {
  const usage = message.usage;
  return {
    model: message.model,
    inputTokens: usage?.input_tokens ?? 0,
    outputTokens: usage?.output_tokens ?? 0,
    cacheCreationInputTokens: usage?.cache_creation_input_tokens ?? 0,
    cacheReadInputTokens: usage?.cache_read_input_tokens ?? 0,
    stopReason: message.stop_reason ?? null,
    attempts,
  };
}

/**
 * Sums the usage of several calls made in one step (tokens and attempts add up; the
 * model and stop reason are the last call's).
 *
 * @example
 * let usage: ModelUsage | undefined;
 * for (const topic of topics) {
 *   const result = await streamMessage(tracker, { client, params: paramsFor(topic) });
 *   usage = addUsage(usage, result.usage);
 * }
 * await tracker.completeStep({ meta: { usage } });
 */
export function addUsage(total: ModelUsage | undefined, next: ModelUsage): ModelUsage {
  if (!total) return { ...next };
  return {
    model: next.model,
    inputTokens: total.inputTokens + next.inputTokens,
    outputTokens: total.outputTokens + next.outputTokens,
    cacheCreationInputTokens: total.cacheCreationInputTokens + next.cacheCreationInputTokens,
    cacheReadInputTokens: total.cacheReadInputTokens + next.cacheReadInputTokens,
    stopReason: next.stopReason,
    attempts: total.attempts + next.attempts,
  };
}
