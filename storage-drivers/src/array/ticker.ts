/**
 * Drives the model's time-based work (schedules, transfers, pod resync) between requests: calls
 * `tick` every `everyMs` of the given clock's time until stopped, as a background loop (it does not
 * keep the process alive on its own).
 */
import { type Clock, every } from '@protector/platform';

/** Starts ticking; the returned function stops it (no tick runs after it returns). */
export function startTicker(clock: Clock, everyMs: number, tick: () => void): () => void {
  const stop = new AbortController();
  every(clock, everyMs, stop.signal, tick);
  return () => stop.abort();
}
