import type { JobEvent } from '@jobstream/core';
import { describe, expect, it } from 'vitest';
import { type ChannelLike, LiveEvents } from '../src/live-events.js';

// The Realtime path's bookkeeping, with a channel driven by the test (Supabase Realtime
// itself cannot run here). The events come from an in-memory "table"; what is checked is
// that Realtime rows and polling together deliver each id once and in order.
function harness() {
  const table: JobEvent[] = [];
  let onRow: ((payload: { new: Record<string, unknown> }) => void) | null = null;
  let onStatus: ((status: string) => void) | null = null;
  let closed = 0;
  const channel: ChannelLike = {
    on(_type, _filter, callback) {
      onRow = callback;
      return channel;
    },
    subscribe(callback) {
      onStatus = callback ?? null;
      return channel;
    },
  };
  const event = (id: number): JobEvent =>
    ({ id, jobId: 'j', type: 'job_started', at: new Date(0).toISOString(), data: {} }) as JobEvent;
  const live = new LiveEvents({
    readEvents: async (_job, after, limit) => table.filter((e) => e.id > after).slice(0, limit),
    currentVersion: async () => table.length,
    rowToEvent: (_job, row) => (row.malformed ? null : event(Number(row.seq))),
    openChannel: () => channel,
    closeChannel: () => {
      closed++;
    },
    pollIntervalMs: 60_000,
    safetyPollIntervalMs: 60_000,
  });
  return {
    live,
    append(n: number) {
      for (let i = 0; i < n; i++) table.push(event(table.length + 1));
    },
    row: (seq: number, malformed = false) => onRow?.({ new: { seq, malformed } }),
    status: (s: string) => onStatus?.(s),
    closed: () => closed,
  };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('LiveEvents (Realtime with polling repair)', () => {
  it('delivers Realtime rows in order, fills a gap from the table and drops repeats', async () => {
    const h = harness();
    h.append(2);
    const seen: number[] = [];
    const off = await h.live.subscribe('j', (e) => seen.push(e.id));
    h.status('SUBSCRIBED');
    await tick();
    h.append(1);
    h.row(3);
    h.row(3);
    h.append(3); // 4, 5, 6: Realtime loses 4 and 5
    h.row(6);
    await tick();
    h.row(5);
    expect(seen).toEqual([3, 4, 5, 6]);
    expect(h.live.realtimeJobs).toBe(1);
    off();
    expect(h.closed()).toBe(1);
    expect(h.live.listenerCount).toBe(0);
  });

  it('reads a row it cannot parse from the table instead of dropping it', async () => {
    const h = harness();
    const seen: number[] = [];
    const off = await h.live.subscribe('j', (e) => seen.push(e.id));
    h.status('SUBSCRIBED');
    await tick();
    h.append(1);
    h.row(1, true);
    await tick();
    expect(seen).toEqual([1]);
    off();
  });

  it('catches up when the channel (re)subscribes after an outage', async () => {
    const h = harness();
    const seen: number[] = [];
    const off = await h.live.subscribe('j', (e) => seen.push(e.id));
    h.status('CHANNEL_ERROR');
    h.append(4);
    expect(seen).toEqual([]);
    h.status('SUBSCRIBED');
    await tick();
    expect(seen).toEqual([1, 2, 3, 4]);
    off();
    h.live.close();
  });
});
