/** Bounded concurrency for bulk work against arrays and clouds, and turns at a server. */
import { isProtectorError, ProtectorError } from '@protector/schema';

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Turns of at most `limit` at once: `run(fn)` runs `fn` when a turn is free (waiting in order) and
 * frees it when `fn` settles. For a stage of work that others overlap (booting while the next
 * members are prepared).
 */
export function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (fn) => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      // The turn passes straight to the next in line (the count stays), or is freed.
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * `load`, run when first asked for and its answer shared by the calls after it. A failure is not kept:
 * the next call runs `load` again.
 */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | null = null;
  return () => {
    value ??= load().catch((err: unknown) => {
      value = null;
      throw err;
    });
    return value;
  };
}

/**
 * A loader that batches: keys asked for before the next turn of the event loop are loaded together by
 * one call of `load` (which answers a map; a key it leaves out loads as `undefined`), and each key is
 * loaded once for the loader's life (one request's, typically).
 */
export function batchLoader<K, V>(
  load: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>,
): (key: K) => Promise<V | undefined> {
  const cache = new Map<K, Promise<V | undefined>>();
  let pending: { key: K; resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[] = [];
  const dispatch = () => {
    const batch = pending;
    pending = [];
    load(batch.map((b) => b.key)).then(
      (values) => {
        for (const b of batch) b.resolve(values.get(b.key));
      },
      (err: unknown) => {
        for (const b of batch) {
          cache.delete(b.key);
          b.reject(err);
        }
      },
    );
  };
  return (key) => {
    let found = cache.get(key);
    if (!found) {
      found = new Promise<V | undefined>((resolve, reject) => {
        if (pending.length === 0) setImmediate(dispatch);
        pending.push({ key, resolve, reject });
      });
      cache.set(key, found);
    }
    return found;
  };
}

/**
 * Turns at one site (or any server): at most `limit` requests at once, the others wait in order, each for at most its
 * own time. The limit adapts (additive increase, multiplicative decrease) between 1 and `max`: a
 * request that took longer than `slowMs` halves it, a faster one raises it by about one per `limit`
 * requests. A site that slows down is sent fewer requests at once, so the ones it gets finish within
 * the timeout, and the rest are refused early instead of answered late.
 */
export class Turns {
  private held = 0;
  private allowed: number;
  private readonly waiting: { grant(): void }[] = [];

  constructor(
    readonly max: number,
    private readonly slowMs: number,
  ) {
    this.allowed = max;
  }

  /** Requests holding a turn now. */
  get inUse(): number {
    return this.held;
  }

  /** Requests allowed at once now. */
  get limit(): number {
    return Math.max(1, Math.floor(this.allowed));
  }

  /** True once the caller holds a turn; false when none came within `waitMs`. */
  take(waitMs: number): Promise<boolean> {
    if (this.held < this.limit && this.waiting.length === 0) {
      this.held++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const entry = {
        grant: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        resolve(false);
      }, waitMs);
      this.waiting.push(entry);
    });
  }

  /** Gives a turn back after a request that took `tookMs`, and hands free turns to waiting callers. */
  give(tookMs: number): void {
    this.allowed =
      tookMs > this.slowMs
        ? Math.max(1, this.allowed / 2)
        : Math.min(this.max, this.allowed + 1 / Math.max(1, this.allowed));
    this.held--;
    while (this.held < this.limit && this.waiting.length > 0) {
      this.held++;
      this.waiting.shift()!.grant();
    }
  }
}

/**
 * Runs `work` in a turn of `turns` (no limit when null): waits at most `waitMs` for one, else throws
 * OVERLOADED naming `site`, without running `work`; a SITE_TIMEOUT of `work` while other requests
 * held turns at the site is OVERLOADED too.
 */
export async function withTurn<T>(
  turns: Turns | null,
  waitMs: number,
  site: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!turns) return work();
  if (!(await turns.take(waitMs))) {
    throw new ProtectorError(
      'OVERLOADED',
      `Site '${site}' is answering ${turns.limit} requests of this gateway already and this one could not start within ${waitMs} ms; retry in 1 s.`,
      { site },
    );
  }
  const started = Date.now();
  try {
    return await work();
  } catch (err) {
    // A site that ran out of time while answering other requests of this gateway is overloaded (by
    // us), not slow on its own: the request is refused whole (503 with Retry-After) rather than
    // answered in part. Alone at the site, it stays SITE_TIMEOUT: the site is slow or hung.
    const others = turns.inUse - 1;
    if (isProtectorError(err, 'SITE_TIMEOUT') && others > 0) {
      throw new ProtectorError(
        'OVERLOADED',
        `Site '${site}' did not answer in time while answering ${others} other requests of this gateway; retry in 1 s.`,
        { site },
        { cause: err },
      );
    }
    throw err;
  } finally {
    turns.give(Date.now() - started);
  }
}

/**
 * Turns per site key, made on first use: at most `max` at once per site (0: no limit, null), slow
 * beyond `slowMs`. The gateway's planner fetches and the coordinator's reads for callers share them.
 */
export function turnsBySite(max: number, slowMs: number): (siteKey: string) => Turns | null {
  const bySite = new Map<string, Turns>();
  return (key) => {
    if (max <= 0) return null;
    let turns = bySite.get(key);
    if (!turns) {
      turns = new Turns(max, slowMs);
      bySite.set(key, turns);
    }
    return turns;
  };
}

/**
 * Identical work in flight, done once: the first caller with a key starts it, later callers with the
 * same key wait for the same result. When more than one waited, each gets its own copy (callers may
 * write into what they get; `copies: false` when they only read it); a lone caller gets the result
 * itself.
 */
export class InFlight<T> {
  private readonly running = new Map<string, { result: Promise<T>; waiters: number }>();

  constructor(private readonly opts: { readonly copies?: boolean } = {}) {}

  /**
   * `start`'s result, shared with the callers of `key` in flight. A caller that joined work another
   * started, and whose outcome `again` names (e.g. a refusal of the starter's credentials, which may
   * be another token of the same caller), does its own `start` instead.
   */
  async run(
    key: string,
    start: () => Promise<T>,
    again?: (outcome: PromiseSettledResult<T>) => boolean,
  ): Promise<T> {
    let entry = this.running.get(key);
    const joined = !!entry;
    if (entry) entry.waiters++;
    else {
      entry = { result: start().finally(() => this.running.delete(key)), waiters: 1 };
      this.running.set(key, entry);
    }
    let result: T;
    try {
      result = await entry.result;
    } catch (reason) {
      if (joined && again?.({ status: 'rejected', reason })) return start();
      throw reason;
    }
    if (joined && again?.({ status: 'fulfilled', value: result })) return start();
    return this.opts.copies !== false && entry.waiters > 1 ? structuredClone(result) : result;
  }
}
