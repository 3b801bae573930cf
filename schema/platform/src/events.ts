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

/**
 * Deliveries one turn of the event loop makes, over every hub of the process: a publisher (the
 * operation engine) goes on at once whatever the number of subscribers, and its own I/O is not held
 * behind thousands of deliveries.
 */
export const FANOUT_CHUNK = 128;

/** The end of a hub's events (see {@link EventHub.end}): every subscriber finishes after what it was owed. */
const END: unique symbol = Symbol('end of events');
type Delivered<T> = T | typeof END;

/**
 * Deliveries left in this turn, shared by every hub; hubs with a backlog wait for the next turn, the
 * hubs fed by others last (see {@link HubOptions.fed}).
 */
let budget = FANOUT_CHUNK;
let nextTurnScheduled = false;
const behind: EventHub<never>[] = [];
const behindLater: EventHub<never>[] = [];

function spend(deliveries: number): void {
  budget -= deliveries;
  scheduleNextTurn();
}

function scheduleNextTurn(): void {
  if (nextTurnScheduled) return;
  nextTurnScheduled = true;
  setImmediate(() => {
    nextTurnScheduled = false;
    budget = FANOUT_CHUNK;
    for (const hub of [...behind.splice(0), ...behindLater.splice(0)]) hub.deliverSome();
  });
}

export interface HubOptions {
  /** Called when the last subscriber leaves. */
  readonly whenEmpty?: () => void;
  /**
   * Its backlog waits each turn until the other hubs' deliveries are made. For a hub fed by another
   * (the gateway's shared streams, fed by the coordinator's event bus): an event reaches every
   * stream before the sweeps of older events to the sockets end, and those sweeps then carry it
   * along (one write per subscriber for both), instead of waiting behind them.
   */
  readonly fed?: boolean;
}

/** What a hub delivers to: an iterator's queue, or a listener (see {@link EventHub.listen}). */
interface Receiver<T> {
  deliver(event: Delivered<T>): void;
}

/** A listener of {@link EventHub.listen}: called with each event as the hub delivers it. */
export interface HubListener<T> {
  event(event: T): void;
  /** The hub ended (it is not called when the listener stops itself). */
  end(): void;
}

class Listening<T> implements Receiver<T> {
  constructor(private readonly listener: HubListener<T>) {}
  deliver(event: Delivered<T>): void {
    if (event === END) this.listener.end();
    else this.listener.event(event);
  }
}

export class EventHub<T> {
  private readonly subscribers = new Set<Receiver<T>>();
  /** Events still being delivered to many subscribers, each with the subscribers it has yet to reach. */
  private readonly backlog: { event: Delivered<T>; to: Set<Receiver<T>> }[] = [];
  /** The subscribers the running sweep visits, in subscription order, and how far it got. */
  private sweep: Receiver<T>[] = [];
  private at = 0;
  private ended = false;
  /** It is in the list of hubs the next turn goes on with. */
  private waitingTurn = false;

  constructor(private readonly opts: HubOptions = {}) {}

  /** How many subscribers listen now. */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Delivers `event` to every current subscriber, in publishing order for each. While the turn's
   * {@link FANOUT_CHUNK} deliveries last they are made at once; the rest go in later turns of the
   * event loop, by subscriber: a subscriber the sweep reaches gets every event it is still owed at
   * once, so events published while the sweep runs reach the subscribers it has not passed together
   * with the earlier ones (their frames leave in one write; see `http-server.ts`), and the
   * subscribers it had passed in a sweep after it.
   */
  publish(event: T): void {
    this.send(event);
  }

  /** Ends every subscriber's events after those it was owed; later subscribers get none. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.send(END);
  }

  private send(event: Delivered<T>): void {
    if (this.subscribers.size === 0) return;
    if (this.backlog.length === 0 && this.subscribers.size <= budget) {
      spend(this.subscribers.size);
      for (const subscriber of [...this.subscribers]) subscriber.deliver(event);
      return;
    }
    this.backlog.push({ event, to: new Set(this.subscribers) });
    if (this.backlog.length === 1) {
      this.sweep = [...this.subscribers];
      this.at = 0;
      this.deliverSome();
    }
  }

  /** Goes on with the sweep while this turn's deliveries last (called by the turn scheduler). */
  deliverSome(): void {
    this.waitingTurn = false;
    let made = 0;
    while (made < budget && this.backlog.length > 0) {
      if (this.at >= this.sweep.length) this.sweepAgain();
      const subscriber = this.sweep[this.at++];
      // A subscriber that stopped meanwhile gets nothing more.
      if (!subscriber || !this.subscribers.has(subscriber)) continue;
      for (const entry of this.backlog) if (entry.to.delete(subscriber)) subscriber.deliver(entry.event);
      made++;
      this.dropDelivered();
    }
    spend(made);
    if (this.backlog.length > 0 && !this.waitingTurn) {
      this.waitingTurn = true;
      (this.opts.fed ? behindLater : behind).push(this as unknown as EventHub<never>);
    }
  }

  /** Drops the events at the head of the backlog that reached every subscriber they were owed to. */
  private dropDelivered(): void {
    while (this.backlog.length > 0 && this.backlog[0]!.to.size === 0) this.backlog.shift();
  }

  /** A new sweep over the subscribers still owed an event published after the last sweep passed them. */
  private sweepAgain(): void {
    for (const entry of this.backlog)
      for (const subscriber of entry.to) if (!this.subscribers.has(subscriber)) entry.to.delete(subscriber);
    this.dropDelivered();
    this.sweep = [...this.subscribers].filter((s) => this.backlog.some((e) => e.to.has(s)));
    this.at = 0;
  }

