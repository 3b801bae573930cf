import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('lets a caller burst, then holds it to its rate, without slowing anyone else', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, clock);
    expect([1, 2, 3].map(() => limiter.take('a'))).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(1); // retry in 1 s
    expect(limiter.take('b')).toBe(0);
    await clock.advance(500);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1);
  });

  it('is off at 0 requests per second', () => {
    const limiter = new RateLimiter({ perSecond: 0, burst: 1 });
    expect(Array.from({ length: 1000 }, () => limiter.take('a')).every((w) => w === 0)).toBe(true);
  });
});
