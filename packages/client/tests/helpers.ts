import { once } from 'node:events';
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobEvent } from '@jobstream/core/lite';

/** One scripted answer: what the server does with the n-th request. */
export type Answer = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface ScriptedServer {
  url: string;
  /** Every request received, in order. */
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/**
 * A raw node:http server that answers the n-th request with `answers[n]` (by route when
 * given an object of arrays). A request past the script gets 410, which a client must
 * treat as final, so a runaway reconnect loop ends and shows up in `requests`.
 */
export async function scriptedServer(
  answers: Answer[] | ((req: IncomingMessage, res: ServerResponse, n: number) => unknown),
): Promise<ScriptedServer> {
  const requests: ScriptedServer['requests'] = [];
  const server = http.createServer(async (req, res) => {
    const n = requests.length;
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    try {
      if (typeof answers === 'function') await answers(req, res, n);
      else {
        const answer = answers[n];
        if (answer) await answer(req, res);
        else problem(res, 410, 'gone', 'Past the script.');
      }
    } catch {
      res.destroy();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function problem(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
}

/** Starts an SSE answer. */
export function openStream(res: ServerResponse) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes each piece separately, pausing between them so they leave as separate TCP writes. */
export async function writeSlowly(res: ServerResponse, pieces: string[]) {
  for (const piece of pieces) {
    res.write(piece);
    await delay(5);
  }
}

/** A plausible job's events: two steps, then completed with `{ courseId: 'c1' }`. */
export function jobEvents(jobId = 'j1'): JobEvent[] {
  const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
  const drafts = [
    {
      type: 'job_created',
      data: {
        kind: 'course',
        ownerId: 'alice',
        input: { examId: 'e1' },
        steps: [
          { name: 'fetch', label: 'Fetch', weight: 1 },
          { name: 'write', label: 'Write — ✍️ lessons', weight: 1 },
        ],
      },
    },
    { type: 'job_started', data: {} },
    { type: 'step_started', data: { step: 'fetch', stepIndex: 0, message: 'Fetching' } },
    {
      type: 'step_progress',
      data: { step: 'fetch', progress: 25, stepProgress: 50, message: 'Half: é 🚀' },
    },
    { type: 'step_completed', data: { step: 'fetch', stepIndex: 0, duration: 10 } },
    { type: 'step_started', data: { step: 'write', stepIndex: 1, message: 'Writing' } },
    { type: 'step_completed', data: { step: 'write', stepIndex: 1, duration: 10 } },
    { type: 'job_completed', data: { result: { courseId: 'c1' }, totalDuration: 20 } },
  ];
  return drafts.map((d, i) => ({ id: i + 1, jobId, at: at(i), ...d }) as JobEvent);
}

/** The standard frame our server writes (LF line ends). */
export function frame(event: JobEvent, withId = true): string {
  return `${withId ? `id: ${event.id}\n` : ''}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** Polls until `check` holds (generous timeout; no timing assertions). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await delay(5);
  }
}
