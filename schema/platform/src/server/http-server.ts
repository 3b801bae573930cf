/**
 * One HTTP server for a GraphQL service on node:http: Apollo Server for queries and mutations,
 * graphql-ws (`graphql-transport-ws`) on the same path for subscriptions, plus plain routes such as
 * `/healthz`, `/readyz` and `/metrics`. The site service and the gateway both use it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { ERROR_CODES, type ErrorCode, ProtectorError } from '@protector/schema';
import { type GraphQLSchema, getOperationAST, parse } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { WebSocket, WebSocketServer } from 'ws';
import { InFlight } from '../concurrency.js';
import { callerKey, type RateLimit, RateLimiter } from './rate-limit.js';
import { sharedPayloads } from './shared-payloads.js';
import { serveSubscriptions } from './ws-server.js';

/** Connections with frames written in this turn of the event loop, corked until the next turn. */
const corked = new Set<Duplex>();

/** Holds the connection's writes until the next turn of the event loop, then writes them at once. */
function writeTogetherThisTurn(connection: Duplex): void {
  if (corked.has(connection)) return;
  connection.cork();
  corked.add(connection);
  if (corked.size > 1) return;
  setImmediate(() => {
    const connections = [...corked];
    corked.clear();
    for (const c of connections) c.uncork();
  });
}

/**
 * How long an idle keep-alive connection is kept, and how long clients are told they may reuse one.
 * A client reuses an idle connection for the advertised time (undici: less 2 s); the server closes
 * it after its own. The gap must outlast the server's own lateness: a saturated server runs its
 * timers seconds late and before it reads what arrived meanwhile, so with the two equal (Node's
 * default: 1 s apart) it closed connections a request had just been sent on, and the client got
 * ECONNRESET instead of an answer (seen at a site answering 50 clients' 500-group pages).
 */
const KEEP_IDLE_MS = 30_000;
const KEEP_ALIVE_ADVERTISED_S = 10;

/** Tells a keep-alive client the shorter reuse time (Node would advertise the whole `KEEP_IDLE_MS`). */
function advertiseKeepAlive(req: IncomingMessage, res: ServerResponse): void {
  const http11 = req.httpVersionMajor === 1 && req.httpVersionMinor === 1;
  if (!http11 || /\bclose\b/i.test(req.headers.connection ?? '')) return;
  res.setHeader('connection', 'keep-alive');
  res.setHeader('keep-alive', `timeout=${KEEP_ALIVE_ADVERTISED_S}`);
}

/** A plain route: gets the request, writes the response. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface GraphQLHttpServerOptions<TContext extends BaseContext> {
  readonly apollo: ApolloServer<TContext>;
  /** Builds the per-request context from the HTTP request (auth happens here). */
  readonly context: (req: IncomingMessage) => Promise<TContext>;
  /** graphql-ws options (schema, onConnect auth, context, custom subscribe); omit for no subscriptions. */
  readonly subscriptions?: ServerOptions & { schema?: GraphQLSchema };
  /**
   * Extra routes by exact path, e.g. `/healthz`; `GET /` may serve a page. A key ending in `/*`
   * (e.g. `/playground/*`) serves every path under that prefix; exact paths win over prefixes.
   */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
  /** @default '/graphql' */
  readonly path?: string;
  readonly host?: string;
  /** 0 = any free port. */
  readonly port: number;
  /** Largest request body accepted. @default 1 MiB */
  readonly maxBodyBytes?: number;
  /** Per-caller rate limit on the GraphQL path (HTTP and new WebSocket connections). @default off */
  readonly rateLimit?: RateLimit;
  /**
   * The authority a request acts with, for sharing answers: identical queries (text, operation name,
   * variables, extensions) in flight with the same authority are executed once, and each gets the
   * answer. Null (or absent) for a request that must not share (e.g. one without credentials).
   * Mutations are never shared.
   */
  readonly authority?: (req: IncomingMessage) => string | null;
  /** Told of each GraphQL request refused for load, with the code it got (e.g. for a metric). */
  readonly onRefused?: (code: 'RATE_LIMITED' | 'OVERLOADED') => void;
}

