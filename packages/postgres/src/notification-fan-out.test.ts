import { isJobstreamError, type JobEvent } from '@jobstream/core';
import { describe, expect, it } from 'vitest';
import { NotificationFanOut } from './notification-fan-out.js';
import type { SqlDriver } from './sql-driver.js';

// The fan-out's bookkeeping with a scripted driver; the real LISTEN path is covered by
// tests/fan-out.test.ts against PostgreSQL.
function harness(options: { failVersionOnce?: boolean } = {}) {
  const table: JobEvent[] = [];
  let notify: ((payload: string) => void) | null = null;
  let lose: ((error: unknown) => void) | null = null;
  let listens = 0;
  let failVersion = options.failVersionOnce ?? false;
  let gate: Promise<void> | null = null;
  const driver: SqlDriver = {
    query: async () => [],
    runScripts: async () => {},
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
    reconnectDelayMs: 1,
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
});
