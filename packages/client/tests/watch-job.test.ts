import type { IncomingMessage, ServerResponse } from 'node:http';
import { foldEvents, type JobEvent } from '@jobstream/core/lite';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobClient, type JobWatcher, type JobWatchSnapshot, watchJob } from '../src/index.js';
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
const upTo = (id: number) => foldEvents(events.slice(0, id));
const SEED_COLUMNS = { current_step: 'fetch', total_steps: 2, created_at: 'x' };

let server: ScriptedServer | undefined;
const watchers: JobWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await server?.close();
  server = undefined;
});

type StreamAnswer = (req: IncomingMessage, res: ServerResponse, after: number) => unknown;

/** A server with /stream answered by `streams[n]` and /status by `status`. */
async function jobServer(streams: StreamAnswer[], status?: () => unknown) {
  let n = 0;
  server = await scriptedServer((req, res) => {
    if (req.url?.startsWith('/api/stream/')) {
      const answer = streams[n++];
      if (!answer) return problem(res, 410, 'gone', 'Past the script.');
      return answer(req, res, Number(req.headers['last-event-id'] ?? 0));
    }
    if (req.url?.startsWith('/api/status/') && status) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ job: status(), canResume: false }));
    }
    problem(res, 404, 'not_found', 'No such route.');
  });
  return createJobClient({ baseUrl: `${server.url}/api` });
}

const sendEvents =
  (list: JobEvent[], end = true) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    openStream(res);
    const text = list.map((e) => frame(e)).join('');
    if (end) res.end(text);
    else res.write(text);
  };

function track(watcher: JobWatcher) {
  watchers.push(watcher);
  const seen: JobWatchSnapshot[] = [];
  watcher.subscribe(() => seen.push(watcher.getSnapshot()));
  return seen;
}

const streamRequests = () => server?.requests.filter((r) => r.url.startsWith('/api/stream/')) ?? [];

