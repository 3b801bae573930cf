/**
 * The client both drivers use to talk to one array: REST requests over a transport (HTTP for `pure`,
 * in-process for `mock`), with one retry table, pagination and the mapping of array answers to
 * registered error codes. Array messages reach the caller intact.
 */
import { type Clock, systemClock } from '@protector/platform';
import { type ErrorCode, ProtectorError } from '@protector/schema';
import type { ArrayRequest, ArrayResponse } from './wire.js';

/** Moves one request to an array and back. Rejects only when the array could not be reached. */
export interface ArrayTransport {
  readonly endpoint: string;
  send(req: ArrayRequest): Promise<ArrayResponse>;
  close(): Promise<void>;
}

/** A transport failure: nothing (or nothing usable) came back from the array. */
export class ArrayUnreachableError extends Error {
  constructor(
    message: string,
    /** True when the request certainly never reached the array (e.g. connection refused), so any method may be retried. */
    readonly notSent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt. @default 4 */
  readonly maxRetries: number;
  /** First backoff; doubles each retry, full jitter. @default 100 */
  readonly baseDelayMs: number;
  /** @default 2000 */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 4, baseDelayMs: 100, maxDelayMs: 2000 };

type Verdict = 'retry' | 'fatal';

/**
 * Which failures are retried. Everything not listed is fatal at once.
 * - unreachable, request not sent (connection refused): any method; nothing happened on the array.
 * - unreachable after sending (reset, timeout): GET only; a repeated POST could act twice.
 * - 429 rate limited: any method; the array rejected the request without acting on it.
 * - 503 unavailable: any method, same reason. Other 5xx: GET, PATCH and DELETE (idempotent here).
 * - 400, 404, 409 and other 4xx: never; the same request gets the same answer.
 * - 401: never here; the HTTP transport logs in again once before it returns 401.
 */
export function retryVerdict(
  method: ArrayRequest['method'],
  outcome: ArrayResponse | ArrayUnreachableError,
): Verdict {
  if (outcome instanceof ArrayUnreachableError)
    return outcome.notSent || method === 'GET' ? 'retry' : 'fatal';
  if (outcome.status === 429 || outcome.status === 503) return 'retry';
  if (outcome.status >= 500) return method === 'POST' ? 'fatal' : 'retry';
  return 'fatal';
}

/** Maps a FlashArray error message to a registered code. FlashArray has no error codes; its texts are stable. */
const MESSAGE_CODES: ReadonlyArray<readonly [RegExp, ErrorCode]> = [
  [/does not exist/i, 'NOT_FOUND'],
  [/already exists|already a member/i, 'ALREADY_EXISTS'],
  [/^Invalid name/i, 'INVALID_NAME'],
  [/^Invalid provisioned size/i, 'INVALID_SIZE'],
  [/not fully replicated/i, 'RECOVERY_POINT_INCOMPLETE'],
  [/not stretched/i, 'POD_NOT_STRETCHED'],
  [/not connected/i, 'REPLICATION_LINK_DOWN'],
];

interface ErrorBody {
  errors?: { message?: string; context?: string }[];
}

export interface ListResult<T> {
  readonly items: T[];
  readonly totalItemCount: number;
}

/** How many items a GET asks for per page (`limit`); the rest come by `continuation_token`. */
export const DEFAULT_PAGE_SIZE = 500;

export interface ArrayClientOptions {
  readonly retry?: Partial<RetryPolicy>;
  /** Items per page of a list. @default DEFAULT_PAGE_SIZE */
  readonly pageSize?: number;
  /** Backoff between retries waits on this clock. @default systemClock */
  readonly clock?: Clock;
}

/** REST calls to one array. */
export class ArrayClient {
  private readonly retry: RetryPolicy;
  private readonly clock: Clock;
  private readonly pageSize: number;

  constructor(
    readonly transport: ArrayTransport,
    opts: ArrayClientOptions = {},
  ) {
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.clock = opts.clock ?? systemClock;
    this.pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  get endpoint(): string {
    return this.transport.endpoint;
  }

  /** One request with the retry table applied; returns the body of a 2xx answer or throws a ProtectorError. */
  async request<T = unknown>(req: ArrayRequest): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let outcome: ArrayResponse | ArrayUnreachableError;
      try {
        outcome = await this.transport.send(req);
      } catch (err) {
        if (!(err instanceof ArrayUnreachableError)) throw err;
        outcome = err;
      }
      if (!(outcome instanceof ArrayUnreachableError) && outcome.status < 300) return outcome.body as T;
      if (attempt >= this.retry.maxRetries || retryVerdict(req.method, outcome) === 'fatal') {
        throw this.toError(req, outcome, attempt + 1);
      }
      await this.clock.sleep(this.backoff(attempt, outcome));
    }
  }

  /** GET every page of a list (`limit` items each), following continuation tokens. */
  async list<T = Record<string, unknown>>(
    path: string,
    query: Record<string, string | undefined> = {},
  ): Promise<T[]> {
    const items: T[] = [];
    let token: string | undefined;
    do {
      const page = await this.request<{ items: T[]; continuation_token?: string | null }>({
        method: 'GET',
        path,
        query: { ...query, limit: String(this.pageSize), continuation_token: token },
      });
      items.push(...page.items);
      token = page.continuation_token ?? undefined;
    } while (token);
    return items;
  }

  /** GET a list, answering [] instead of throwing when the named object does not exist. */
  async listOrEmpty<T = Record<string, unknown>>(
    path: string,
    query: Record<string, string | undefined> = {},
  ): Promise<T[]> {
    try {
      return await this.list<T>(path, query);
    } catch (err) {
      if (err instanceof ProtectorError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  private backoff(attempt: number, outcome: ArrayResponse | ArrayUnreachableError): number {
    const retryAfter =
      outcome instanceof ArrayUnreachableError ? undefined : outcome.headers?.['retry-after'];
    const hinted = retryAfter !== undefined && retryAfter !== '' ? Number(retryAfter) * 1000 : 0;
    const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt);
    return Math.max(hinted, Math.random() * cap);
  }

  private toError(
    req: ArrayRequest,
    outcome: ArrayResponse | ArrayUnreachableError,
    attempts: number,
  ): ProtectorError {
    const where = { array: this.endpoint, request: `${req.method} ${req.path}`, attempts };
    if (outcome instanceof ArrayUnreachableError) {
      return new ProtectorError(
        'STORAGE_UNREACHABLE',
        `Array at ${this.endpoint} is unreachable: ${outcome.message}`,
        where,
        {
          cause: outcome,
        },
      );
    }
    const first = (outcome.body as ErrorBody | undefined)?.errors?.[0];
    const message = first?.message ?? `HTTP ${outcome.status}`;
    const details = { ...where, status: outcome.status, context: first?.context ?? null };
    if (outcome.status === 401) {
      return new ProtectorError(
        'STORAGE_AUTH_FAILED',
        `Array at ${this.endpoint} refused the API token: ${message}`,
        details,
      );
    }
    if (outcome.status === 429) {
      return new ProtectorError(
        'STORAGE_RATE_LIMITED',
        `Array at ${this.endpoint} is rate limiting requests: ${message}`,
        details,
      );
    }
    if (outcome.status >= 500) {
      return new ProtectorError(
        'STORAGE_UNREACHABLE',
        `Array at ${this.endpoint} failed: ${message}`,
        details,
      );
    }
    const code = MESSAGE_CODES.find(([re]) => re.test(message))?.[1] ?? 'STORAGE_ERROR';
    return new ProtectorError(code, message, details);
  }
}
