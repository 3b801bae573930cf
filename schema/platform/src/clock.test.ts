import { describe, expect, it } from 'vitest';
import { adaptiveDelay, every, keystoneTime, ManualClock, progressDelay, systemClock } from './clock.js';

describe('ManualClock', () => {
  it('wakes sleepers in due order when time is advanced, including sleeps started meanwhile', async () => {
    const clock = new ManualClock(1_000);
    const woke: string[] = [];
    void clock.sleep(300).then(() => woke.push(`b@${clock.now()}`));
    void clock.sleep(100).then(async () => {
      woke.push(`a@${clock.now()}`);
      await clock.sleep(100);
      woke.push(`c@${clock.now()}`);
    });
    expect(clock.waiting).toBe(2);
    await clock.advance(250);
    expect(woke).toEqual(['a@1100', 'c@1200']);
    expect(clock.now()).toBe(1_250);
    await clock.advance(50);
    expect(woke).toEqual(['a@1100', 'c@1200', 'b@1300']);
    expect(clock.waiting).toBe(0);
  });

  it('rejects a sleep whose signal aborts, and forgets it', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const slept = clock.sleep(1_000, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(slept).rejects.toThrow('stopped');
    expect(clock.waiting).toBe(0);
  });
});

describe('systemClock', () => {
  it('sleeps on real timers and can be aborted', async () => {
    const start = systemClock.now();
    await systemClock.sleep(5);
    expect(systemClock.now()).toBeGreaterThanOrEqual(start);
    const ac = new AbortController();
    const slept = systemClock.sleep(60_000, ac.signal);
    ac.abort();
    await expect(slept).rejects.toThrow();
  });
});

describe('every', () => {
  it('ticks once per interval of clock time, never after the abort', async () => {
    const clock = new ManualClock(0);
    const ac = new AbortController();
    const ticks: number[] = [];
    every(clock, 10, ac.signal, () => {
      ticks.push(clock.now());
    });
    await clock.advance(35);
    expect(ticks).toEqual([10, 20, 30]);
    ac.abort();
    await clock.advance(50);
    expect(ticks).toEqual([10, 20, 30]);
  });
});

describe('keystoneTime', () => {
  it('reads a Keystone time with or without a zone as UTC', () => {
    expect(keystoneTime('2026-12-02T10:00:00.000000Z')).toBe(Date.UTC(2026, 11, 2, 10));
    expect(keystoneTime('2026-12-02T10:00:00.000000')).toBe(Date.UTC(2026, 11, 2, 10));
    expect(keystoneTime('2026-12-02T10:00:00+01:00')).toBe(Date.UTC(2026, 11, 2, 9));
    expect(Number.isNaN(keystoneTime('not a time'))).toBe(true);
  });
});

describe('adaptiveDelay', () => {
  it('starts at a tenth of the interval and grows by half each time up to the interval', () => {
    expect(Array.from({ length: 8 }, (_, i) => adaptiveDelay(2000, i))).toEqual([
      200, 300, 450, 675, 1013, 1519, 2000, 2000,
    ]);
    expect(adaptiveDelay(50, 0)).toBe(10);
  });
});

describe('progressDelay', () => {
  it('waits until the work should be done at the rate two readings show, within 10 ms and the interval', () => {
    // 0.2 -> 0.5 in 90 ms: 0.5 left takes 150 ms.
    expect(progressDelay(200, 3, { at: 1000, progress: 0.2 }, { at: 1090, progress: 0.5 })).toBe(150);
    expect(progressDelay(200, 3, { at: 1000, progress: 0.1 }, { at: 1010, progress: 0.11 })).toBe(200);
    expect(progressDelay(200, 3, { at: 1000, progress: 0.5 }, { at: 1100, progress: 0.999 })).toBe(10);
  });
  it('falls back to the adaptive wait with one reading, no movement or a clock going back', () => {
    expect(progressDelay(200, 0, null, { at: 1000, progress: 0.5 })).toBe(adaptiveDelay(200, 0));
    expect(progressDelay(200, 4, { at: 1000, progress: 0.5 }, { at: 1100, progress: 0.5 })).toBe(
      adaptiveDelay(200, 4),
    );
    expect(progressDelay(200, 4, { at: 1100, progress: 0.2 }, { at: 1000, progress: 0.5 })).toBe(
      adaptiveDelay(200, 4),
    );
  });
});
