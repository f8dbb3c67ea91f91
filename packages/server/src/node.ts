import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { type AttachDirectSink, DIRECT_SINK } from './direct-sink.js';

/**
 * Node `http` binding: converts `IncomingMessage` into a `Request`, calls the Web
 * handler, and writes the `Response` back with backpressure. No logic lives here.
 */

type WebHandler = (request: Request) => Promise<Response>;

export interface NodeHandlerOptions {
  /** Told about a failure to write a response (the client usually just went away). */
  onError?: (error: unknown) => void;
}

/** `IncomingMessage` as Express leaves it (mount path stripped from `url`, maybe a parsed body). */
type NodeRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

/**
 * Wraps a jobstream server (or any Web handler) for `http.createServer` and Express.
 *
 * @example
 * http.createServer(toNodeHandler(server)).listen(3000);
 * app.use('/api/generation', toNodeHandler(server)); // Express; basePath '/api/generation'
 */
export function toNodeHandler(
  target: { handle: WebHandler } | WebHandler,
  options: NodeHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void> {
  const handle: WebHandler =
    typeof target === 'function' ? target : (request) => target.handle(request);
  return async (req, res, next) => {
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    try {
      let request: Request | null = null;
      try {
        request = toRequest(req as NodeRequest, abort.signal);
      } catch {
        // Node parsed it but no fetch Request can hold it (a Host of "exa mple", a target
        // of "//", TRACE, a body parsed by a framework too deep to serialize): the client's
        // fault, answered below, not a 500.
      }
      const response = request ? await handle(request) : unrepresentable(req.method);
      // Answered before the body was read (413, 401): the unread rest of it would be taken
      // for the next request on a kept-alive connection, which then hangs until reset.
      // (HTTP/2 has no such header: each request is its own stream.)
      if (!req.complete && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
      await writeResponse(response, res, abort.signal);
    } catch (error) {
      if (next) next(error);
      else {
        options.onError?.(error);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.end('{"error":{"code":"internal","message":"Internal server error."}}');
        } else res.destroy();
      }
    } finally {
      res.off('close', onClose);
    }
  };
}

/** Methods the Fetch standard refuses to carry in a `Request`. */
const FORBIDDEN_METHODS = /^(?:CONNECT|TRACE|TRACK)$/i;

/** The answer to a request no `Request` can represent: 405 for a forbidden method, else 400. */
function unrepresentable(method: string | undefined): Response {
  const forbidden = FORBIDDEN_METHODS.test(method ?? '');
  const error = forbidden
    ? { code: 'method_not_allowed', message: `${method} is not supported.` }
    : {
        code: 'invalid_input',
        message: 'The request cannot be read: its URL, Host header or body is malformed.',
      };
  return new Response(JSON.stringify({ error }), {
    status: forbidden ? 405 : 400,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      // The jobstream routes use no other methods.
      ...(forbidden ? { allow: 'GET, POST, OPTIONS' } : {}),
    },
  });
}

/** Builds a Web `Request` from a Node request; `signal` aborts when the client goes away. */
export function toRequest(req: NodeRequest, signal?: AbortSignal): Request {
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? 'localhost';
  const url = new URL(req.originalUrl ?? req.url ?? '/', `${secure ? 'https' : 'http'}://${host}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (method !== 'GET' && method !== 'HEAD') {
    if (req.body !== undefined && req.readableEnded) {
      // A body parser (express.json()) already read the stream: use what it produced.
      init.body =
        typeof req.body === 'string' || req.body instanceof Uint8Array
          ? (req.body as string | Uint8Array<ArrayBuffer>)
          : JSON.stringify(req.body);
      headers.delete('content-length');
    } else {
      init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
  }
  return new Request(url, init);
}

/** Writes a Web `Response` to a Node response, waiting for `drain` between chunks. */
export async function writeResponse(
  response: Response,
  res: ServerResponse,
  signal?: AbortSignal,
): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  const cookies = response.headers.getSetCookie();
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    res.setHeader(name, value);
  }
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  if (!response.body) {
    res.end();
    return;
  }
  // Headers go out now: an SSE client should see the stream open before the first event.
  res.flushHeaders();
  const attach = (response.body as { [DIRECT_SINK]?: AttachDirectSink })[DIRECT_SINK];
  if (typeof attach === 'function') return pipeDirect(attach, res, signal);
  const reader = response.body.getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) {
        await reader.cancel().catch(() => {});
        return;
      }
      if (!res.write(value)) {
        const open = await drained(res);
        if (!open) {
          await reader.cancel().catch(() => {});
          return;
        }
      }
    }
    res.end();
  } catch {
    // The body failed (a stalled SSE client was dropped, a store error): cut the
    // connection so the client knows the stream did not end cleanly and reconnects.
    res.destroy();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Resolves true on `drain`, false when the response closes first. */
function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (open: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(open);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Our own SSE streams: frames go straight to the socket (see direct-sink.ts). */
function pipeDirect(attach: AttachDirectSink, res: ServerResponse, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    let controls: { resume(): void; cancel(): void } | null = null;
    const finish = () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      signal?.removeEventListener('abort', onClose);
      resolve();
    };
    const onDrain = () => controls?.resume();
    const onClose = () => {
      controls?.cancel();
      finish();
    };
    res.on('drain', onDrain);
    res.once('close', onClose);
    signal?.addEventListener('abort', onClose, { once: true });
    controls = attach({
      write: (chunk) => !res.destroyed && res.write(chunk),
      end: () => {
        res.end();
        finish();
      },
      destroy: () => {
        res.destroy();
        finish();
      },
    });
  });
}
