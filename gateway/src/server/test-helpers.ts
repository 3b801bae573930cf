/** Test helpers shared by the gateway server tests (not part of the build). */
import type { FormattedExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An event source the test pushes into; `returned` resolves when the subscriber leaves. */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private ended = false;
  readonly returned = deferred<void>();

  push(value: T): void {
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = null;
      wake({ done: false, value });
    } else this.items.push(value);
  }

  end(): void {
    this.ended = true;
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = null;
      wake({ done: true, value: undefined });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ done: false, value: this.items.shift()! });
        if (this.ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: async () => {
        this.returned.resolve();
        this.end();
        return { done: true, value: undefined };
      },
    };
  }
}

export interface Collected {
  readonly results: FormattedExecutionResult[];
  readonly completed: Promise<void>;
  readonly failed: Promise<readonly unknown[]>;
  next(): Promise<FormattedExecutionResult>;
  dispose(): void;
}

/** Subscribes with graphql-ws and collects results; `next()` waits for the next one. */
export function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}): Collected {
  const results: FormattedExecutionResult[] = [];
  const waiters: ((r: FormattedExecutionResult) => void)[] = [];
  let read = 0;
  const completed = deferred<void>();
  const failed = deferred<readonly unknown[]>();
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        results.push(value as FormattedExecutionResult);
        waiters.shift()?.(value as FormattedExecutionResult);
      },
      error: (err) => failed.resolve(Array.isArray(err) ? err : [err]),
      complete: () => completed.resolve(),
    },
  );
  return {
    results,
    completed: completed.promise,
    failed: failed.promise,
    next: () => {
      const i = read++;
      if (results[i]) return Promise.resolve(results[i]!);
      return new Promise((resolve) => waiters.push(resolve));
    },
    dispose,
  };
}
