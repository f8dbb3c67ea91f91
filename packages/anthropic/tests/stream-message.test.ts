import Anthropic from '@anthropic-ai/sdk';
import { isJobstreamError, type JobEvent, MemoryJobStore, ProgressTracker } from '@jobstream/core';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AnthropicJobError,
  isAnthropicJobError,
  type StreamMessageOptions,
  streamMessage,
} from '../src/index.js';
import {
  API_URL,
  blockStop,
  errorEvent,
  errorResponse,
  frame,
  MESSAGES_URL,
  MODEL,
  messageDelta,
  messageFrames,
  messageStart,
  messageStop,
  sseResponse,
  textBlockStart,
  textDelta,
} from './messages-wire.js';

const server = setupServer();
let client: Anthropic;
beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' });
  // After listen(): the SDK keeps the global fetch it finds when constructed.
  client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: API_URL });
});
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const steps = [
  { name: 'outline', label: 'Writing the outline', weight: 1 },
  { name: 'lessons', label: 'Writing lessons', weight: 3 },
] as const;

let store: MemoryJobStore;
let trackers: ProgressTracker[];

beforeEach(() => {
  store = new MemoryJobStore();
  trackers = [];
});
afterEach(() => {
  for (const tracker of trackers) tracker.close();
});

/** A running job on step `outline`, as a job's `run` would have it. */
async function runningJob(): Promise<ProgressTracker> {
  const tracker = await ProgressTracker.create(store, {
    ownerId: 'user_1',
    kind: 'course',
    input: { examId: 'exam_1' },
    steps,
  });
  trackers.push(tracker);
  await tracker.start();
  await tracker.startStep('outline');
  return tracker;
}

async function events(jobId: string): Promise<JobEvent[]> {
  return store.readEvents(jobId, { after: 0, limit: 1000 });
}

function stepProgressOf(list: JobEvent[]): number[] {
  return list.flatMap((e) => (e.type === 'step_progress' ? [e.data.stepProgress] : []));
}

/** Text cut in `count` chunks of 40 characters (10 estimated tokens each). */
function chunks(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    `Lesson ${String(i).padStart(3, '0')}: `.padEnd(40, '.'),
  );
}

function params(maxTokens = 1000): StreamMessageOptions['params'] {
  return {
    model: MODEL,
    max_tokens: maxTokens,
    messages: [{ role: 'user', content: 'Write a course outline.' }],
  };
}

const fastRetry = { baseDelayMs: 1, maxDelayMs: 5 };