export interface RunningHttpServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Reads a request body up to `limit` bytes; larger bodies are refused with 413 PAYLOAD_TOO_LARGE. */
export async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new ProtectorError(
        'PAYLOAD_TOO_LARGE',
        `Request body exceeds ${limit} bytes; send a smaller request.`,
      );
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes a JSON response. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

/** Refuses a request at the HTTP level: the registered code's status, and a GraphQL-shaped error body. */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
) {
  sendJson(
    res,
    ERROR_CODES[code].httpStatus,
    { errors: [{ message, extensions: { code, retryable: ERROR_CODES[code].retryable } }] },
    headers,
  );
}

/** The handler of the longest `/prefix/*` route that `pathname` falls under, if any. */
function prefixRoute(
  routes: Readonly<Record<string, RouteHandler>> | undefined,
  pathname: string,
): RouteHandler | undefined {
  let best: { length: number; handler: RouteHandler } | undefined;
  for (const [key, handler] of Object.entries(routes ?? {})) {
    if (!key.endsWith('/*')) continue;
    const prefix = key.slice(0, -1);
    if (pathname.startsWith(prefix) && (!best || prefix.length > best.length)) {
      best = { length: prefix.length, handler };
    }
  }
  return best?.handler;
}

/** Whether a GraphQL request (JSON body, or GET parameters) runs a mutation. */
function isMutation(body: unknown, search: string): boolean {
  const params = new URLSearchParams(search);
  const request = (typeof body === 'object' && body ? body : {}) as {
    query?: unknown;
    operationName?: unknown;
  };
  const query = String(request.query ?? params.get('query') ?? '');
  const name = request.operationName ?? params.get('operationName');
  return !isQuery(query, typeof name === 'string' ? name : undefined);
}

/** Operation type of (text, name) pairs seen lately: `query` or not (the oldest goes first). */
const queryKinds = new Map<string, boolean>();
const QUERY_KINDS_KEPT = 500;

/** Whether the operation `name` of `text` (the only one, without a name) is a query; unparsable: no. */
function isQuery(text: string, name: string | undefined): boolean {
  const key = `${name ?? ''}\u0000${text}`;
  let known = queryKinds.get(key);
  if (known === undefined) {
    try {
      known = getOperationAST(parse(text), name)?.operation === 'query';
    } catch {
      known = false;
    }
    if (queryKinds.size >= QUERY_KINDS_KEPT) queryKinds.delete(queryKinds.keys().next().value!);
    queryKinds.set(key, known);
  }
  return known;
}

type HttpResult = Awaited<ReturnType<ApolloServer<BaseContext>['executeHTTPGraphQLRequest']>>;

/**
 * The key under which a request's answer may be shared: a POSTed query (never a mutation) with an
 * authority; null otherwise.
 */
function sharingKey(body: unknown, authority: string | null): string | null {
  if (!authority || typeof body !== 'object' || !body) return null;
  const { query, operationName, variables, extensions } = body as Record<string, unknown>;
  if (typeof query !== 'string') return null;
  if (!isQuery(query, typeof operationName === 'string' ? operationName : undefined)) return null;
  return JSON.stringify([authority, query, operationName ?? null, variables ?? null, extensions ?? null]);
}

/** A refusal of the credentials the answer was executed with (another request's, when shared). */
const refusedCredentials = (result: HttpResult) =>
  result.body.kind === 'complete' && result.body.string.includes('"UNAUTHENTICATED"');

/** The message of an OVERLOADED error in a GraphQL answer, or null. */
function overloadError(body: string): string | null {
  try {
    const errors = (JSON.parse(body) as { errors?: { message?: string; extensions?: { code?: string } }[] })
      .errors;
    const e = errors?.find((x) => x.extensions?.code === 'OVERLOADED');
    return e ? String(e.message) : null;
  } catch {
    return null;
  }
}