  /** Live events matching `filter`, each subscriber with its own queue, until the consumer stops. */
  subscribe(filter: (event: T) => boolean = () => true, opts: SubscribeOptions<T> = {}): AsyncGenerator<T> {
    const subscriber = new Subscriber<T>(filter, opts, (s) => this.leave(s));
    if (this.ended) subscriber.deliver(END);
    else this.subscribers.add(subscriber);
    return subscriber;
  }

  /**
   * Calls `listener` with each event as the hub delivers it (under the same budget and order as the
   * iterators of {@link subscribe}, without a queue or a promise per event); the returned function
   * stops it.
   */
  listen(listener: HubListener<T>): () => void {
    const receiver = new Listening(listener);
    if (this.ended) {
      listener.end();
      return () => {};
    }
    this.subscribers.add(receiver);
    return () => this.leave(receiver);
  }

  private leave(subscriber: Receiver<T>): void {
    if (this.subscribers.delete(subscriber) && this.subscribers.size === 0) this.opts.whenEmpty?.();
  }
}

/**
 * One subscriber's events: an async iterator over its queue (a class, so 10,000 subscribers share
 * one shape). `return()` stops listening at once, even while a `next()` waits for an event.
 */
class Subscriber<T> implements AsyncGenerator<T, undefined, unknown> {
  private readonly queue: Delivered<T>[] = [];
  /** `next()` calls waiting for an event, oldest first. */
  private readonly waiting: ((step: IteratorResult<T, undefined>) => void)[] = [];
  /** The first events still to give, or the promise of them. */
  private first: Delivered<T>[] | Promise<void> | null;
  private done = false;
  /** It gave its last event (`opts.last`): it listens no more, and the next step is the end. */
  private ending = false;

  constructor(
    private readonly filter: (event: T) => boolean,
    private readonly opts: SubscribeOptions<T>,
    private readonly onLeave: (subscriber: Subscriber<T>) => void,
  ) {
    const first = opts.first ?? [];
    this.first = Array.isArray(first)
      ? [...first]
      : (first as Promise<readonly T[]>).then(
          (events) => {
            this.first = [...events];
            this.pump();
          },
          () => {
            this.first = [];
            this.pump();
          },
        );
  }

  deliver(event: Delivered<T>): void {
    if (this.done || this.ending || (event !== END && !this.filter(event))) return;
    this.queue.push(event);
    this.pump();
  }

  /** Hands out what is ready to the waiting `next()` calls. */
  private pump(): void {
    while (this.waiting.length > 0) {
      const step = this.take();
      if (!step) return;
      // The end answers every waiting call at once (`finish`): then there is none left to answer here.
      this.waiting.shift()?.(step);
    }
  }

  /** The next step ready now, or null when none is. */
  private take(): IteratorResult<T, undefined> | null {
    if (this.done || this.ending) return this.finish();
    if (!Array.isArray(this.first)) return null; // the first events are still being read
    const source = this.first.length > 0 ? this.first : this.queue;
    const fromQueue = source === this.queue;
    while (source.length > 0) {
      const event = source.shift()!;
      if (event === END) return this.finish();
      if (fromQueue && !this.filter(event)) continue;
      if (this.opts.last?.(event)) {
        this.ending = true;
        this.onLeave(this);
      }
      return { done: false, value: event };
    }
    return fromQueue ? null : this.take();
  }

  private finish(): IteratorResult<T, undefined> {
    if (!this.done) {
      this.done = true;
      this.queue.length = 0;
      this.onLeave(this);
      for (const resolve of this.waiting.splice(0)) resolve({ done: true, value: undefined });
    }
    return { done: true, value: undefined };
  }

  next(): Promise<IteratorResult<T, undefined>> {
    const step = this.waiting.length === 0 ? this.take() : null;
    if (step) return Promise.resolve(step);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
    });
  }

  return(): Promise<IteratorResult<T, undefined>> {
    return Promise.resolve(this.finish());
  }

  throw(err: unknown): Promise<IteratorResult<T, undefined>> {
    this.finish();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
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
  return new MappedEvents(source, fn);
}

class MappedEvents<A, B> implements AsyncGenerator<B, undefined, unknown> {
  private done = false;

  constructor(
    private readonly source: AsyncGenerator<A>,
    private readonly fn: (event: A) => B | typeof SKIP_EVENT | Promise<B | typeof SKIP_EVENT>,
  ) {}

  async next(): Promise<IteratorResult<B, undefined>> {
    while (!this.done) {
      let step: IteratorResult<A>;
      try {
        step = await this.source.next();
      } catch (err) {
        this.done = true;
        throw err;
      }
      if (step.done) break;
      let out: B | typeof SKIP_EVENT;
      try {
        out = await this.fn(step.value);
      } catch (err) {
        await this.return();
        throw err;
      }
      if (out !== SKIP_EVENT && !this.done) return { done: false, value: out };
    }
    this.done = true;
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<B, undefined>> {
    if (!this.done) {
      this.done = true;
      void this.source.return(undefined);
    }
    return { done: true, value: undefined };
  }

  async throw(err: unknown): Promise<IteratorResult<B, undefined>> {
    await this.return();
    throw err;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** What a `mapEvents` function returns for an event the subscriber does not get. */
export const SKIP_EVENT: unique symbol = Symbol('skip event');