describe('streamMessage: progress and usage', () => {
  it('reports step progress that only goes forward, stays at most 99 until message_stop, then 100', async () => {
    const tracker = await runningJob();
    const text = chunks(60);
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, async ({ request }) => {
        requests++;
        const body = (await request.json()) as { stream?: boolean; max_tokens?: number };
        expect(body.stream).toBe(true);
        return sseResponse(messageFrames(text, { outputTokens: 600 }), { delayMs: 4 });
      }),
    );

    // 60 chunks ≈ 600 tokens against a budget of 400: the bar must park at 99, not pass it.
    const result = await streamMessage(tracker, {
      client,
      params: params(1000),
      expectedOutputTokens: 400,
      message: ({ outputTokens }) => `Writing the outline (${outputTokens} tokens)`,
    });

    expect(requests).toBe(1);
    expect(result.text).toBe(text.join(''));
    expect(result.usage).toMatchObject({ model: MODEL, inputTokens: 25, outputTokens: 600 });

    await tracker.flush();
    const list = await events(tracker.jobId);
    const values = stepProgressOf(list);
    expect(values.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1] ?? 0);
    expect(values.at(-1)).toBe(100);
    expect(values.slice(0, -1).every((v) => v <= 99)).toBe(true);
    expect(values).toContain(99);
    const overall = list.flatMap((e) => (e.type === 'step_progress' ? [e.data.progress] : []));
    for (let i = 1; i < overall.length; i++) {
      expect(overall[i]).toBeGreaterThanOrEqual(overall[i - 1] ?? 0);
    }
    // The outline is 1 of 4 weight units: a finished outline is 25% of the job, not more.
    expect(overall.at(-1)).toBe(25);
    const last = list.filter((e) => e.type === 'step_progress').at(-1);
    expect(last?.type === 'step_progress' && last.data.message).toBe(
      'Writing the outline (600 tokens)',
    );
  });

  it('defaults the budget to max_tokens and keeps within a span', async () => {
    const tracker = await runningJob();
    server.use(
      http.post(MESSAGES_URL, () =>
        sseResponse(messageFrames(chunks(20), { outputTokens: 200 }), { delayMs: 4 }),
      ),
    );

    await streamMessage(tracker, { client, params: params(800), span: [50, 75] });

    await tracker.flush();
    const values = stepProgressOf(await events(tracker.jobId));
    expect(values.length).toBeGreaterThanOrEqual(2);
    expect(values.every((v) => v >= 50 && v <= 75)).toBe(true);
    expect(values.at(-1)).toBe(75);
    // 200 of 800 tokens is a quarter of the span: 56.25, never near its end mid-stream.
    expect(values.slice(0, -1).every((v) => v <= 57)).toBe(true);
  });

  it('records usage with the step when asked to complete it', async () => {
    const tracker = await runningJob();
    server.use(
      http.post(MESSAGES_URL, () =>
        sseResponse(
          messageFrames(['Cardiology', ', Neurology'], { inputTokens: 31, outputTokens: 7 }),
        ),
      ),
    );

    const result = await streamMessage(tracker, {
      client,
      params: params(),
      completeStep: { message: 'Outline written' },
    });

    const usage = {
      model: MODEL,
      inputTokens: 31,
      outputTokens: 7,
      cacheCreationInputTokens: 0,
      cacheReadInputTokens: 0,
      stopReason: 'end_turn',
      attempts: 1,
    };
    expect(result.usage).toEqual(usage);
    expect(result.text).toBe('Cardiology, Neurology');
    const job = await store.getJob(tracker.jobId);
    expect(job?.steps[0]).toMatchObject({ status: 'completed', meta: { usage } });
    const completed = (await events(tracker.jobId)).find((e) => e.type === 'step_completed');
    expect(completed?.data).toMatchObject({
      step: 'outline',
      message: 'Outline written',
      meta: { usage },
    });
    // Progress reached 100 before the step completed.
    const list = await events(tracker.jobId);
    const completedAt = list.findIndex((e) => e.type === 'step_completed');
    expect(stepProgressOf(list.slice(0, completedAt)).at(-1)).toBe(100);
  });

  it('counts tool input as output, hands text to onText as it arrives, and returns the parsed message', async () => {
    const tracker = await runningJob();
    const json = JSON.stringify({ topics: ['Cardiology', 'Neurology', 'Nephrology', 'Oncology'] });
    server.use(
      http.post(MESSAGES_URL, () =>
        sseResponse(
          [
            messageStart(),
            textBlockStart(0),
            textDelta('Here is the outline. ', 0),
            blockStop(0),
            frame('content_block_start', {
              type: 'content_block_start',
              index: 1,
              content_block: { type: 'tool_use', id: 'toolu_1', name: 'save_outline', input: {} },
            }),
            ...[json.slice(0, 30), json.slice(30)].map((part) =>
              frame('content_block_delta', {
                type: 'content_block_delta',
                index: 1,
                delta: { type: 'input_json_delta', partial_json: part },
              }),
            ),
            blockStop(1),
            messageDelta(40, 'tool_use'),
            messageStop(),
          ],
          { delayMs: 60 },
        ),
      ),
    );
    const seen: string[] = [];

    const result = await streamMessage(tracker, {
      client,
      params: params(),
      expectedOutputTokens: 40,
      onText: (_delta, text) => seen.push(text),
    });

    expect(seen).toEqual(['Here is the outline. ']);
    expect(result.usage.stopReason).toBe('tool_use');
    expect(result.message.content[1]).toMatchObject({
      type: 'tool_use',
      input: { topics: ['Cardiology', 'Neurology', 'Nephrology', 'Oncology'] },
    });
    await tracker.flush();
    const values = stepProgressOf(await events(tracker.jobId));
    // The JSON (~19 estimated tokens of 40) moved the bar before the final count arrived.
    expect(values.some((v) => v > 20 && v < 99)).toBe(true);
    expect(values.at(-1)).toBe(100);
  });

  it("passes a throw from the caller's onText through untouched and stops the request", async () => {
    const tracker = await runningJob();
    let requestAborted!: Promise<void>;
    server.use(
      http.post(MESSAGES_URL, ({ request }) => {
        requestAborted = new Promise((resolve) => {
          request.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        return sseResponse(messageFrames(chunks(100)), { delayMs: 5, signal: request.signal });
      }),
    );
    const mine = new SyntaxError('outline is not JSON');

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      onText: () => {
        throw mine;
      },
    }).catch((e) => e);

    expect(error).toBe(mine);
    await requestAborted;
  });

  it('leaves the step running by default and returns the usage for the caller', async () => {
    const tracker = await runningJob();
    server.use(
      http.post(MESSAGES_URL, () => sseResponse(messageFrames(['ok'], { outputTokens: 2 }))),
    );

    const { usage } = await streamMessage(tracker, { client, params: params() });

    expect((await tracker.flush()).steps[0]?.status).toBe('running');
    await tracker.completeStep({ meta: { usage } });
    expect((await store.getJob(tracker.jobId))?.steps[0]?.meta).toEqual({ usage });
  });
});

