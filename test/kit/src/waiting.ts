/**
 * Waiting on events instead of sleeping: promises a test settles by hand ({@link deferred}), event
 * sources it pushes into ({@link EventChannel}), polling with a deadline ({@link waitFor}), a deadline
 * on any promise ({@link within}), and the lines a process writes ({@link OutputLines},
 * {@link waitForLine}). Every wait has a timeout and fails saying what it waited for.
 * Loads nothing but node: modules, so the lab (`npm start`) can use it without the test runner.
 */
import type { Readable } from 'node:stream';

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A promise with its `resolve` and `reject` at hand. */
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

/** `promise`, or a failure `no <what> within <ms> ms` when it takes longer. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Thrown by a {@link waitFor} probe: stop waiting at once and fail with this message. */
export class GiveUp extends Error {
  override readonly name = 'GiveUp';
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails at the deadline naming
 * `what` and the probe's last error. A probe's error is retried, except {@link GiveUp}.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      if (err instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${err.message}`);
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The lines written to one or more streams (a process's stdout and stderr), kept for failure messages
 * and for {@link waitForLine}: each stream is split into lines of its own, so lines of two streams never
 * mix. Keeps the last `maxLines`.
 */
export class OutputLines {
  private readonly kept: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private readonly closers = new Set<() => void>();
  private open = 0;
  private attached = 0;

  constructor(private readonly maxLines = 20_000) {}

  /** Reads `stream` line by line until it ends. */
  attach(stream: Readable): this {
    let partial = '';
    this.open++;
    this.attached++;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const line of parts) this.add(line);
    });
    stream.once('close', () => {
      if (partial) this.add(partial);
      partial = '';
      if (--this.open === 0) for (const close of [...this.closers]) close();
    });
    return this;
  }

  /** Adds a line as if a stream had written it. */
  add(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    this.kept.push(text);
    if (this.kept.length > this.maxLines) {
      this.kept.shift();
    }
    for (const listener of [...this.listeners]) listener(text);
  }

  /** The lines kept so far. */
  lines(): readonly string[] {
    return this.kept;
  }

  /** Everything kept, as text. */
  text(): string {
    return this.kept.map((l) => `${l}\n`).join('');
  }

  /** The last `chars` characters, for failure messages. */
  tail(chars = 4000): string {
    return this.text().slice(-chars);
  }

  /** Whether streams were attached and all of them have closed: no more lines will come. */
  ended(): boolean {
    return this.attached > 0 && this.open === 0;
  }

  /** Calls `listener` for each line added from now on; returns the unsubscribe function. */
  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` once every attached stream has closed; returns the unsubscribe function. */
  onClose(listener: () => void): () => void {
    this.closers.add(listener);
    return () => this.closers.delete(listener);
  }
}

export interface WaitForLineOptions {
  /** @default 30_000 */
  readonly timeoutMs?: number;
  /** What the line means, for the failure message (`protector-site's ready line`). */
  readonly what?: string;
  /** Fail at once when this settles first (e.g. the process exits); its value or error says why. */
  readonly unless?: Promise<unknown>;
  /** Only lines added after the call count; by default the lines kept already are searched first. */
  readonly newOnly?: boolean;
}

/**
 * The first line matching `pattern` (its match), from lines already kept (unless `newOnly`) or
 * written later. Fails when the time is up, when the streams close first, or when `unless` settles
 * first, with the last lines in the message.
 */
export function waitForLine(
  source: OutputLines | Readable,
  pattern: RegExp,
  options: WaitForLineOptions = {},
): Promise<RegExpExecArray> {
  const lines = source instanceof OutputLines ? source : new OutputLines().attach(source);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const what = options.what ?? `a line matching ${pattern}`;
  // A global or sticky pattern would carry lastIndex from one line to the next.
  if (pattern.global || pattern.sticky)
    pattern = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  if (!options.newOnly) {
    for (const line of lines.lines()) {
      const m = pattern.exec(line);
      if (m) return Promise.resolve(m);
    }
  }
  return new Promise<RegExpExecArray>((resolve, reject) => {
    const cleanups: (() => void)[] = [];
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      for (const c of cleanups) c();
      fn();
    };
    const fail = (why: string) =>
      finish(() => reject(new Error(`${what}: ${why}\n--- last output ---\n${lines.tail()}`)));
    cleanups.push(
      lines.onLine((line) => {
        const m = pattern.exec(line);
        if (m) finish(() => resolve(m));
      }),
    );
    if (lines.ended()) return fail('the output ended without it');
    cleanups.push(lines.onClose(() => fail('the output ended without it')));
    const timer = setTimeout(() => fail(`not seen within ${timeoutMs} ms`), timeoutMs);
    cleanups.push(() => clearTimeout(timer));
    options.unless?.then(
      (value) => fail(String(value)),
      (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
    );
  });
}
