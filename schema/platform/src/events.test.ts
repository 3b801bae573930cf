import { describe, expect, it } from 'vitest';
import { EventHub } from './events.js';

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
});
