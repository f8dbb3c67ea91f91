import type Anthropic from '@anthropic-ai/sdk';
import { type AnthropicJobError, toAnthropicJobError } from './anthropic-errors.js';
import { type ModelUsage, usageOf } from './model-usage.js';
import {
  backoffDelay,
  isRetryable,
  type RetryOptions,
  resolveRetry,
  sleep,
} from './retry-policy.js';
import { TokenProgress } from './token-progress.js';

/** The Anthropic client, or anything with the same `messages.stream`. */
export interface AnthropicClientLike {
  messages: Pick<Anthropic['messages'], 'stream'>;
}

/**
 * The part of `ProgressTracker` this helper uses (any `ProgressTracker` fits). Its step
 * must be running: progress lands on the running step.
 */
export interface StepTracker {
  /** Aborts when the job is cancelled from anywhere. */
  readonly signal: AbortSignal;
  progress(stepProgress: number, message?: string): void;
  completeStep(options: { message?: string; meta?: Record<string, unknown> }): Promise<unknown>;
  /** Read to start from the running step's current progress rather than below it. */
  readonly job?: { readonly steps: readonly { status: string; progress: number }[] } | null;
}

/** What `message` receives to word a progress update. */
export interface MessageProgress {
  /** Output tokens received so far (estimated from characters until the API reports them). */
  outputTokens: number;
  expectedOutputTokens: number;
  /** The step progress about to be reported, 0–100. */
  stepProgress: number;
  /** 1 for the first request, 2 after one retry… */
  attempt: number;
}

type RequestOptions = NonNullable<Parameters<Anthropic['messages']['stream']>[1]>;

export interface StreamMessageOptions {
  /** An `Anthropic` client (`new Anthropic()`). */
  client: AnthropicClientLike;
  /** The Messages request, as for `client.messages.stream()` (`stream` is set for you). */
  params: Anthropic.MessageStreamParams;
  /**
   * Output tokens this call is expected to write: the step is `received / expected`
   * done. A good guess makes the bar move evenly; a low one parks it at 99 until the
   * message ends. @default params.max_tokens
   */
  expectedOutputTokens?: number;
  /**
   * The progress message, fixed or worded from the counts.
   * @example message: ({ outputTokens }) => `Writing lessons (${outputTokens} tokens)`
   */
  message?: string | ((progress: MessageProgress) => string | undefined);
  /** Aborts the call too (a timeout, a user leaving); combined with the tracker's signal. */
  signal?: AbortSignal;
  /**
   * Where in the step this call's progress runs, for steps that make several calls:
   * the third of four topics is `[50, 75]`. The end is reached only when the message ends;
   * before that progress stays below 99% of the span. @default [0, 100]
   */
  span?: readonly [from: number, to: number];
  /** Backoff for overloaded and transient failures. @default { maxRetries: 3, baseDelayMs: 1000, maxDelayMs: 30000 } */
  retry?: RetryOptions;
  /**
   * Completes the running step when the message ends, with `meta: { usage }`. Leave it
   * off when the step goes on after the call (parsing, saving) and complete the step
   * yourself with `meta: { usage: result.usage }`. @default false
   */
  completeStep?: boolean | { message?: string };
  /** Called with each piece of text as it arrives; `text` is the attempt's text so far (a retry starts again from ''). */
  onText?: (delta: string, text: string) => void;
  /** Characters counted as one token until the API reports the count. @default 4 */
  charsPerToken?: number;
  /** Passed to the SDK (headers, timeout…); `signal` and `maxRetries` are this helper's. */
  requestOptions?: Omit<RequestOptions, 'signal' | 'maxRetries'>;
}

export interface StreamMessageResult {
  /** The final message, as `stream.finalMessage()` returns it. */
  message: Anthropic.Message;
  /** Its text blocks, joined. */
  text: string;
  /** Tokens, model and stop reason, ready for a step's `meta`. */
  usage: ModelUsage;
}

/**
 * Streams one Claude Messages call as the progress of the running step.
 *
 * - Progress is output tokens received against `expectedOutputTokens`, reported through
 *   `tracker.progress()` (coalesced by the tracker): it never goes back and stays below
 *   99 (of the `span`) until `message_stop`, then reaches 100.
 * - The tracker's `signal` (and `options.signal`) goes to the SDK, so a cancel from any
 *   request or process aborts the HTTP request at once; the call then rejects with the
 *   signal's reason (core's `job_cancelled` `JobstreamError` for a cancelled job) and
 *   reports nothing more.
 * - Overloaded (529), 5xx and connection failures are retried with exponential backoff;
 *   everything else rejects with an `AnthropicJobError` whose `code` the failed job keeps
 *   (`anthropic_auth`, `anthropic_rate_limited` with `retryAfterSeconds`,
 *   `anthropic_overloaded`, `anthropic_stream_error`…).
 * - Usage is returned; with `completeStep: true` it is also recorded on the step as
 *   `meta.usage`.
 *
 * @example
 * await tracker.startStep('generate_outline');
 * const { text, usage } = await streamMessage(tracker, {
 *   client: new Anthropic(),
 *   params: { model: 'claude-sonnet-4-5', max_tokens: 4000, messages: [{ role: 'user', content: prompt }] },
 *   expectedOutputTokens: 2500,
 *   message: ({ outputTokens }) => `Writing the outline (${outputTokens} tokens)`,
 * });
 * const outline = parseOutline(text);
 * await tracker.completeStep({ meta: { usage } });
 */
