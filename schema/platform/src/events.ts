/** An in-process publish/subscribe hub whose subscribers are async iterators (GraphQL subscription sources). */

export interface SubscribeOptions<T> {
  /**
   * Delivered before any live event (e.g. the current state for a late subscriber). Live events
   * are kept from the moment of subscribing; when `first` is a promise, they wait for it, and are
   * checked against the filter again before delivery (so the filter may depend on what it read).
   */
  readonly first?: readonly T[] | Promise<readonly T[]>;
  /** The iterator ends after delivering an event for which this is true. */
  readonly last?: (event: T) => boolean;
}

/** Listeners one turn of the event loop delivers an event to, when an event has more than this many. */
export const FANOUT_CHUNK = 256;

export class EventHub<T> {
  private readonly listeners = new Set<(event: T) => void>();
  /** Events still being delivered to many listeners, each with the listeners it has yet to reach. */
  private readonly backlog: { event: T; to: Set<(event: T) => void> }[] = [];
  /** The listeners the running sweep visits, in subscription order, and how far it got. */
  private sweep: ((event: T) => void)[] = [];
  private at = 0;

  /**
   * Delivers `event` to every current subscriber, in publishing order for each. Up to
   * {@link FANOUT_CHUNK} subscribers get it at once; to more, it goes {@link FANOUT_CHUNK} per turn of
   * the event loop, so the publisher (the operation engine) goes on at once and its own I/O is not
   * held behind thousands of deliveries: its step latency does not grow with the subscribers.
   *
   * The delivery is by subscriber: a subscriber the sweep reaches gets every event it is still owed
   * at once, so events published while the sweep runs reach the subscribers it has not passed
   * together with the earlier ones (their frames leave in one write; see `http-server.ts`), and the
   * subscribers it had passed in a sweep after it.
   */
  publish(event: T): void {
    if (this.backlog.length === 0 && this.listeners.size <= FANOUT_CHUNK) {
      for (const listener of [...this.listeners]) listener(event);
      return;
    }
    this.backlog.push({ event, to: new Set(this.listeners) });
    if (this.backlog.length === 1) {
      this.sweep = [...this.listeners];
      this.at = 0;
      this.deliverSome();
    }
  }

  private deliverSome(): void {
    let budget = FANOUT_CHUNK;
    while (budget > 0 && this.backlog.length > 0) {
      if (this.at >= this.sweep.length) this.sweepAgain();
      const listener = this.sweep[this.at++];
      // A subscriber that stopped meanwhile gets nothing more.
      if (!listener || !this.listeners.has(listener)) continue;
      for (const entry of this.backlog) if (entry.to.delete(listener)) listener(entry.event);
      budget--;
      this.dropDelivered();
    }
    if (this.backlog.length > 0) setImmediate(() => this.deliverSome());
  }

  /** Drops the events at the head of the backlog that reached every subscriber they were owed to. */
  private dropDelivered(): void {
    while (this.backlog.length > 0 && this.backlog[0]!.to.size === 0) this.backlog.shift();
  }

  /** A new sweep over the subscribers still owed an event published after the last sweep passed them. */
  private sweepAgain(): void {
    for (const entry of this.backlog)
      for (const listener of entry.to) if (!this.listeners.has(listener)) entry.to.delete(listener);
    this.dropDelivered();
    this.sweep = [...this.listeners].filter((l) => this.backlog.some((e) => e.to.has(l)));
    this.at = 0;
  }

  /** Live events matching `filter`, each subscriber with its own queue, until the consumer stops. */
  subscribe(filter: (event: T) => boolean = () => true, opts: SubscribeOptions<T> = {}): AsyncGenerator<T> {
    const queue: T[] = [];
    let wake: (() => void) | null = null;
    let closed = false;
    const listener = (event: T) => {
      if (!filter(event)) return;
      queue.push(event);
      wake?.();
    };
    this.listeners.add(listener);
    const listeners = this.listeners;
    const events = (async function* () {
      try {
        for (const event of await (opts.first ?? [])) {
          yield event;
          if (opts.last?.(event)) return;
        }
        while (!closed) {
          while (queue.length) {
            const event = queue.shift()!;
            if (!filter(event)) continue;
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
    // `return()` waits for the generator's next `yield`; a generator waiting for an event would only
    // get there with the next event (and one closed before its first `next()` never runs its
    // `finally`). So closing stops listening and wakes it at once.
    const close = events.return.bind(events);
    events.return = (value) => {
      closed = true;
      listeners.delete(listener);
      wake?.();
      return close(value);
    };
    return events;
  }
}

/**
 * `source` with `fn` applied to each event (it may be async, and may return `SKIP_EVENT` to leave an
 * event out, or throw to end the stream with its error); closing the result closes `source` at once.
 */
export function mapEvents<A, B>(
  source: AsyncGenerator<A>,
  fn: (event: A) => B | typeof SKIP_EVENT | Promise<B | typeof SKIP_EVENT>,
): AsyncGenerator<B> {
  const mapped = (async function* () {
    for await (const event of source) {
      const out = await fn(event);
      if (out !== SKIP_EVENT) yield out;
    }
  })();
  const close = mapped.return.bind(mapped);
  mapped.return = (value) => {
    void source.return(undefined);
    return close(value);
  };
  return mapped;
}

/** What a `mapEvents` function returns for an event the subscriber does not get. */
export const SKIP_EVENT: unique symbol = Symbol('skip event');
