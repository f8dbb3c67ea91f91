/**
 * The Anthropic Messages streaming wire format, as the API sends it
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming), for msw handlers.
 */

export const API_URL = 'https://api.anthropic.test';
export const MESSAGES_URL = `${API_URL}/v1/messages`;
export const MODEL = 'claude-sonnet-4-6';

/** One SSE frame: `event:` line, one `data:` line, blank line. */
export function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function messageStart(inputTokens = 25): string {
  return frame('message_start', {
    type: 'message_start',
    message: {
      id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
      type: 'message',
      role: 'assistant',
      content: [],
      model: MODEL,
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1 },
    },
  });
}

export function textBlockStart(index = 0): string {
  return frame('content_block_start', {
    type: 'content_block_start',
    index,
    content_block: { type: 'text', text: '' },
  });
}

export function textDelta(text: string, index = 0): string {
  return frame('content_block_delta', {
    type: 'content_block_delta',
    index,
    delta: { type: 'text_delta', text },
  });
}

export function blockStop(index = 0): string {
  return frame('content_block_stop', { type: 'content_block_stop', index });
}

export function messageDelta(outputTokens: number, stopReason = 'end_turn'): string {
  return frame('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: outputTokens },
  });
}

export function messageStop(): string {
  return frame('message_stop', { type: 'message_stop' });
}

export function ping(): string {
  return frame('ping', { type: 'ping' });
}

export function errorEvent(type: string, message: string): string {
  return frame('error', { type: 'error', error: { type, message } });
}

/** A whole successful response: start, `chunks` text deltas (pings between), usage, stop. */
export function messageFrames(
  chunks: readonly string[],
  { inputTokens = 25, outputTokens }: { inputTokens?: number; outputTokens?: number } = {},
): string[] {
  const frames = [messageStart(inputTokens), textBlockStart(), ping()];
  chunks.forEach((chunk, i) => {
    frames.push(textDelta(chunk));
    if (i % 10 === 9) frames.push(ping());
  });
  frames.push(blockStop());
  frames.push(messageDelta(outputTokens ?? Math.ceil(chunks.join('').length / 4)));
  frames.push(messageStop());
  return frames;
}

export interface SseBodyOptions {
  /** Wait between frames, so a test can act mid-stream. @default 0 */
  delayMs?: number;
  /** After the frames: close cleanly (default), or error the body like a dropped socket. */
  end?: 'close' | 'error';
  /** Stop writing when it aborts (pass the request's signal: the client went away). */
  signal?: AbortSignal;
  /** Told when the body was cancelled by its reader. */
  onCancel?: () => void;
  /** Told of each frame as it is sent. */
  onFrame?: (index: number) => void;
}

/** A streaming `text/event-stream` response that writes `frames` one at a time. */
export function sseResponse(frames: readonly string[], options: SseBodyOptions = {}): Response {
  const encoder = new TextEncoder();
  let cancelled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      // A real fetch errors the body of an aborted request; msw's does not, so do it here.
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          try {
            controller.error(options.signal?.reason);
          } catch {
            // Already closed.
          }
        },
        { once: true },
      );
      for (let i = 0; i < frames.length; i++) {
        if (cancelled || options.signal?.aborted) return;
        if (options.delayMs) {
          await new Promise<void>((resolve) => {
            timer = setTimeout(resolve, options.delayMs);
          });
          if (cancelled || options.signal?.aborted) return;
        }
        controller.enqueue(encoder.encode(frames[i]));
        options.onFrame?.(i);
      }
      if (options.end === 'error') controller.error(new Error('socket hang up'));
      else controller.close();
    },
    cancel() {
      cancelled = true;
      clearTimeout(timer);
      options.onCancel?.();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': 'req_stream_1',
    },
  });
}

/** An error answer as the API sends it (JSON body, `request-id`). */
export function errorResponse(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ type: 'error', error: { type, message }, request_id: `req_${status}` }),
    {
      status,
      headers: { 'content-type': 'application/json', 'request-id': `req_${status}`, ...headers },
    },
  );
}
