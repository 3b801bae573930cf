/**
 * The gateway as a graphql-ws CLIENT of one site (ARCHITECTURE §5: a site's subscription root field is
 * served by that site). One relay is one connection to the site's `/graphql` (ws:// or wss://), with
 * only that site's token in `connection_init` (`{ token }`), carrying one subscription. Its results
 * are passed on as the site sent them; the connection ends with the subscription, whichever side ends
 * it: the site completes, the subscriber leaves (`return()`), or the connection fails.
 *
 * Failures end the relay with errors naming the site: a site that refuses the token at
 * `connection_init` (4403) gives `UNAUTHENTICATED`; the site's own GraphQL errors keep their codes;
 * anything else (refused, timed out, closed) gives `SITE_UNREACHABLE`.
 */
import { ProtectorError } from '@protector/schema';
import type { FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import { CloseCode, createClient } from 'graphql-ws';
import { type ClientOptions, WebSocket } from 'ws';
import { fromFormattedError, siteError, siteUnreachableError } from './errors.js';

/** A site as the relay names it in errors. */
export interface RelaySite {
  readonly key: string;
  readonly name: string;
}

/** The subscription sent to the site. */
export interface SiteSubscriptionRequest {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly operationName?: string;
}

/** Options of {@link relaySiteSubscription}. */
export interface SiteRelayOptions {
  readonly site: RelaySite;
  /** The site's GraphQL URL (http(s):// is turned into ws(s)://). */
  readonly url: string;
  /** The site's own token: the only thing sent in `connection_init`. */
  readonly token: string;
  readonly request: SiteSubscriptionRequest;
  /** How long the site may take to open the socket and acknowledge `connection_init`. */
  readonly timeoutMs: number;
  /** Called once when the relay's connection is released (tests, bookkeeping). */
  readonly onClose?: () => void;
}

/** A relayed subscription: the site's results, in order; `close()` (or `return()`) releases the socket. */
export interface SiteRelay extends AsyncIterableIterator<FormattedExecutionResult> {
  close(): Promise<void>;
}

/** The errors that ended a relay (one or more, each naming the site). */
export class SiteRelayError extends AggregateError {
  override readonly errors: GraphQLError[];
  constructor(errors: GraphQLError[]) {
    super(errors, errors[0]?.message ?? 'The site subscription failed.');
    this.errors = errors;
  }
}

/** `http://h/graphql` -> `ws://h/graphql`, `https://` -> `wss://`; ws(s) URLs are kept. */
export function siteWebSocketUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new Error(`Site URL ${url} is neither http(s) nor ws(s).`);
  }
  return u.toString();
}

const isCloseEvent = (value: unknown): value is { code: number; reason?: string } =>
  typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number';

const isFormattedErrors = (value: unknown): value is GraphQLFormattedError[] =>
  Array.isArray(value) &&
  value.every((e) => typeof e === 'object' && e !== null && typeof e.message === 'string');

/** The errors a relay ends with, from what graphql-ws gave its sink (see the module comment). */
export function relayErrors(site: RelaySite, err: unknown): GraphQLError[] {
  if (isFormattedErrors(err)) return err.map((e) => fromFormattedError(siteError(site, e)));
  if (isCloseEvent(err)) {
    if (err.code === CloseCode.Forbidden) {
      const refused = new ProtectorError(
        'UNAUTHENTICATED',
        'token refused at connection_init (4403 Forbidden); send a valid Keystone token of this site.',
      );
      return [
        fromFormattedError(siteError(site, { message: refused.message, extensions: refused.toExtensions() })),
      ];
    }
    const reason = err.reason ? ` ${err.reason}` : '';
    return [fromFormattedError(siteUnreachableError(site, `connection closed (${err.code}${reason})`))];
  }
  const e = err as { message?: unknown; error?: { message?: unknown } } | null;
  const message =
    (typeof e?.error?.message === 'string' && e.error.message) ||
    (typeof e?.message === 'string' && e.message) ||
    String(err);
  return [fromFormattedError(siteUnreachableError(site, message))];
}

/** Opens the site's subscription (see the module comment). The connection opens at once. */
export function relaySiteSubscription(opts: SiteRelayOptions): SiteRelay {
  const { site, timeoutMs } = opts;
  let socket: WebSocket | null = null;
  // The socket graphql-ws opens, with a bounded opening handshake (a site that accepts the TCP
  // connection and never upgrades it must not hold the subscriber).
  class SiteSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { handshakeTimeout: timeoutMs } satisfies ClientOptions);
      socket = this;
    }
  }

  const queue: FormattedExecutionResult[] = [];
  let ended = false;
  let failure: { readonly err: unknown } | null = null;
  let wake: (() => void) | null = null;
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  const client = createClient({
    url: siteWebSocketUrl(opts.url),
    webSocketImpl: SiteSocket,
    connectionParams: { token: opts.token },
    lazy: true,
    lazyCloseTimeout: 0,
    retryAttempts: 0,
    connectionAckWaitTimeout: timeoutMs,
  });
  const unsubscribe = client.subscribe(
    {
      query: opts.request.query,
      variables: opts.request.variables,
      ...(opts.request.operationName ? { operationName: opts.request.operationName } : {}),
    },
    {
      next: (value) => {
        if (ended) return;
        queue.push(value as FormattedExecutionResult);
        signal();
      },
      error: (err) => {
        if (ended) return;
        failure = { err };
        ended = true;
        signal();
      },
      complete: () => {
        ended = true;
        signal();
      },
    },
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ended = true;
      signal();
      // Sends `complete` to the site when still subscribed; the lazy client then closes the socket.
      unsubscribe();
      // A socket still opening is aborted at once instead of waiting for the handshake.
      if (socket?.readyState === WebSocket.CONNECTING) socket.terminate();
      try {
        await client.dispose();
      } catch {
        // The connection had failed already: nothing left to close.
      }
      opts.onClose?.();
    })();
    return closing;
  };

  let reported = false;
  const relay: SiteRelay = {
    async next() {
      for (;;) {
        const value = queue.shift();
        if (value) return { done: false, value };
        if (ended) {
          await close();
          if (failure && !reported) {
            reported = true;
            throw new SiteRelayError(relayErrors(site, failure.err));
          }
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return() {
      await close();
      return { done: true, value: undefined };
    },
    async throw(err: unknown) {
      await close();
      throw err;
    },
    close,
    [Symbol.asyncIterator]() {
      return relay;
    },
  };
  return relay;
}
