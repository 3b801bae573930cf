/**
 * Per-caller rate limits: a token bucket per caller (its tokens, hashed, or its address when it sent
 * none), refilled at `perSecond` up to `burst`. A caller over its limit gets 429 RATE_LIMITED with
 * Retry-After; others are not slowed by it. Idle buckets are forgotten.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Clock, systemClock } from '../clock.js';
import { option } from '../config/options.js';

export interface RateLimit {
  /** Requests per second a caller may sustain; 0 turns the limit off. */
  readonly perSecond: number;
  /** Requests a caller may send at once after being idle. */
  readonly burst: number;
  /** GraphQL requests the server works on at once, all callers together; more get 503 OVERLOADED. 0 = no limit. */
  readonly maxInFlight?: number;
}

/** The `[api]` options of the rate limit, shared by `gateway.conf` and `protector.conf`. */
export const rateLimitOptions = {
  rate_limit: option.int({
    description:
      'Requests per second one caller (one set of tokens, or one address without a token) may sustain on the GraphQL path; 0 turns the limit off. Over it: HTTP 429 RATE_LIMITED with Retry-After.',
    default: 100,
    min: 0,
    max: 1000000,
  }),
  rate_limit_burst: option.int({
    description: 'Requests one caller may send at once before `rate_limit` applies.',
    default: 200,
    min: 1,
    max: 1000000,
  }),
  max_in_flight: option.int({
    description:
      'GraphQL requests the server works on at once, all callers together; one more is refused at once with HTTP 503 OVERLOADED and Retry-After, so an overloaded server answers honestly instead of late or partially. 0 turns the limit off.',
    default: 256,
    min: 0,
    max: 1000000,
  }),
};

/** The rate limit from a compiled `[api]` section. */
export const rateLimitOf = (api: {
  rate_limit: number;
  rate_limit_burst: number;
  max_in_flight: number;
}): RateLimit => ({
  perSecond: api.rate_limit,
  burst: api.rate_limit_burst,
  maxInFlight: api.max_in_flight,
});

/** Who a request comes from, for its bucket: a hash of the tokens it carries, else its address. */
export function callerKey(req: IncomingMessage): string {
  const tokens = Object.entries(req.headers)
    .filter(
      ([name]) => name === 'x-auth-token' || name === 'authorization' || name.startsWith('x-site-token-'),
    )
    .map(([name, value]) => `${name}=${String(value)}`)
    .sort();
  if (tokens.length) return `t:${createHash('sha256').update(tokens.join('\n')).digest('base64url')}`;
  return `a:${req.socket.remoteAddress ?? 'unknown'}`;
}

/** Token buckets by caller key. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Takes one request from `key`'s bucket: 0 when allowed, else the seconds until one is. */
  take(key: string): number {
    if (this.limit.perSecond <= 0) return 0;
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
    b.at = now;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.forgetIdle(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.limit.perSecond));
  }

  /** Drops buckets that have refilled completely (their callers are idle). */
  private forgetIdle(now: number): void {
    const full = (this.limit.burst / this.limit.perSecond) * 1000;
    for (const [key, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(key);
  }
}
