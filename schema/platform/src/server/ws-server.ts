/**
 * graphql-ws's protocol (`graphql-transport-ws`, its `makeServer`) over `ws` connections. It does what
 * graphql-ws's `useServer` does, keeping less per connection, which counts at 10,000 subscribers:
 * - a connection keeps its socket only, not the upgrade request and its headers (no hook reads them);
 * - one timer pings every connection and closes those that did not answer the previous ping in time
 *   (`useServer`: two timers and a listener per connection);
 * - graphql-ws gets each message parsed, with the query text of a subscription replaced by the one
 *   string every subscriber that sent the same text shares: graphql-ws keeps each subscription's
 *   message (and the text it was parsed from) while the subscription lives.
 */
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';

/** How often each connection is pinged, and how long it has to answer. */
export const SUBSCRIPTION_KEEP_ALIVE_MS = 12_000;
/** How many distinct subscription texts are shared (the oldest goes first). */
const TEXTS_KEPT = 500;

export interface SubscriptionServer {
  /** Closes every connection ("Going away") and the WebSocket server. */
  dispose(): Promise<void>;
}

export function serveSubscriptions(
  options: ServerOptions,
  wss: WebSocketServer,
  keepAliveMs = SUBSCRIPTION_KEEP_ALIVE_MS,
): SubscriptionServer {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;

  const unanswered = new WeakSet<WebSocket>();
  function answered(this: WebSocket): void {
    unanswered.delete(this);
  }
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (socket.readyState !== socket.OPEN) continue;
      if (unanswered.has(socket)) {
        socket.terminate();
        continue;
      }
      unanswered.add(socket);
      socket.ping();
    }
  }, keepAliveMs);
  pinger.unref();

  const texts = new Map<string, string>();
  const shared = (text: string): string => {
    const known = texts.get(text);
    if (known !== undefined) return known;
    if (texts.size >= TEXTS_KEPT) texts.delete(texts.keys().next().value!);
    texts.set(text, text);
    return text;
  };
  /** The message parsed, or its text when it is not JSON (graphql-ws then refuses it as it would). */
  const parsed = (text: string): unknown => {
    if (options.jsonMessageReviver) return text;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return text;
    }
    const payload = (message as { payload?: { query?: unknown } } | null)?.payload;
    if (payload && typeof payload === 'object' && typeof payload.query === 'string')
      payload.query = shared(payload.query);
    return message;
  };

  const internalError = (socket: WebSocket, err: unknown) => {
    console.error('Internal error in a subscription connection:', err);
    socket.close(CloseCode.InternalServerError, 'Internal server error');
  };

  wss.on('connection', (socket: WebSocket) => {
    socket.once('error', (err) => internalError(socket, err));
    socket.on('pong', answered);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', async (data) => {
            try {
              // graphql-ws takes a parsed message as well as its text.
              await cb(parsed(String(data)) as string);
            } catch (err) {
              internalError(socket, err);
            }
          }),
      },
      { socket },
    );
    socket.once('close', (code, reason) => {
      void closed(code, String(reason));
    });
  });

  return {
    async dispose() {
      clearInterval(pinger);
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
