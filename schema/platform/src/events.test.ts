import { describe, expect, it } from 'vitest';
import { EventHub, FANOUT_CHUNK, mapEvents, SKIP_EVENT } from './events.js';

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

  it('gives a subscriber the sweep has not reached every event it is owed at once, in order', async () => {
    const hub = new EventHub<number>();
    const n = FANOUT_CHUNK * 3;
    // The turn of the event loop each event arrived in, per subscriber (a ticker counts the turns).
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const arrivals = Array.from({ length: n }, () => [] as [number, number][]);
    const subs = arrivals.map((got) => {
      const it = hub.subscribe();
      return (async () => {
        for await (const e of it) {
          got.push([e, turn]);
          if (e === 2) return;
        }
      })();
    });
    await new Promise((r) => setImmediate(r));
    hub.publish(1); // the first chunk gets it now, the rest in later turns
    hub.publish(2); // published while the sweep is under way
    await Promise.all(subs);
    ticking = false;
    expect(arrivals.every((got) => got.map(([e]) => e).join() === '1,2')).toBe(true);
    const together = arrivals.filter((got) => got[0]![1] === got[1]![1]).length;
    // The first chunk had 1 before 2 was published; every later subscriber got both in one turn.
    expect(together).toBe(n - FANOUT_CHUNK);
  });

  it('does not deliver to a subscriber that stopped while a sweep was under way', async () => {
    const hub = new EventHub<number>();
    const its = Array.from({ length: FANOUT_CHUNK * 2 }, () => hub.subscribe());
    const last = its.at(-1)!;
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of last) got.push(e);
    })();
    const others = its.slice(0, -1).map(async (it) => {
      for await (const e of it) if (e === 2) return;
    });
    await new Promise((r) => setImmediate(r));
    hub.publish(1);
    await last.return(undefined); // stops before the sweep reaches it
    hub.publish(2);
    await Promise.all(others);
    await reading;
    expect(got).toEqual([]);
  });

  it("shares the turn's deliveries among hubs: a second hub published to in the same turn waits", async () => {
    const a = new EventHub<number>();
    const b = new EventHub<number>();
    const got = { a: 0, b: 0 };
    const readers = [
      ...Array.from({ length: FANOUT_CHUNK }, () => a.subscribe()),
      ...Array.from({ length: 10 }, () => b.subscribe()),
    ].map((it, i) =>
      (async () => {
        for await (const _ of it) {
          if (i < FANOUT_CHUNK) got.a++;
          else got.b++;
          return;
        }
      })(),
    );
    await new Promise((r) => setImmediate(r)); // a fresh turn, with its whole budget
    a.publish(1);
    b.publish(1);
    await Promise.resolve();
    expect(got).toEqual({ a: FANOUT_CHUNK, b: 0 });
    await Promise.all(readers);
    expect(got).toEqual({ a: FANOUT_CHUNK, b: 10 });
  });

  it('ends every subscriber after the events it was owed; a later subscriber ends at once', async () => {
    let empty = 0;
    const hub = new EventHub<number>({ whenEmpty: () => empty++ });
    const its = Array.from({ length: FANOUT_CHUNK + 3 }, () => hub.subscribe());
    const all = its.map(async (it) => {
      const seen: number[] = [];
      for await (const e of it) seen.push(e);
      return seen.join();
    });
    await new Promise((r) => setImmediate(r));
    hub.publish(1);
    hub.publish(2);
    hub.end();
    expect(new Set(await Promise.all(all))).toEqual(new Set(['1,2']));
    expect(empty).toBe(1);
    expect(await hub.subscribe().next()).toEqual({ done: true, value: undefined });
  });

  it('ends a subscriber that is waiting for an event', async () => {
    const hub = new EventHub<number>();
    const it = hub.subscribe();
    const waiting = it.next();
    hub.end();
    expect(await waiting).toEqual({ done: true, value: undefined });
  });

  it('tells when its last subscriber left', async () => {
    let empty = 0;
    const hub = new EventHub<number>({ whenEmpty: () => empty++ });
    const one = hub.subscribe();
    const two = hub.subscribe();
    await one.return(undefined);
    expect([empty, hub.size]).toEqual([0, 1]);
    const waiting = two.next();
    await two.return(undefined);
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect([empty, hub.size]).toEqual([1, 0]);
  });

  it('makes the deliveries of a fed hub after those of the others in each turn', async () => {
    const fed = new EventHub<number>({ fed: true });
    const feeding = new EventHub<number>();
    const order: string[] = [];
    const read = (hub: EventHub<number>, name: string, n: number) =>
      Array.from({ length: n }, () => hub.subscribe()).map(async (it) => {
        for await (const _ of it) {
          order.push(name);
          return;
        }
      });
    const readers = [...read(fed, 'fed', FANOUT_CHUNK * 2), ...read(feeding, 'feeding', 10)];
    await new Promise((r) => setImmediate(r));
    fed.publish(1); // the first chunk now, the rest waits for the next turns
    feeding.publish(1); // no budget left in this turn: it waits too, but goes first in the next
    await Promise.all(readers);
    const firstFeeding = order.indexOf('feeding');
    expect(firstFeeding).toBe(FANOUT_CHUNK);
    expect(order.slice(firstFeeding, firstFeeding + 10)).toEqual(Array(10).fill('feeding'));
  });
});

describe('mapEvents', () => {
  it('maps, leaves out skipped events, and closes its source when closed or when the function throws', async () => {
    const hub = new EventHub<number>();
    const mapped = mapEvents(hub.subscribe(), (n) => (n === 2 ? SKIP_EVENT : n * 10));
    hub.publish(1);
    hub.publish(2);
    hub.publish(3);
    expect((await mapped.next()).value).toBe(10);
    expect((await mapped.next()).value).toBe(30);
    await mapped.return(undefined);
    expect(hub.size).toBe(0);

    const failing = mapEvents(hub.subscribe(), () => {
      throw new Error('refused');
    });
    hub.publish(4);
    await expect(failing.next()).rejects.toThrow('refused');
    expect(hub.size).toBe(0);
    expect((await failing.next()).done).toBe(true);
  });
});