describe('streamMessage: API failures', () => {
  it('maps 401 to anthropic_auth without retrying, and the failed job keeps the code', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return errorResponse(401, 'authentication_error', 'invalid x-api-key');
      }),
    );

    const error = await streamMessage(tracker, { client, params: params() }).catch((e) => e);

    expect(requests).toBe(1);
    expect(isAnthropicJobError(error, 'anthropic_auth')).toBe(true);
    expect(error).toBeInstanceOf(AnthropicJobError);
    expect(error.message).toContain('invalid x-api-key');
    expect(error.details).toMatchObject({
      status: 401,
      errorType: 'authentication_error',
      requestId: 'req_401',
    });
    const failed = await tracker.fail(error);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'anthropic_auth' });
  });

  it('maps 429 to anthropic_rate_limited with the retry-after seconds, without retrying', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return errorResponse(
          429,
          'rate_limit_error',
          'Number of request tokens has exceeded your per-minute rate limit',
          {
            'retry-after': '17',
          },
        );
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: fastRetry,
    }).catch((e) => e);

    expect(requests).toBe(1);
    expect(isAnthropicJobError(error, 'anthropic_rate_limited')).toBe(true);
    expect(error.retryAfterSeconds).toBe(17);
    expect(error.details).toMatchObject({ status: 429, retryAfterSeconds: 17 });
    expect(error.message).toContain('retry after 17 s');
  });

  it('retries 529 with backoff and succeeds, counting the attempts in the usage', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        if (requests <= 2) return errorResponse(529, 'overloaded_error', 'Overloaded');
        return sseResponse(messageFrames(chunks(5), { outputTokens: 50 }));
      }),
    );

    const result = await streamMessage(tracker, { client, params: params(), retry: fastRetry });

    expect(requests).toBe(3);
    expect(result.usage.attempts).toBe(3);
    expect(result.text).toBe(chunks(5).join(''));
  });

  it('gives up on 529 after maxRetries with anthropic_overloaded', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return errorResponse(529, 'overloaded_error', 'Overloaded');
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: { ...fastRetry, maxRetries: 2 },
    }).catch((e) => e);

    expect(requests).toBe(3);
    expect(isAnthropicJobError(error, 'anthropic_overloaded')).toBe(true);
    expect(error.details).toMatchObject({ status: 529, attempts: 3 });
    expect(error.message).toContain('after 3 attempts');
  });

  it('retries an overloaded_error event inside the stream; progress does not go back', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        if (requests === 1) {
          // Half of the text, then the API gives up mid-stream.
          const frames = messageFrames(chunks(20)).slice(0, 14);
          return sseResponse([...frames, errorEvent('overloaded_error', 'Overloaded')], {
            delayMs: 4,
          });
        }
        return sseResponse(messageFrames(chunks(20), { outputTokens: 200 }), { delayMs: 4 });
      }),
    );

    const result = await streamMessage(tracker, {
      client,
      params: params(),
      expectedOutputTokens: 200,
      retry: fastRetry,
    });

    expect(requests).toBe(2);
    expect(result.usage.attempts).toBe(2);
    await tracker.flush();
    const values = stepProgressOf(await events(tracker.jobId));
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1] ?? 0);
    expect(values.at(-1)).toBe(100);
  });

  it('maps another error event inside the stream to anthropic_stream_error, with the API message', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return sseResponse([
          messageStart(),
          textBlockStart(),
          textDelta('Card'),
          errorEvent('invalid_request_error', 'Output blocked by content filtering policy'),
        ]);
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: fastRetry,
    }).catch((e) => e);

    expect(requests).toBe(1);
    expect(isAnthropicJobError(error, 'anthropic_invalid_request')).toBe(true);
    expect(error.details).toMatchObject({ errorType: 'invalid_request_error' });
    expect(error.details.status).toBeUndefined();
    expect(error.message).toContain('content filtering');
  });

  it('maps an api_error event inside the stream to anthropic_stream_error', async () => {
    const tracker = await runningJob();
    server.use(
      http.post(MESSAGES_URL, () =>
        sseResponse([
          messageStart(),
          textBlockStart(),
          errorEvent('api_error', 'Internal server error'),
        ]),
      ),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: { maxRetries: 0 },
    }).catch((e) => e);

    expect(isAnthropicJobError(error, 'anthropic_stream_error')).toBe(true);
    expect(error.details).toMatchObject({ errorType: 'api_error' });
    expect(error.message).toContain('Internal server error');
  });

  it('fails with anthropic_stream_error when the stream ends before message_stop', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return sseResponse(messageFrames(chunks(10)).slice(0, 8), { delayMs: 2 });
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: fastRetry,
    }).catch((e) => e);

    expect(requests).toBe(1);
    expect(isAnthropicJobError(error, 'anthropic_stream_error')).toBe(true);
    expect(error.message).toContain('message_stop');
  });

  it('fails with anthropic_stream_error when the connection drops mid-stream', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return sseResponse([messageStart(), textBlockStart(), textDelta('Cardio'), blockStop()], {
          delayMs: 2,
          end: 'error',
        });
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: fastRetry,
    }).catch((e) => e);

    expect(requests).toBe(1);
    expect(isAnthropicJobError(error, 'anthropic_stream_error')).toBe(true);
  });

  it('retries a connection that fails before any answer, then reports anthropic_connection_error', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return HttpResponse.error();
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: { ...fastRetry, maxRetries: 1 },
    }).catch((e) => e);

    expect(requests).toBe(2);
    expect(isAnthropicJobError(error, 'anthropic_connection_error')).toBe(true);
  });

  it('maps 400 to anthropic_invalid_request without retrying', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return errorResponse(400, 'invalid_request_error', 'max_tokens: Field required');
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      retry: fastRetry,
    }).catch((e) => e);

    expect(requests).toBe(1);
    expect(isAnthropicJobError(error, 'anthropic_invalid_request')).toBe(true);
    expect(error.message).toContain('max_tokens: Field required');
  });
});

