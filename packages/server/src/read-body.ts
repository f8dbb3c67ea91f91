import { JobstreamError } from '@jobstream/core';

/**
 * Reads a request body as text, refusing more than `maxBytes` (413) without buffering
 * past the limit: a declared Content-Length over it is refused before reading, and a
 * chunked body is cut off as soon as it crosses it.
 */
export async function readTextBody(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      text += decoder.decode(value, { stream: true });
    }
    return text + decoder.decode();
  } catch (error) {
    if (request.signal.aborted) {
      // The client went away mid-upload: its fault, not ours, and nobody reads the answer.
      throw new JobstreamError('invalid_input', 'The request was aborted while its body was sent.');
    }
    if (error instanceof TypeError) {
      throw new JobstreamError('invalid_input', 'The body is not valid UTF-8.');
    }
    throw error;
  }
}

/**
 * Deepest nesting of objects and arrays accepted in a JSON body. `JSON.parse` takes far
 * deeper, but `JSON.stringify` of a few thousand levels overflows the stack, so a job
 * whose schema lets such input through could be stored and then never shown (its status
 * and stream would fail with a 500 for ever).
 */
export const MAX_JSON_DEPTH = 256;

/** Reads and parses a JSON body (400 on malformed or too deeply nested JSON, 413 past `maxBytes`). */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const text = await readTextBody(request, maxBytes);
  if (text.trim() === '') {
    throw new JobstreamError('invalid_input', 'The body is empty; send JSON.');
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new JobstreamError('invalid_input', 'The body is not valid JSON.');
  }
  if (deeperThan(text, MAX_JSON_DEPTH)) {
    throw new JobstreamError(
      'invalid_input',
      `The body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels.`,
    );
  }
  return value;
}

/** Whether valid JSON `text` nests objects and arrays deeper than `limit`. */
function deeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c)
        i++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) {
      if (++depth > limit) return true;
    } else if (code === 0x7d || code === 0x5d) depth--;
  }
  return false;
}

function tooLarge(maxBytes: number): JobstreamError {
  return new JobstreamError(
    'payload_too_large',
    `The body is larger than the limit of ${maxBytes} bytes.`,
  );
}
