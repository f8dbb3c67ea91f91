import { describe, expect, it } from 'vitest';
import { CommitNotifier } from './commit-notifier.js';
import type { SqlDriver } from './sql-driver.js';

// The batching and retry bookkeeping with a scripted driver; tests/fan-out.test.ts sends
// real notifications between two stores on PostgreSQL.
function harness(minGapMs = 0) {
  const sent: string[][] = [];
  let gate: Promise<void> | null = null;
  let failures = 0;
  const driver: SqlDriver = {
    query: async () => [],
    notify: async (_channel, payloads) => {
      if (gate) await gate;
      if (failures > 0) {
        failures--;
        throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      }
      sent.push([...payloads]);
    },
    runScripts: async () => {},
    listen: async () => async () => {},
    close: async () => {},
  };
  const notifier = new CommitNotifier({ driver, prepared: false, retryDelayMs: 1, minGapMs });
  return {
    notifier,
    sent,
    failNext(n: number) {
      failures = n;
    },
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
  };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
};

describe('CommitNotifier', () => {
  it('sends at once when idle, and batches what commits while a send is on its way', async () => {
    const h = harness();
    const release = h.hold();
    h.notifier.notify('a', 2, 2); // goes out at once (held on the wire)
    h.notifier.notify('a', 3, 3);
    h.notifier.notify('b', 2, 4);
    h.notifier.notify('a', 4, 5);
    release();
    await until(() => h.sent.length === 2);
    // One statement for the three commits behind the first, merged per job.
    expect(h.sent).toEqual([['2:2:a'], ['3:5:a', '2:4:b']]);
    expect(h.notifier.batches).toBe(2);
    await h.notifier.close();
  });

  it('keeps the pointers through a failure and sends them merged with newer ones', async () => {
    const h = harness();
    h.failNext(2);
    h.notifier.notify('a', 2, 2);
    h.notifier.notify('a', 3, 3);
    await until(() => h.sent.length === 1);
    expect(h.sent).toEqual([['2:3:a']]);
    await h.notifier.close();
  });

  it('close() sends what is pending, and gives up after one more try if it cannot', async () => {
    const h = harness();
    const release = h.hold();
    h.notifier.notify('a', 2, 2);
    h.notifier.notify('b', 2, 2);
    const closing = h.notifier.close();
    release();
    await closing;
    expect(h.sent).toEqual([['2:2:a'], ['2:2:b']]);

    const down = harness();
    down.failNext(1_000_000);
    down.notifier.notify('a', 2, 2);
    await new Promise((r) => setTimeout(r, 20)); // a few retries
    await down.notifier.close();
    expect(down.sent).toEqual([]);
  });

  it('spaces sends by the least gap, so a burst of commits shares one statement', async () => {
    const h = harness(100);
    h.notifier.notify('a', 2, 2); // after a quiet spell: at once
    await until(() => h.sent.length === 1);
    h.notifier.notify('a', 3, 3);
    h.notifier.notify('b', 2, 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.sent).toEqual([['2:2:a']]);
    await until(() => h.sent.length === 2);
    expect(h.sent).toEqual([['2:2:a'], ['3:3:a', '2:2:b']]);
    await h.notifier.close();
  });
});
