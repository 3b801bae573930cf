import { describe, expect, it } from 'vitest';
import { batchLoader, lazily, limiter, mapLimit } from './concurrency.js';

describe('batchLoader', () => {
  it('loads the keys asked for in one turn together, each once, and misses as undefined', async () => {
    const calls: (readonly string[])[] = [];
    const load = batchLoader(async (keys: readonly string[]) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.toUpperCase()]));
    });
    const first = await Promise.all([load('a'), load('b'), load('a'), load('missing')]);
    expect(first).toEqual(['A', 'B', 'A', undefined]);
    expect(calls).toEqual([['a', 'b', 'missing']]);
    // A later turn loads only what is new.
    expect(await Promise.all([load('b'), load('c')])).toEqual(['B', 'C']);
    expect(calls).toEqual([['a', 'b', 'missing'], ['c']]);
  });

  it('fails every key of a failed batch, and loads them again when asked again', async () => {
    let fail = true;
    const load = batchLoader(async (keys: readonly string[]) => {
      if (fail) throw new Error('database is down');
      return new Map(keys.map((k) => [k, 1]));
    });
    await expect(Promise.all([load('a'), load('b')])).rejects.toThrow('database is down');
    fail = false;
    expect(await load('a')).toBe(1);
  });
});

describe('limiter', () => {
  it('runs at most its limit at once, the rest in order as turns free, through failures', async () => {
    const run = limiter(2);
    let now = 0;
    let most = 0;
    const order: number[] = [];
    const results = await Promise.allSettled(
      [0, 1, 2, 3, 4].map((i) =>
        run(async () => {
          now++;
          most = Math.max(most, now);
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          now--;
          if (i === 1) throw new Error('boot failed');
          return i;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    // Every turn was given back.
    expect(await Promise.all([run(async () => 'a'), run(async () => 'b'), run(async () => 'c')])).toEqual([
      'a',
      'b',
      'c',
    ]);
  });
});

describe('lazily', () => {
  it('loads once when first asked for, shares the answer, and tries again after a failure', async () => {
    let calls = 0;
    const load = lazily(async () => {
      calls++;
      if (calls === 1) throw new Error('array busy');
      return calls;
    });
    expect(calls).toBe(0);
    await expect(load()).rejects.toThrow('array busy');
    expect(await Promise.all([load(), load()])).toEqual([2, 2]);
    expect(await load()).toBe(2);
    expect(calls).toBe(2);
  });
});

describe('mapLimit', () => {
  it('keeps the input order with at most `limit` in flight', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 3, 2], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 30, 20]);
    expect(peak).toBe(2);
  });
});
