import { describe, expect, it } from 'vitest';
import { EventHub, FANOUT_CHUNK } from './events.js';

describe('EventHub', () => {
  it('delivers the first events, then live matching ones in order, and ends after the last', async () => {
    const hub = new EventHub<number>();
    const it = hub.subscribe((n) => n % 2 === 0, { first: [0], last: (n) => n >= 6 });
    const seen: number[] = [];
    const done = (async () => {
      for await (const n of it) seen.push(n);
    })();
    for (const n of [1, 2, 3, 4, 6, 8]) hub.publish(n);
    await done;
    expect(seen).toEqual([0, 2, 4, 6]);
  });

  it('stops listening when the consumer returns', async () => {
    const hub = new EventHub<string>();
    const it = hub.subscribe();
    hub.publish('a');
    expect((await it.next()).value).toBe('a');
    await it.return(undefined);
    hub.publish('b');
    expect((await it.next()).done).toBe(true);
  });

  it('delivers to many subscribers a chunk per turn, every event to each, in publishing order', async () => {
    const hub = new EventHub<number>();
    const n = FANOUT_CHUNK * 4 + 7;
    const seen = Array.from({ length: n }, () => [] as number[]);
    const subs = seen.map((got) => {
      const it = hub.subscribe();
      return (async () => {
        for await (const e of it) {
          got.push(e);
          if (e === 3) return;
        }
      })();
    });
    // Let every subscriber start listening.
    await new Promise((r) => setImmediate(r));
    let delivered = 0;
    const spy = hub.subscribe();
    void (async () => {
      for await (const _ of spy) delivered++;
    })();
    hub.publish(1);
    hub.publish(2);
    hub.publish(3);
    await Promise.all(subs);
    expect(seen.every((got) => got.join() === '1,2,3')).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(delivered).toBe(3);
    await spy.return(undefined);
  });
});
