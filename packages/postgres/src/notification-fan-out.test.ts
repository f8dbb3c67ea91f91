import { isJobstreamError, type JobEvent } from '@jobstream/core';
import { describe, expect, it } from 'vitest';
import { NotificationFanOut } from './notification-fan-out.js';
import type { SqlDriver } from './sql-driver.js';

// The fan-out's bookkeeping with a scripted driver; the real LISTEN path is covered by
// tests/fan-out.test.ts against PostgreSQL.
function harness(options: { failVersionOnce?: boolean; catchUpIntervalMs?: number } = {}) {
  const table: JobEvent[] = [];
  let notify: ((payload: string) => void) | null = null;
  let lose: ((error: unknown) => void) | null = null;
  let listens = 0;
  let failVersion = options.failVersionOnce ?? false;
  let gate: Promise<void> | null = null;
  let versionQueries = 0;
  const driver: SqlDriver = {
    query: async () => [],
    runScripts: async () => {},
    notify: async () => {},
    listen: async (_channel, onPayload, onLost) => {
      listens++;
      notify = onPayload;
      lose = onLost;
      return async () => {};
    },
    close: async () => {},
  };
  const event = (id: number) =>
    ({ id, jobId: 'j', type: 'job_started', at: new Date(0).toISOString(), data: {} }) as JobEvent;
  const fanOut = new NotificationFanOut({
    driver,
    readEvents: async (_job, after, limit) => {
      const rows = table.filter((e) => e.id > after).slice(0, limit);
      if (gate) await gate;
      return rows;
    },
    currentVersion: async () => {
      if (failVersion) {
        failVersion = false;
        throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      }
      return table.length;
    },
    currentVersions: async (ids) => {
      versionQueries++;
      return new Map(ids.map((id) => [id, table.length]));
    },
    reconnectDelayMs: 1,
    catchUpIntervalMs: options.catchUpIntervalMs ?? 0,
  });
  return {
    fanOut,
    append(n: number) {
      for (let i = 0; i < n; i++) table.push(event(table.length + 1));
      return table.length;
    },
    notify: (first: number, last: number) => notify?.(`${first}:${last}:j`),
    lose: () => lose?.(new Error('gone')),
    hold() {
      let release = () => {};
      gate = new Promise<void>((r) => {
        release = () => {
          gate = null;
          r();
        };
      });
      return release;
    },
    listens: () => listens,
    versionQueries: () => versionQueries,
  };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
};

describe('NotificationFanOut', () => {
  it('a notification that arrives while the rows are being read is not lost', async () => {
    const h = harness();
    const seen: number[] = [];
    await h.fanOut.subscribe('j', (e) => seen.push(e.id));
    const release = h.hold();
    h.notify(1, h.append(1)); // the read of event 1 is now in flight, held
    h.append(1);
    h.notify(2, 2); // arrives during that read
    release();
    await until(() => seen.length === 2);
    expect(seen).toEqual([1, 2]);
    await h.fanOut.close();
  });

  it('a failed first read leaves nothing behind: the next subscribe works', async () => {
    const h = harness({ failVersionOnce: true });
    await expect(h.fanOut.subscribe('j', () => {})).rejects.toSatisfy((e) =>
      isJobstreamError(e, 'store_unavailable'),
    );
    expect(h.fanOut.feedCount).toBe(0);
    const seen: number[] = [];
    const off = await h.fanOut.subscribe('j', (e) => seen.push(e.id));
    h.notify(1, h.append(1));
    await until(() => seen.length === 1);
    expect(seen).toEqual([1]);
    off();
    expect(h.fanOut.feedCount).toBe(0);
    await h.fanOut.close();
  });

  it('after the connection is lost it listens again and reads what it missed', async () => {
    const h = harness();
    const seen: number[] = [];
    await h.fanOut.subscribe('j', (e) => seen.push(e.id));
    h.lose();
    h.append(3); // committed while nobody listened: no notification
    await until(() => seen.length === 3);
    expect(seen).toEqual([1, 2, 3]);
    expect(h.listens()).toBe(2);
    expect(h.fanOut.reconnects).toBe(1);
    await h.fanOut.close();
  });

  it("announce() wakes this store's subscribers without waiting for the notification", async () => {
    const h = harness();
    const seen: number[] = [];
    await h.fanOut.subscribe('j', (e) => seen.push(e.id));
    h.fanOut.announce('j', h.append(2));
    await until(() => seen.length === 2);
    // The notification that comes back later finds nothing new: no duplicates.
    h.notify(1, 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([1, 2]);
    await h.fanOut.close();
  });

  it('the catch-up poll delivers events that no notification announced, once', async () => {
    const h = harness({ catchUpIntervalMs: 10 });
    const seen: number[] = [];
    const off = await h.fanOut.subscribe('j', (e) => seen.push(e.id));
    h.append(3); // a writer that died before notifying
    await until(() => seen.length === 3);
    expect(seen).toEqual([1, 2, 3]);
    expect(h.fanOut.catchUps).toBe(1);
    h.notify(1, 3); // a late notification repeats nothing
    await new Promise((r) => setTimeout(r, 40));
    expect(seen).toEqual([1, 2, 3]);
    expect(h.fanOut.catchUps).toBe(1);
    // Without subscribers the poll stops.
    off();
    await new Promise((r) => setTimeout(r, 30));
    const polls = h.versionQueries();
    await new Promise((r) => setTimeout(r, 50));
    expect(h.versionQueries()).toBe(polls);
    await h.fanOut.close();
  });

  it('with the poll off, an unannounced event waits for the next notification', async () => {
    const h = harness({ catchUpIntervalMs: 0 });
    const seen: number[] = [];
    await h.fanOut.subscribe('j', (e) => seen.push(e.id));
    h.append(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
    expect(h.versionQueries()).toBe(0);
    h.notify(2, h.append(1));
    await until(() => seen.length === 2);
    expect(seen).toEqual([1, 2]);
    await h.fanOut.close();
  });
});