describe('streamMessage: cancellation', () => {
  it('a cancel from another request aborts the HTTP request mid-stream and writes no more progress', async () => {
    const tracker = await runningJob();
    let framesSent = 0;
    let requestAborted!: Promise<void>;
    let firstFrames!: () => void;
    const streaming = new Promise<void>((resolve) => {
      firstFrames = resolve;
    });
    server.use(
      http.post(MESSAGES_URL, ({ request }) => {
        requestAborted = new Promise((resolve) => {
          if (request.signal.aborted) resolve();
          request.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        // 400 frames 10 ms apart: seconds of stream, cut short by the cancel.
        return sseResponse(messageFrames(chunks(400)), {
          delayMs: 10,
          // Like a real server, stop writing once the client has gone.
          signal: request.signal,
          onFrame: (i) => {
            framesSent = i + 1;
            if (framesSent === 20) firstFrames();
          },
        });
      }),
    );

    const call = streamMessage(tracker, {
      client,
      params: params(4000),
      expectedOutputTokens: 4000,
    });
    const settled = call.then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    await streaming;
    await tracker.flush();
    const before = stepProgressOf(await events(tracker.jobId));
    expect(before.length).toBeGreaterThan(0);

    // "Another request": its own tracker on the same store.
    const other = new ProgressTracker(store, tracker.jobId);
    await other.cancel('closed by the user');

    const outcome = await settled;
    expect(outcome.ok).toBe(false);
    const error = outcome.ok ? null : outcome.error;
    expect(isJobstreamError(error, 'job_cancelled')).toBe(true);
    expect(isAnthropicJobError(error)).toBe(false);
    // The HTTP request itself was aborted, long before the 400 frames were written.
    await requestAborted;
    expect(framesSent).toBeLessThan(400);

    // Give any stray timer (the tracker's coalescing, the stream) time to misbehave.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const list = await events(tracker.jobId);
    expect(list.at(-1)?.type).toBe('job_cancelled');
    const cancelledAt = list.findIndex((e) => e.type === 'job_cancelled');
    expect(list.slice(cancelledAt + 1)).toEqual([]);
    const job = await store.getJob(tracker.jobId);
    expect(job?.status).toBe('cancelled');
    expect(job?.cancelReason).toBe('closed by the user');
  });

  it('a cancel while waiting for the first byte aborts the request', async () => {
    const tracker = await runningJob();
    let requestAborted!: Promise<void>;
    let requested!: () => void;
    const waiting = new Promise<void>((resolve) => {
      requested = resolve;
    });
    server.use(
      http.post(MESSAGES_URL, async ({ request }) => {
        requestAborted = new Promise((resolve) => {
          request.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        requested();
        // A long time to first token: the answer would come only after the abort.
        await Promise.race([requestAborted, new Promise((resolve) => setTimeout(resolve, 3000))]);
        return sseResponse(messageFrames(['too late']));
      }),
    );

    const call = streamMessage(tracker, { client, params: params() }).catch((e) => e);
    await waiting;
    await new ProgressTracker(store, tracker.jobId).cancel();

    expect(isJobstreamError(await call, 'job_cancelled')).toBe(true);
    await requestAborted;
    expect(stepProgressOf(await events(tracker.jobId))).toEqual([]);
  });

  it('does not call the API for a job that is already cancelled', async () => {
    const tracker = await runningJob();
    let requests = 0;
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        return sseResponse(messageFrames(['never']));
      }),
    );
    await new ProgressTracker(store, tracker.jobId).cancel();
    await tracker.watch();

    const error = await streamMessage(tracker, { client, params: params() }).catch((e) => e);

    expect(isJobstreamError(error, 'job_cancelled')).toBe(true);
    expect(requests).toBe(0);
  });

  it('a cancel during the backoff after a 529 stops the retries', async () => {
    const tracker = await runningJob();
    let requests = 0;
    let firstRequest!: () => void;
    const requested = new Promise<void>((resolve) => {
      firstRequest = resolve;
    });
    server.use(
      http.post(MESSAGES_URL, () => {
        requests++;
        firstRequest();
        return errorResponse(529, 'overloaded_error', 'Overloaded');
      }),
    );

    const call = streamMessage(tracker, {
      client,
      params: params(),
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    }).catch((e) => e);
    await requested;
    await new ProgressTracker(store, tracker.jobId).cancel();

    expect(isJobstreamError(await call, 'job_cancelled')).toBe(true);
    expect(requests).toBe(1);
  });

  it("aborts on the caller's own signal with that signal's reason", async () => {
    const tracker = await runningJob();
    const controller = new AbortController();
    let requestAborted!: Promise<void>;
    server.use(
      http.post(MESSAGES_URL, ({ request }) => {
        requestAborted = new Promise((resolve) => {
          request.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        queueMicrotask(() => setTimeout(() => controller.abort(new Error('client went away')), 30));
        return sseResponse(messageFrames(chunks(200)), { delayMs: 10 });
      }),
    );

    const error = await streamMessage(tracker, {
      client,
      params: params(),
      signal: controller.signal,
    }).catch((e) => e);

    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('client went away');
    await requestAborted;
    expect((await store.getJob(tracker.jobId))?.status).toBe('running');
  });
});
