/**
 * Time as a dependency. Leases, schedules, transfers and retries read `clock.now()` and wait with
 * `clock.sleep()`, so production passes `systemClock` and a test passes a `ManualClock` and moves time
 * on with `advance()` instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` of this clock's time; rejects with the signal's reason when it aborts.
   * `background: true` is for background loops: the wait alone does not keep the process alive.
   */
  sleep(ms: number, signal?: AbortSignal, opts?: { background?: boolean }): Promise<void>;
}

const aborted = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : new Error('The wait was aborted.');

/** The wall clock and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal, opts) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(aborted(signal));
      const done = () => {
        signal?.removeEventListener('abort', stop);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      if (opts?.background) timer.unref();
      const stop = () => {
        clearTimeout(timer);
        reject(aborted(signal!));
      };
      signal?.addEventListener('abort', stop, { once: true });
    }),
};

interface Sleeper {
  readonly at: number;
  readonly resolve: () => void;
}

/** A clock that moves only when told to: `advance(ms)` wakes every sleeper that falls due, in order. */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  /** How many sleeps are waiting (lets a test wait until the code under test is parked). */
  get waiting(): number {
    return this.sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    return new Promise<void>((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.current + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', stop);
          resolve();
        },
      };
      const stop = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(aborted(signal!));
      };
      signal?.addEventListener('abort', stop, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /**
   * Moves time on by `ms`, waking sleepers in the order they fall due; between wake-ups it yields to
   * the event loop, so code that sleeps again within the window is woken too.
   */
  async advance(ms: number): Promise<void> {
    const until = this.current + Math.max(0, ms);
    for (;;) {
      const next = this.sleepers.filter((s) => s.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.current = Math.max(this.current, next.at);
      this.sleepers = this.sleepers.filter((s) => s !== next);
      next.resolve();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.current = until;
  }
}

/**
 * Runs `tick` every `ms` of `clock` time until `signal` aborts, as a background loop (it does not keep
 * the process alive). A tick never runs after the abort, and ticks never overlap: the next wait starts
 * when the tick returned.
 */
export function every(clock: Clock, ms: number, signal: AbortSignal, tick: () => void | Promise<void>): void {
  void (async () => {
    for (;;) {
      try {
        await clock.sleep(ms, signal, { background: true });
      } catch {
        return;
      }
      if (signal.aborted) return;
      try {
        await tick();
      } catch {
        // A tick reports its own failures; the loop goes on.
      }
    }
  })();
}

/**
 * A Keystone time (`expires_at`, `issued_at`) in ms since the epoch. Keystone writes most times with a
 * `Z`, but the expiry of a token that ends with its application credential without any zone; every
 * Keystone time is UTC, so one without a zone is read as UTC (never as the host's local time).
 */
export function keystoneTime(text: string): number {
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text}Z`;
  return Date.parse(zoned);
}

/**
 * The waits of a poll that adapts: it asks again after a tenth of `intervalMs` (at least 10 ms), then
 * half as long again each time, up to `intervalMs`. A state that is reached soon is seen soon; one that
 * takes long is asked about no more often than `intervalMs`. The n-th wait (from 0).
 */
export function adaptiveDelay(intervalMs: number, attempt: number): number {
  const first = Math.max(10, intervalMs / 10);
  return Math.min(intervalMs, Math.round(first * 1.5 ** attempt));
}

/** One reading of work that reports its progress: when (ms, this host's clock) and how far (0..1). */
export interface ProgressReading {
  readonly at: number;
  readonly progress: number;
}

/**
 * The wait before asking again about work that reports its progress (a replication transfer): once
 * two readings show it moving, the time it needs to finish at that rate (at least 10 ms, at most
 * `intervalMs`), so its end is seen when it comes rather than up to `intervalMs` late; before that,
 * {@link adaptiveDelay}. Rates come from this host's clock only: the array's clock may differ.
 */
export function progressDelay(
  intervalMs: number,
  attempt: number,
  before: ProgressReading | null,
  now: ProgressReading,
): number {
  if (!before || now.progress <= before.progress || now.at <= before.at || now.progress >= 1)
    return adaptiveDelay(intervalMs, attempt);
  const rate = (now.progress - before.progress) / (now.at - before.at);
  return Math.min(intervalMs, Math.max(10, Math.ceil((1 - now.progress) / rate)));
}