export async function startGraphQLHttpServer<TContext extends BaseContext>(
  opts: GraphQLHttpServerOptions<TContext>,
): Promise<RunningHttpServer> {
  const path = opts.path ?? '/graphql';
  const limit = opts.maxBodyBytes ?? 1024 * 1024;
  const limiter = new RateLimiter(opts.rateLimit ?? { perSecond: 0, burst: 1 });
  const maxInFlight = opts.rateLimit?.maxInFlight ?? 0;
  let inFlight = 0;
  /** Shared answers in flight (see `authority`), by `sharingKey`; each request only reads its answer. */
  const answering = new InFlight<HttpResult>({ copies: false });
  /** Refuses a caller over its rate limit; true when the request was refused. */
  const overLimit = (req: IncomingMessage, res: ServerResponse): boolean => {
    const wait = limiter.take(callerKey(req));
    if (!wait) return false;
    opts.onRefused?.('RATE_LIMITED');
    sendError(res, 'RATE_LIMITED', `Too many requests from this caller; retry in ${wait} s.`, {
      'retry-after': String(wait),
    });
    return true;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    advertiseKeepAlive(req, res);
    try {
      const route = opts.routes?.[url.pathname] ?? prefixRoute(opts.routes, url.pathname);
      if (route && !(url.pathname === path)) {
        await route(req, res);
        return;
      }
      if (url.pathname !== path) {
        sendError(res, 'NOT_FOUND', `No route for ${url.pathname}; GraphQL is served at ${path}.`);
        return;
      }
      if (overLimit(req, res)) return;
      if (maxInFlight > 0 && inFlight >= maxInFlight) {
        opts.onRefused?.('OVERLOADED');
        sendError(
          res,
          'OVERLOADED',
          `The server is working on ${inFlight} requests, its limit ([api] max_in_flight); retry in 1 s.`,
          { 'retry-after': '1' },
        );
        return;
      }
      inFlight++;
      res.once('close', () => {
        inFlight--;
      });
      if (req.method !== 'GET' && req.method !== 'POST') {
        sendError(res, 'METHOD_NOT_ALLOWED', `${req.method} is not served at ${path}; use GET or POST.`, {
          allow: 'GET, POST',
        });
        return;
      }
      // A browser asking for the GraphQL path itself gets the page at `/` when one is served there.
      if (
        req.method === 'GET' &&
        !url.search &&
        opts.routes?.['/'] &&
        String(req.headers.accept).includes('text/html')
      ) {
        await opts.routes['/'](req, res);
        return;
      }
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      }
      const text = req.method === 'POST' ? await readBody(req, limit) : '';
      // A client that gave up while the request waited (a gateway's timeout) gets no work done for it:
      // an overloaded server does not spend itself on answers nobody reads.
      if (req.socket.destroyed || res.destroyed) return;
      let body: unknown = text;
      if (text && String(req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          body = JSON.parse(text);
        } catch {
          sendError(res, 'BAD_REQUEST', 'Request body is not valid JSON.');
          return;
        }
      }
      const execute = () =>
        opts.apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
          context: () => opts.context(req),
        });
      const key = req.method === 'POST' && opts.authority ? sharingKey(body, opts.authority(req)) : null;
      // Executed with another request's credentials of the same authority, which were refused (revoked
      // since): this request's own decide for it. A streamed answer is read once only.
      const result = key
        ? await answering.run(
            key,
            execute,
            (o) =>
              o.status === 'fulfilled' && (o.value.body.kind !== 'complete' || refusedCredentials(o.value)),
          )
        : await execute();
      if (result.body.kind === 'complete') {
        // A part of the answer refused for overload (a site without a free turn): the whole request
        // is 503 with Retry-After, never a partial answer.
        const overloaded = result.body.string.includes('"OVERLOADED"') && overloadError(result.body.string);
        // A mutation's answer is never replaced: what it changed is in it.
        if (overloaded && !isMutation(body, url.search)) {
          opts.onRefused?.('OVERLOADED');
          sendError(res, 'OVERLOADED', overloaded, { 'retry-after': '1' });
          return;
        }
      }
      for (const [k, v] of result.headers) res.setHeader(k, v);
      res.statusCode = result.status ?? 200;
      if (result.body.kind === 'complete') {
        res.end(result.body.string);
      } else {
        for await (const chunk of result.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } catch (err) {
      if (res.headersSent) res.end();
      else if (err instanceof ProtectorError)
        // The rest of an oversized body is never read: close the connection rather than leave the
        // next request on it waiting behind that body.
        sendError(
          res,
          err.code,
          err.message,
          err.code === 'PAYLOAD_TOO_LARGE' ? { connection: 'close' } : {},
        );
      else sendError(res, 'INTERNAL', 'The request failed inside the server; see its log.');
    }
  });
  server.keepAliveTimeout = KEEP_IDLE_MS;

  let wss: WebSocketServer | null = null;
  let disposeWs: (() => Promise<void> | void) | null = null;
  if (opts.subscriptions) {
    // A payload many subscribers are sent (one shared execution) is serialised once, and its message
    // encoded once per subscription id: every socket writes those bytes (a method of the class, not a
    // closure per socket).
    // A frame is written with the others its socket is sent in the same turn of the event loop (the
    // events a subscriber was owed, see `EventHub`): one write instead of one per event. Its sender
    // is told at once that it was sent, so the next pending event's frame joins the same write; the
    // order of frames is the socket's, and a failed write closes the socket (graphql-ws then ends
    // its subscriptions).
    const shared = sharedPayloads();
    class SharedFrameWebSocket extends WebSocket {
      /** The upgraded connection, corked while a turn's frames are written. */
      connection: Duplex | null = null;

      /**
       * Sends subscription `id` a `next` message (graphql-ws's format) whose payload many sockets
       * share: serialised once, and encoded once per subscription id.
       */
      sendNext(id: string, payload: object): void {
        this.send(JSON.stringify({ id, type: 'next', payload }, shared.replacer));
      }

      override send(data: unknown, options?: unknown, cb?: unknown): void {
        const text = typeof data === 'string';
        // A shared message comes as its bytes: still a text frame.
        const frame = text ? shared.frame(data) : data;
        const send = super.send as (data: unknown, options?: unknown, cb?: unknown) => void;
        const done = typeof options === 'function' ? options : cb;
        const given = (typeof options === 'function' ? undefined : options) as object | undefined;
        const sendOptions = text ? { ...given, binary: false } : given;
        if (this.readyState !== WebSocket.OPEN || !this.connection) {
          send.call(this, frame, sendOptions ?? {}, done);
          return;
        }
        writeTogetherThisTurn(this.connection);
        send.call(this, frame, sendOptions ?? {});
        if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      }
    }
    wss = new WebSocketServer({ noServer: true, WebSocket: SharedFrameWebSocket });
    const handle = serveSubscriptions({ ...opts.subscriptions, jsonMessageReplacer: shared.replacer }, wss);
    disposeWs = () => handle.dispose();
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== path || limiter.take(callerKey(req))) {
        socket.destroy();
        return;
      }
      wss!.handleUpgrade(req, socket, head, (ws) => {
        (ws as SharedFrameWebSocket).connection = socket;
        wss!.emit('connection', ws);
      });
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  const addr = server.address() as AddressInfo;
  const host =
    addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
  return {
    url: `http://${host}:${addr.port}${path}`,
    port: addr.port,
    server,
    async stop() {
      await disposeWs?.();
      for (const client of wss?.clients ?? []) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
