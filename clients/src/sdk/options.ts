/** Options of {@link createProtectorClient}: raw options, defaults, validation. */

/** Default GraphQL endpoint of the gateway (HTTP and graphql-ws share it). */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:4000/graphql';

/** What the client reports before each HTTP request (secrets already masked), e.g. for `--debug`. */
export interface RequestInfo {
  readonly url: string;
  readonly operationName: string | undefined;
  readonly variables: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ProtectorClientOptions {
  /**
   * GraphQL endpoint of the gateway; subscriptions use the same URL with ws:// or wss://.
   * @default 'http://127.0.0.1:4000/graphql'
   */
  readonly url?: string;
  /** Keystone token used for every site that has no token of its own (`Authorization: Bearer`). */
  readonly token?: string;
  /** Keystone token per site key (`X-Site-Token-<siteKey>`), e.g. `{ boston: '...', seattle: '...' }`. */
  readonly siteTokens?: Readonly<Record<string, string>>;
  /**
   * Time allowed for one HTTP request, in milliseconds.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /** fetch implementation (tests, proxies). @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** WebSocket implementation for subscriptions. @default the `ws` package */
  readonly webSocketImpl?: unknown;
  /**
   * How many times a dropped subscription socket is reconnected before the iterator fails.
   * @default 2
   */
  readonly subscriptionRetryAttempts?: number;
  /**
   * While watching an operation, how often it is refetched in case an event was missed.
   * @default 5000
   */
  readonly watchPollIntervalMs?: number;
  /** Extra HTTP headers (e.g. User-Agent). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Called before every HTTP request with the secrets masked. */
  readonly onRequest?: (info: RequestInfo) => void;
}

/** Options after defaults and validation. */
export interface CompiledClientOptions {
  readonly url: string;
  readonly wsUrl: string;
  readonly token: string | undefined;
  readonly siteTokens: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
  readonly webSocketImpl: unknown;
  readonly subscriptionRetryAttempts: number;
  readonly watchPollIntervalMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly onRequest: ((info: RequestInfo) => void) | undefined;
}

/** Site keys as the contract defines them (`SITE_KEY_PATTERN` of `@protector/schema`). */
export const SITE_KEY_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

const assertToken = (option: string, token: string): void => {
  if (token.length === 0 || /[\r\n]/.test(token)) {
    throw new TypeError(`Option ${option} must be a non-empty token on one line; check the value you pass`);
  }
};

const positiveInteger = (option: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`Option ${option} must be a non-negative integer, got ${value}`);
  }
  return value;
};

/**
 * Applies defaults and checks every option.
 * @throws TypeError naming the option and the fix.
 */
export function compileClientOptions(
  options: ProtectorClientOptions,
  defaults: { webSocketImpl: unknown },
): CompiledClientOptions {
  const url = options.url ?? DEFAULT_GATEWAY_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Option url ${JSON.stringify(url)} is not a URL; use e.g. ${DEFAULT_GATEWAY_URL}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`Option url must use http:// or https://, got ${parsed.protocol}//`);
  }
  if (options.token !== undefined) assertToken('token', options.token);
  const siteTokens: Record<string, string> = {};
  for (const [key, token] of Object.entries(options.siteTokens ?? {})) {
    if (!SITE_KEY_PATTERN.test(key)) {
      throw new TypeError(
        `Option siteTokens has key ${JSON.stringify(key)}, which is not a site key; use the site's key (e.g. "boston"), as 'protector site list' shows it`,
      );
    }
    assertToken(`siteTokens.${key}`, token);
    siteTokens[key] = token;
  }
  const timeoutMs = positiveInteger('timeoutMs', options.timeoutMs, 30_000);
  if (timeoutMs === 0) throw new TypeError('Option timeoutMs must be greater than 0');
  const wsUrl = new URL(parsed.href);
  wsUrl.protocol = parsed.protocol === 'https:' ? 'wss:' : 'ws:';
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') {
    throw new TypeError('No fetch implementation: pass options.fetch (Node 18+ has a global fetch)');
  }
  return {
    url: parsed.href,
    wsUrl: wsUrl.href,
    token: options.token,
    siteTokens,
    timeoutMs,
    fetch: fetchImpl,
    webSocketImpl: options.webSocketImpl ?? defaults.webSocketImpl,
    subscriptionRetryAttempts: positiveInteger(
      'subscriptionRetryAttempts',
      options.subscriptionRetryAttempts,
      2,
    ),
    watchPollIntervalMs: positiveInteger('watchPollIntervalMs', options.watchPollIntervalMs, 5000) || 5000,
    headers: { ...options.headers },
    onRequest: options.onRequest,
  };
}

/** HTTP headers carrying the tokens, in the gateway's convention. */
export function authHeaders(
  options: Pick<CompiledClientOptions, 'token' | 'siteTokens'>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  for (const [key, token] of Object.entries(options.siteTokens)) headers[`X-Site-Token-${key}`] = token;
  return headers;
}

/** graphql-ws `connectionParams` carrying the tokens (subscriptions authenticate in `connection_init`). */
export function authConnectionParams(
  options: Pick<CompiledClientOptions, 'token' | 'siteTokens'>,
): Record<string, unknown> {
  return {
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    siteTokens: { ...options.siteTokens },
  };
}
