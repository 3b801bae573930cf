/** A minimal push-to-pull queue: producers push, one consumer iterates with `for await`. */
export interface Channel<T> extends AsyncIterable<T> {
  push(value: T): void;
  end(): void;
  fail(error: unknown): void;
}

/** Creates a {@link Channel}. Values pushed after `end` or `fail` are dropped. */
export function createChannel<T>(): Channel<T> {
  const buffer: T[] = [];
  let closed = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  return {
    push(value) {
      if (closed) return;
      buffer.push(value);
      notify();
    },
    end() {
      closed = true;
      notify();
    },
    fail(error) {
      if (closed) return;
      closed = true;
      failure = { error };
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (buffer.length > 0) {
          yield buffer.shift() as T;
          continue;
        }
        if (failure) throw failure.error;
        if (closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
