import { type JobEvent, JobstreamError } from '@jobstream/core';

/**
 * Every rule of the SSE wire lives in this module: the headers, the frame format, the
 * heartbeat. Nothing else in the package writes SSE bytes by hand.
 */

/** Headers of every SSE response. `no-transform` and `x-accel-buffering` stop proxies buffering. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
});

/** Default heartbeat: shorter than any sensible client stall timeout. */
export const DEFAULT_HEARTBEAT_MS = 15_000;

export interface SseFrame {
  id?: string | number;
  event?: string;
  /** Written as one `data:` line per line of text; a single line for JSON. */
  data?: string;
  /** Reconnection delay for the client, ms. */
  retry?: number;
  /** A comment line (`: text`), ignored by clients; used for heartbeats. */
  comment?: string;
}

const LINE_BREAK = /[\r\n]/;
const encoder = new TextEncoder();

type BufferLike = { from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array };
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/**
 * UTF-8 bytes of `text`. On Node they are wrapped (no copy) in a `Buffer` view, which a
 * socket takes as is; a plain Uint8Array would be re-wrapped on every write to every viewer.
 */
function bytesOf(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  return NodeBuffer ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

function checkField(name: string, value: string): string {
  // A CR or LF here would end the field and let the value forge fields of its own.
  if (LINE_BREAK.test(value)) {
    throw new JobstreamError('invalid_event', `SSE ${name} must not contain CR or LF.`);
  }
  return value;
}

/** Encodes one frame as text. Refuses CR/LF in `id`, `event` and `comment`. */
export function encodeFrame(frame: SseFrame): string {
  let out = '';
  if (frame.comment !== undefined) out += `: ${checkField('comment', frame.comment)}\n`;
  if (frame.retry !== undefined) {
    if (!Number.isSafeInteger(frame.retry) || frame.retry < 0) {
      throw new JobstreamError('invalid_event', 'SSE retry must be a non-negative integer.');
    }
    out += `retry: ${frame.retry}\n`;
  }
  if (frame.id !== undefined) out += `id: ${checkField('id', String(frame.id))}\n`;
  if (frame.event !== undefined) out += `event: ${checkField('event', frame.event)}\n`;
  if (frame.data !== undefined) {
    // Split on every line terminator SSE knows, so raw newlines can never end the frame.
    for (const line of frame.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  }
  return `${out}\n`;
}

/** The heartbeat comment, pre-encoded. */
export const HEARTBEAT_FRAME: Uint8Array = bytesOf(encodeFrame({ comment: 'ping' }));

/**
 * Sent just before the server ends a stream that reached its age limit: the client
 * reconnects at once instead of waiting the `retry:` the stream started with.
 */
export const RECONNECT_NOW_FRAME: Uint8Array = bytesOf(encodeFrame({ retry: 0 }));

/** The `retry:` frame every stream starts with. */
export function retryFrame(retryMs: number): Uint8Array {
  return bytesOf(encodeFrame({ retry: retryMs }));
}

/** Envelope keys the top-level copies must never overwrite. */
const RESERVED = new Set(['id', 'jobId', 'type', 'at', 'data']);

/**
 * The JSON a frame's `data:` line carries: the envelope, plus (for the seed's plain
 * `EventSource` code, which reads `JSON.parse(e.data).progress`) the payload's fields
 * copied to the top level where they do not collide, and the fields of an object
 * `result` of `job_completed` (so `.courseId` works).
 */
export function eventJson(event: JobEvent, topLevelFields: boolean): string {
  if (!topLevelFields) {
    return JSON.stringify({
      id: event.id,
      jobId: event.jobId,
      type: event.type,
      at: event.at,
      data: event.data,
    });
  }
  const out: Record<string, unknown> = {
    id: event.id,
    jobId: event.jobId,
    type: event.type,
    at: event.at,
    data: event.data,
  };
  const data = event.data as Record<string, unknown>;
  for (const key of Object.keys(data)) {
    if (!RESERVED.has(key)) out[key] = data[key];
  }
  if (event.type === 'job_completed') {
    const result = event.data.result;
    if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
      for (const [key, value] of Object.entries(result)) {
        if (!RESERVED.has(key) && !(key in out)) out[key] = value;
      }
    }
  }
  return JSON.stringify(out);
}

// Stores hand the same event object to every subscriber, so an event a fan has just
// encoded is found again by the viewers catching up on it. Only recent events are kept:
// MemoryJobStore holds every event until its job is deleted, and a frame cached for as
// long as its event lives (a WeakMap) would hold a second copy of every finished job.
const RECENT_FRAMES = 1024;

/** The last `RECENT_FRAMES` frames, by event object, oldest dropped first. */
class RecentFrames {
  readonly #frames = new Map<JobEvent, Uint8Array>();

  get(event: JobEvent): Uint8Array | undefined {
    return this.#frames.get(event);
  }

  set(event: JobEvent, bytes: Uint8Array): void {
    if (this.#frames.size >= RECENT_FRAMES) {
      const oldest = this.#frames.keys().next();
      if (!oldest.done) this.#frames.delete(oldest.value);
    }
    this.#frames.set(event, bytes);
  }
}

const framesWithCopies = new RecentFrames();
const framesPlain = new RecentFrames();

/** The encoded `id:`/`event:`/`data:` frame of an event (recent events' frames are cached). */
export function encodeEvent(event: JobEvent, topLevelFields = true): Uint8Array {
  const cache = topLevelFields ? framesWithCopies : framesPlain;
  let bytes = cache.get(event);
  if (bytes === undefined) {
    bytes = bytesOf(
      encodeFrame({ id: event.id, event: event.type, data: eventJson(event, topLevelFields) }),
    );
    cache.set(event, bytes);
  }
  return bytes;
}