describe('watchJob', () => {
  it('folds every event into a snapshot that keeps its identity until something changes', async () => {
    const client = await jobServer([sendEvents(events)]);
    const watcher = client.watch('j1');
    const initial = watcher.getSnapshot();
    expect(initial).toEqual({ job: null, connection: 'idle', error: null, lastEventId: 0 });
    const seen = track(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    const last = watcher.getSnapshot();
    expect(last.job).toEqual(upTo(8));
    expect(last.job?.status).toBe('completed');
    expect(last.job?.result).toEqual({ courseId: 'c1' });
    expect(last.lastEventId).toBe(8);
    expect(watcher.getSnapshot()).toBe(last);
    // Every notification carried a new object; the versions only went up.
    expect(new Set(seen).size).toBe(seen.length);
    const versions = seen.map((s) => s.job?.version ?? 0);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(seen.map((s) => s.connection).filter((c, i, all) => c !== all[i - 1])).toEqual([
      'connecting',
      'open',
      'closed',
    ]);
  });

  it('shares one connection between watchers of a job, and closes it with the last one', async () => {
    let socketsClosed = 0;
    const client = await jobServer([
      (req, res) => {
        sendEvents(events.slice(0, 3), false)(req, res);
        req.socket.on('close', () => socketsClosed++);
      },
      sendEvents(events),
    ]);
    const a = client.watch('j1');
    const b = watchJob(client, 'j1');
    await waitFor(() => a.getSnapshot().lastEventId === 3);
    expect(b.getSnapshot()).toBe(a.getSnapshot());
    expect(streamRequests()).toHaveLength(1);

    a.close();
    a.close(); // a handle releases once, however often it is closed
    await delay(50);
    expect(socketsClosed).toBe(0);
    expect(b.getSnapshot().connection).toBe('open');

    // Released and taken again in one tick (React StrictMode): the connection stays.
    b.close();
    const c = client.watch('j1');
    await delay(50);
    expect(socketsClosed).toBe(0);
    expect(c.getSnapshot().lastEventId).toBe(3);

    c.close();
    await waitFor(() => socketsClosed === 1);

    // A later watcher starts afresh.
    const d = client.watch('j1');
    watchers.push(d);
    await waitFor(() => d.getSnapshot().connection === 'closed');
    expect(d.getSnapshot().job?.status).toBe('completed');
    expect(streamRequests()).toHaveLength(2);

    // Another client is another page: its own connection.
    const other = createJobClient({ baseUrl: client.baseUrl });
    const elsewhere = other.watch('j1');
    watchers.push(elsewhere);
    expect(elsewhere.getSnapshot()).not.toBe(d.getSnapshot());
  });

  it('seeds the snapshot from status when the stream does not start at job_created', async () => {
    const client = await jobServer(
      [
        // Old events were pruned: the replay starts at 5.
        sendEvents(events.slice(4)),
        (req, res, after) => sendEvents(events.slice(after))(req, res),
      ],
      () => ({ ...upTo(4), ...SEED_COLUMNS }),
    );
    const watcher = client.watch('j1');
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().job?.status === 'completed');
    expect(watcher.getSnapshot().job).toEqual(upTo(8));
    expect(watcher.getSnapshot().job).not.toHaveProperty('current_step');
    expect(streamRequests().map((r) => r.headers['last-event-id'])).toEqual([undefined, '4']);
  });

  // The server checked every event with core's reduce before storing it, so the browser
  // only applies them; what it must still catch is an event that is not the next one
  // (lost, or of a type this client does not know: subscribeToJob drops those).
  const fifth = events[4] as JobEvent;
  /** Event 4 as a newer server could send it: a type this client does not know. */
  const unknownType = { ...events[3], type: 'job_paused', data: {} } as unknown as JobEvent;

  it.each([
    ['a gap (event 4 lost)', [...events.slice(0, 3), fifth]],
    ['an event type it does not know', [...events.slice(0, 3), unknownType, fifth]],
  ] as const)('recovers from %s by re-reading the status', async (_name, sent) => {
    const client = await jobServer(
      [
        sendEvents([...sent], false),
        (req, res, after) => sendEvents(events.slice(after))(req, res),
      ],
      () => upTo(5),
    );
    const watcher = client.watch('j1');
    const seen = track(watcher);
    await waitFor(() => watcher.getSnapshot().job?.status === 'completed');
    expect(watcher.getSnapshot().job).toEqual(upTo(8));
    // Nothing was folded out of order: 3, then the status at 5, then the rest.
    const versions = seen.map((s) => s.job?.version ?? 0);
    expect(versions).toContain(3);
    expect(versions).not.toContain(4);
    expect(streamRequests().map((r) => r.headers['last-event-id'])).toEqual([undefined, '5']);
  });

  it('gives up, closed with an error, when events do not fold even onto a fresh status', async () => {
    const client = await jobServer(
      // Event 5 comes after 3 on every connection, even after the status said 3.
      [sendEvents([...events.slice(0, 3), fifth]), sendEvents([fifth]), sendEvents([fifth])],
      () => upTo(3),
    );
    const watcher = client.watch('j1');
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    await delay(100);
    expect(watcher.getSnapshot().error).toMatchObject({ kind: 'validation' });
    expect(watcher.getSnapshot().job).toEqual(upTo(3));
    expect(streamRequests()).toHaveLength(2);
  });

  it('shows the connection error, then clears it once reconnected', async () => {
    const client = await jobServer([
      (_req, res) => problem(res, 503, 'store_unavailable', 'Down.'),
      (req, res) => {
        sendEvents(events.slice(0, 2), false)(req, res);
      },
    ]);
    const watcher = client.watch('j1');
    const seen = track(watcher);
    await waitFor(() => watcher.getSnapshot().lastEventId === 2);
    const errored = seen.find((s) => s.error);
    expect(errored?.error).toMatchObject({ status: 503, code: 'store_unavailable' });
    expect(watcher.getSnapshot().error).toBeNull();
    expect(watcher.getSnapshot().connection).toBe('open');
  });

  it('closes with the error when the job is not there', async () => {
    const client = await jobServer([(_req, res) => problem(res, 404, 'not_found', 'No job.')]);
    const watcher = client.watch('nope');
    watchers.push(watcher);
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    expect(watcher.getSnapshot().error).toMatchObject({ status: 404, code: 'not_found' });
  });
});
