/** An in-process publish/subscribe hub whose subscribers are async iterators (GraphQL subscription sources). */

export interface SubscribeOptions<T> {
  /** Delivered before any live event (e.g. the current state for a late subscriber). */
  readonly first?: readonly T[];
  /** The iterator ends after delivering an event for which this is true. */
  readonly last?: (event: T) => boolean;
}

export class EventHub<T> {
  private readonly listeners = new Set<(event: T) => void>();

  publish(event: T): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Live events matching `filter`, each subscriber with its own queue, until the consumer stops. */
  subscribe(filter: (event: T) => boolean = () => true, opts: SubscribeOptions<T> = {}): AsyncGenerator<T> {
    const queue: T[] = [...(opts.first ?? [])];
    let wake: (() => void) | null = null;
    const listener = (event: T) => {
      if (!filter(event)) return;
      queue.push(event);
      wake?.();
    };
    this.listeners.add(listener);
    const listeners = this.listeners;
    return (async function* () {
      try {
        for (;;) {
          while (queue.length) {
            const event = queue.shift()!;
            yield event;
            if (opts.last?.(event)) return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        }
      } finally {
        listeners.delete(listener);
      }
    })();
  }
}