export async function streamMessage(
  tracker: StepTracker,
  options: StreamMessageOptions,
): Promise<StreamMessageResult> {
  const { client, params } = options;
  const retry = resolveRetry(options.retry);
  const progress = new TokenProgress({
    expectedTokens: options.expectedOutputTokens ?? params.max_tokens,
    ...(options.span ? { span: options.span } : {}),
    ...(options.charsPerToken !== undefined ? { charsPerToken: options.charsPerToken } : {}),
    floor: runningStepProgress(tracker),
  });
  const jobSignal = tracker.signal;
  const signal = options.signal ? AbortSignal.any([jobSignal, options.signal]) : jobSignal;
  const cancelled = () => (jobSignal.aborted ? jobSignal.reason : signal.reason);

  let message: Anthropic.Message | undefined;
  let attempt = 1;
  for (; ; attempt++) {
    if (signal.aborted) throw cancelled();
    let failure: AnthropicJobError;
    const state = { started: false };
    try {
      message = await streamOnce(client, params, options, signal, progress, state, (value) => {
        tracker.progress(value, wordProgress(options.message, progress, value, attempt));
      });
      break;
    } catch (error) {
      if (signal.aborted) throw cancelled();
      // A throw from the caller's own callbacks (or the tracker) is theirs, not the API's.
      if (error instanceof CallerError) throw error.cause;
      failure = toAnthropicJobError(error, {
        streamStarted: state.started,
        attempts: attempt,
      });
    }
    if (!isRetryable(failure) || attempt > retry.maxRetries) throw failure;
    await sleep(backoffDelay(attempt, retry, failure.retryAfterSeconds), signal).catch(() => {
      throw cancelled();
    });
    progress.restart();
  }
  if (signal.aborted) throw cancelled();
  const usage = usageOf(message, attempt);
  const end = progress.next(true);
  if (end !== null) tracker.progress(end, wordProgress(options.message, progress, end, attempt));
  if (options.completeStep) {
    const stepMessage =
      typeof options.completeStep === 'object' ? options.completeStep.message : undefined;
    await tracker.completeStep({
      ...(stepMessage !== undefined ? { message: stepMessage } : {}),
      meta: { usage },
    });
  }
  return { message, text: textOf(message), usage };
}

/** Carries a throw from `onText`, `message` or `tracker.progress` past the API mapping. */
class CallerError extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super('caller error');
    this.cause = cause;
  }
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    throw new CallerError(error);
  }
}

async function streamOnce(
  client: AnthropicClientLike,
  params: Anthropic.MessageStreamParams,
  options: StreamMessageOptions,
  signal: AbortSignal,
  progress: TokenProgress,
  /** `started` turns true with the first event: a later failure is a broken stream. */
  state: { started: boolean },
  report: (stepProgress: number) => void,
): Promise<Anthropic.Message> {
  // Retries are ours: the SDK's would hide a 529 behind its own schedule and a 429
  // behind a wait the job cannot show.
  const stream = client.messages.stream(params, {
    ...options.requestOptions,
    signal,
    maxRetries: 0,
  });
  // The event iterator can miss an error that arrives in the same chunk as earlier
  // events; a listener cannot.
  let streamError: unknown = null;
  stream.on('error', (error) => {
    streamError ??= error;
  });
  let stopped = false;
  let text = '';
  // Wait on the next event or the abort, whichever comes first: a fetch whose body
  // ignores the abort (some runtimes, mocks) must not keep the job waiting.
  const iterator = stream[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) break;
      const event = next.value;
      state.started = true;
      switch (event.type) {
        case 'message_start':
          progress.reportTokens(event.message.usage?.output_tokens ?? 0);
          break;
        case 'content_block_delta': {
          const delta = event.delta;
          if (delta.type === 'text_delta') {
            progress.addText(delta.text);
            text += delta.text;
            if (options.onText) guard(() => options.onText?.(delta.text, text));
          } else if (delta.type === 'thinking_delta') {
            progress.addText(delta.thinking);
          } else if (delta.type === 'input_json_delta') {
            progress.addText(delta.partial_json);
          }
          break;
        }
        case 'message_delta':
          progress.reportTokens(event.usage?.output_tokens ?? 0);
          break;
        case 'message_stop':
          stopped = true;
          break;
      }
      if (signal.aborted) break;
      const value = progress.next();
      if (value !== null) guard(() => report(value));
    }
  } catch (error) {
    if (signal.aborted || error instanceof CallerError) stream.abort();
    if (signal.aborted) throw signal.reason;
    if (error instanceof CallerError) throw error;
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) {
    stream.abort();
    throw signal.reason;
  }
  if (streamError !== null) throw streamError;
  if (!stopped) {
    state.started = true;
    throw new Error('the response ended without message_stop');
  }
  return stream.finalMessage();
}

function runningStepProgress(tracker: StepTracker): number {
  const running = tracker.job?.steps.find((step) => step.status === 'running');
  return running?.progress ?? 0;
}

function wordProgress(
  message: StreamMessageOptions['message'],
  progress: TokenProgress,
  stepProgress: number,
  attempt: number,
): string | undefined {
  if (typeof message !== 'function') return message;
  return message({
    outputTokens: progress.tokens,
    expectedOutputTokens: progress.expectedTokens,
    stepProgress,
    attempt,
  });
}

function textOf(message: Anthropic.Message): string {
  let text = '';
  for (const block of message.content) {
    if (block.type === 'text') text += block.text;
  }
  return text;
}
