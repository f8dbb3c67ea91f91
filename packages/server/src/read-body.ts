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
    if (error instanceof TypeError) {
      throw new JobstreamError('invalid_input', 'The body is not valid UTF-8.');
    }
    throw error;
  }
}

/** Reads and parses a JSON body (400 on malformed JSON, 413 past `maxBytes`). */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const text = await readTextBody(request, maxBytes);
  if (text.trim() === '') {
    throw new JobstreamError('invalid_input', 'The body is empty; send JSON.');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new JobstreamError('invalid_input', 'The body is not valid JSON.');
  }
}

function tooLarge(maxBytes: number): JobstreamError {
  return new JobstreamError(
    'payload_too_large',
    `The body is larger than the limit of ${maxBytes} bytes.`,
  );
}
