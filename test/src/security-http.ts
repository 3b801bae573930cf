/**
 * The security suite's wire: GraphQL over HTTP with exactly the headers an identity sends (status and
 * body as they came back), and a raw graphql-ws (`graphql-transport-ws`) client that reports how the
 * server ended a connection (close code) and every message of a subscription, so a refused
 * `connection_init` (4403) and an error payload can be asserted as they are.
 */
import type { Json } from '@protector/schema';
import { type Dispatcher, fetch } from 'undici';
import WebSocket from 'ws';

export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  /** The body as JSON (null when it is not JSON). */
  readonly body: {
    data?: Json | null;
    errors?: { message: string; path?: unknown[]; extensions?: Json }[];
  } | null;
}

/**
 * POSTs `body` (an object is sent as JSON) to `url` with `headers` and nothing else, over
 * `dispatcher`'s connections (default: the process's shared pool).
 */
export async function post(
  url: string,
  headers: Readonly<Record<string, string>>,
  body: unknown,
  dispatcher?: Dispatcher,
): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await res.text();
  let json: HttpAnswer['body'] = null;
  try {
    json = JSON.parse(text) as HttpAnswer['body'];
  } catch {
    json = null;
  }
  return { status: res.status, text, body: json };
}

/** One message of a subscription as the server sent it. */
export type SubscriptionMessage =
  | { readonly type: 'next'; readonly payload: { data?: Json | null; errors?: Json[] } }
  | { readonly type: 'error'; readonly payload: Json[] }
  | { readonly type: 'complete' }
  | { readonly type: 'closed'; readonly code: number; readonly reason: string };

export interface Subscription {
  /** The next message of this subscription (waits for it, at most `timeoutMs`). */
  next(timeoutMs?: number): Promise<SubscriptionMessage>;
  /** Every message received so far. */
  readonly received: readonly SubscriptionMessage[];
}

export interface WsConnection {
  subscribe(query: string, variables?: Json): Subscription;
  close(): Promise<void>;
}

/** How a connection attempt ended: acknowledged, or closed by the server with a code. */
export type WsOpen =
  | { readonly ok: true; readonly connection: WsConnection }
  | { readonly ok: false; readonly code: number; readonly reason: string };

/**
 * Opens a graphql-ws connection with `connection_init` carrying `payload`; resolves once the server
 * acknowledged it or closed the socket (its close code), at most `timeoutMs`.
 */
export function openWs(url: string, payload: Json | null, timeoutMs = 15_000): Promise<WsOpen> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const subs = new Map<
    string,
    { queue: SubscriptionMessage[]; waiters: ((m: SubscriptionMessage) => void)[] }
  >();
  let closed: { code: number; reason: string } | null = null;
  const deliver = (id: string, m: SubscriptionMessage) => {
    const sub = subs.get(id);
    if (!sub) return;
    const waiter = sub.waiters.shift();
    if (waiter) waiter(m);
    else sub.queue.push(m);
  };
  return new Promise<WsOpen>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`graphql-ws at ${url}: no connection_ack and no close within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: payload ?? {} })));
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      closed = { code, reason: reason.toString() };
      for (const id of subs.keys()) deliver(id, { type: 'closed', ...closed });
      resolve({ ok: false, ...closed });
    });
    let next = 0;
    const connection: WsConnection = {
      subscribe(query, variables = {}) {
        const id = String(++next);
        const entry = {
          queue: [] as SubscriptionMessage[],
          waiters: [] as ((m: SubscriptionMessage) => void)[],
        };
        subs.set(id, entry);
        const received: SubscriptionMessage[] = [];
        const take = (m: SubscriptionMessage) => {
          received.push(m);
          return m;
        };
        if (closed) entry.queue.push({ type: 'closed', ...closed });
        else ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
        return {
          received,
          next(ms = 30_000) {
            const queued = entry.queue.shift();
            if (queued) return Promise.resolve(take(queued));
            return new Promise<SubscriptionMessage>((res, rej) => {
              let timer: NodeJS.Timeout | undefined;
              const waiter = (m: SubscriptionMessage) => {
                clearTimeout(timer);
                res(take(m));
              };
              timer = setTimeout(() => {
                entry.waiters.splice(entry.waiters.indexOf(waiter), 1);
                rej(new Error(`subscription ${id}: no message within ${ms} ms (${query.slice(0, 120)})`));
              }, ms);
              entry.waiters.push(waiter);
            });
          },
        };
      },
      close() {
        if (closed || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
        return new Promise<void>((res) => {
          ws.once('close', () => res());
          ws.close(1000);
        });
      },
    };
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { type: string; id?: string; payload?: unknown };
      if (m.type === 'connection_ack') {
        clearTimeout(timer);
        resolve({ ok: true, connection });
      } else if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
      else if (m.type === 'next' && m.id) deliver(m.id, { type: 'next', payload: m.payload as never });
      else if (m.type === 'error' && m.id) deliver(m.id, { type: 'error', payload: m.payload as Json[] });
      else if (m.type === 'complete' && m.id) deliver(m.id, { type: 'complete' });
    });
  });
}
