/**
 * Drives the model's time-based work (schedules, transfers, pod resync) between requests: calls
 * `tick` every `everyMs` of the given clock's time until stopped.
 */
import type { Clock } from '@protector/platform';

/** Starts ticking; the returned function stops it (no tick runs after it returns). */
export function startTicker(clock: Clock, everyMs: number, tick: () => void): () => void {
  const stop = new AbortController();
  void (async () => {
    for (;;) {
      try {
        await clock.sleep(everyMs, stop.signal);
      } catch {
        return; // stopped while waiting
      }
      if (stop.signal.aborted) return; // stopped just as the wait ended
      tick();
    }
  })();
  return () => stop.abort();
}
