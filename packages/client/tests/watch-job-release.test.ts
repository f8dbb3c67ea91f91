// A watcher released by its last handle must leave nothing running: no stream opened
// afterwards, no request left in flight (a long-lived page follows hundreds of jobs).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JobEvent } from '@jobstream/core/lite';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobClient } from '../src/index.js';
import {
  delay,
  frame,
  jobEvents,
  openStream,
  problem,
  type ScriptedServer,
  scriptedServer,
  waitFor,
} from './helpers.js';

const events = jobEvents();
const failed: JobEvent = {
  id: 6,
  jobId: 'j1',
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, 5)).toISOString(),
  type: 'job_failed',
  data: { error: { message: 'model overloaded' }, failedStep: 'write' },
} as JobEvent;

let server: ScriptedServer | undefined;
const held: ServerResponse[] = [];
afterEach(async () => {
  for (const res of held.splice(0)) res.destroy();
  await server?.close();
  server = undefined;
});

/** A client whose stream requests are counted as they are made (before any socket work). */
function countingClient(url: string) {
  let streamFetches = 0;
  const client = createJobClient({
    baseUrl: `${url}/api`,
    fetch: (input, init) => {
      if (String(input).includes('/stream/')) streamFetches++;
      return fetch(input, init);
    },
  });
  return { client, streamFetches: () => streamFetches };
}

describe('a released watcher', () => {
  it('does not start following again when a resume it started answers after the release', async () => {
    let answerResume: () => void = () => {};
    let resumeAsked = false;
    let openStreams = 0;
    server = await scriptedServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/api/stream/')) {
        openStream(res);
        if (req.headers['last-event-id'] === undefined) {
          return res.end([...events.slice(0, 5), failed].map((e) => frame(e)).join(''));
        }
        // The resumed job: a stream that stays open while it runs.
        openStreams++;
        res.on('close', () => openStreams--);
        held.push(res);
        return;
      }
      if (req.url === '/api/resume') {
        resumeAsked = true;
        answerResume = () => {
          res.writeHead(202, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jobId: 'j1', streamUrl: '/api/stream/j1' }));
        };
        return;
      }
      problem(res, 404, 'not_found', 'No such route.');
    });
    const { client, streamFetches } = countingClient(server.url);
    const watcher = client.watch('j1');
    await waitFor(() => watcher.getSnapshot().job?.status === 'failed');
    expect(streamFetches()).toBe(1);

    const resuming = watcher.resume();
    await waitFor(() => resumeAsked);
    // The page navigates away while the resume request is on its way.
    watcher.close();
    await delay(0);
    answerResume();
    await resuming;
    await delay(0);

    expect(streamFetches()).toBe(1);
    expect(openStreams).toBe(0);
  });

  it('aborts the status request of a resync in flight', async () => {
    let statusOpen = 0;
    let statusAsked = 0;
    server = await scriptedServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith('/api/stream/')) {
        // Event 5 first: not a continuation of anything, so the watcher resyncs from status.
        openStream(res);
        res.write(frame(events[4] as JobEvent));
        held.push(res);
        return;
      }
      if (req.url?.startsWith('/api/status/')) {
        // A status that takes its time (a slow database): never answered here.
        statusAsked++;
        statusOpen++;
        res.on('close', () => statusOpen--);
        held.push(res);
        return;
      }
      problem(res, 404, 'not_found', 'No such route.');
    });
    const { client } = countingClient(server.url);
    const watcher = client.watch('j1');
    await waitFor(() => statusAsked === 1);
    expect(statusOpen).toBe(1);

    watcher.close();
    await waitFor(() => statusOpen === 0);
  });
});
