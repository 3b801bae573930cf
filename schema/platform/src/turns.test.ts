import { ProtectorError } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import { InFlight, Turns, withTurn } from './concurrency.js';

describe('Turns: requests at one site at once', () => {
  it('lets `max` in at once, queues the rest in order, and refuses one that waited too long', async () => {
    const turns = new Turns(2, 1000);
    expect(await turns.take(50)).toBe(true);
    expect(await turns.take(50)).toBe(true);
    const order: string[] = [];
    const third = turns.take(1000).then((ok) => order.push(`third ${ok}`));
    const fourth = turns.take(1000).then((ok) => order.push(`fourth ${ok}`));
    expect(await turns.take(20)).toBe(false); // no turn within 20 ms
    turns.give(10);
    await third;
    turns.give(10);
    await fourth;
    expect(order).toEqual(['third true', 'fourth true']);
  });

  it('halves the limit after a slow request and grows it back by about one per limit requests', async () => {
    const turns = new Turns(8, 100);
    expect(turns.limit).toBe(8);
    await turns.take(10);
    turns.give(500); // slow
    expect(turns.limit).toBe(4);
    await turns.take(10);
    turns.give(500);
    expect(turns.limit).toBe(2);
    for (let i = 0; i < 8; i++) {
      await turns.take(10);
      turns.give(5);
    }
    expect(turns.limit).toBeGreaterThanOrEqual(4);
    expect(turns.limit).toBeLessThanOrEqual(8);
    // Never below one: a site that is slow still gets one request at a time.
    for (let i = 0; i < 10; i++) {
      await turns.take(10);
      turns.give(500);
    }
    expect(turns.limit).toBe(1);
  });
});

describe('InFlight: identical work in flight, done once', () => {
  it('runs one start for callers of one key; each of several gets its own copy, a lone caller the result', async () => {
    const inFlight = new InFlight<{ n: number }>();
    let starts = 0;
    const start = async () => {
      const n = ++starts;
      await new Promise((r) => setTimeout(r, 10));
      return { n };
    };
    const [a, b] = await Promise.all([inFlight.run('k', start), inFlight.run('k', start)]);
    expect(starts).toBe(1);
    expect(a).toEqual({ n: 1 });
    expect(b).toEqual({ n: 1 });
    expect(a).not.toBe(b);
    a.n = 99; // a copy: the other caller's answer is untouched
    expect(b.n).toBe(1);
    // Once done, the key runs again; another key runs on its own.
    const [c, d] = await Promise.all([inFlight.run('k', start), inFlight.run('other', start)]);
    expect(starts).toBe(3);
    expect([c.n, d.n].sort()).toEqual([2, 3]);
  });
});

describe('InFlight: a joiner whose outcome it may not take', () => {
  it('runs its own start when `again` names the outcome it joined; the starter never does', async () => {
    const inFlight = new InFlight<string>({ copies: false });
    const starts: string[] = [];
    const start = (who: string, answer: string) => async () => {
      starts.push(who);
      await new Promise((r) => setTimeout(r, 10));
      return answer;
    };
    const refused = (o: PromiseSettledResult<string>) => o.status === 'fulfilled' && o.value === 'refused';
    const got = await Promise.all([
      inFlight.run('k', start('a', 'refused'), refused),
      inFlight.run('k', start('b', 'fine'), refused),
      inFlight.run('k', start('c', 'fine')), // no `again`: takes what it joined
    ]);
    expect(got).toEqual(['refused', 'fine', 'refused']);
    expect(starts).toEqual(['a', 'b']);

    // A rejection too; a joiner whose outcome `again` does not name gets the rejection.
    const failing = async () => {
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('refused');
    };
    const own = async () => 'own';
    const rejected = (o: PromiseSettledResult<string>) => o.status === 'rejected';
    const [first, second, third] = await Promise.allSettled([
      inFlight.run('r', failing, rejected),
      inFlight.run('r', own, rejected),
      inFlight.run('r', own, () => false),
    ]);
    expect(first).toMatchObject({ status: 'rejected' });
    expect(second).toEqual({ status: 'fulfilled', value: 'own' });
    expect(third).toMatchObject({ status: 'rejected' });
  });

  it('hands every waiter the same result with `copies: false`', async () => {
    const inFlight = new InFlight<{ n: number }>({ copies: false });
    const start = async () => {
      await new Promise((r) => setTimeout(r, 10));
      return { n: 1 };
    };
    const [a, b] = await Promise.all([inFlight.run('k', start), inFlight.run('k', start)]);
    expect(a).toBe(b);
  });
});

describe('withTurn: a site that runs out of time', () => {
  const timeout = () => Promise.reject(new ProtectorError('SITE_TIMEOUT', "Site 'boston' did not answer."));

  it('is OVERLOADED (refused whole) when other requests of this gateway were at the site', async () => {
    const turns = new Turns(4, 1000);
    let release = () => {};
    const other = withTurn(
      turns,
      100,
      'boston',
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    await expect(withTurn(turns, 100, 'boston', timeout)).rejects.toMatchObject({
      code: 'OVERLOADED',
      message:
        "Site 'boston' did not answer in time while answering 1 other requests of this gateway; retry in 1 s.",
    });
    release();
    await other;
    expect(turns.inUse).toBe(0);
  });

  it('stays SITE_TIMEOUT when it was the only request there (the site is slow or hung)', async () => {
    const turns = new Turns(4, 1000);
    await expect(withTurn(turns, 100, 'boston', timeout)).rejects.toMatchObject({ code: 'SITE_TIMEOUT' });
    await expect(withTurn(null, 100, 'boston', timeout)).rejects.toMatchObject({ code: 'SITE_TIMEOUT' });
  });
});
