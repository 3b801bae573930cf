import { describe, expect, it } from 'vitest';
import { Turns } from './concurrency.js';

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
