/**
 * fa-sim: serves the FlashArray REST 2.x subset the pure driver uses, one port per array, over the
 * same SQLite model as the mock driver. HTTPS with a self-signed certificate it generates (plain HTTP
 * on request, for debugging). Sessions, API tokens, 401/429 and array-down behave as on an array.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Clock, systemClock } from '@protector/platform';
import { ArrayError, FlashArrayStore } from '../array/store.js';
import { startTicker } from '../array/ticker.js';
import type { ArrayRequest } from '../client/wire.js';

/** REST versions fa-sim advertises at `/api/api_version`. */
export const SIM_REST_VERSIONS = ['2.0', '2.1', '2.2', '2.4', '2.8', '2.16', '2.21', '2.26'] as const;

export interface FlashArraySimulatorOptions {
  readonly dataDir: string;
  /** Each array and the port it answers on (0 = any free port). */
  readonly arrays: ReadonlyArray<{ readonly name: string; readonly port: number }>;
  /** The API token every array accepts: one, or several (an array has one per API client). */
  readonly apiToken: string | readonly string[];
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** Serve plain HTTP instead of HTTPS (debugging only). @default false */
  readonly http?: boolean;
  readonly transferMs?: number;
  /** Session lifetime. @default 1800000 (30 min) */
  readonly sessionTtlMs?: number;
  /** How often schedules and transfers advance with no requests. @default 250 */
  readonly tickMs?: number;
  /** Simulated array time, session expiry and the tick timer run on it. @default systemClock */
  readonly clock?: Clock;
}

export interface RunningSimulator {
  readonly arrays: ReadonlyArray<{ readonly name: string; readonly url: string }>;
  /** PEM certificate the HTTPS servers present; use it as the CA bundle. Null with `http`. */
  readonly certFile: string | null;
  readonly store: FlashArrayStore;
  /** Ends every session, as an array does when sessions time out. */
  expireSessions(): void;
  stop(): Promise<void>;
}

/** Creates (once) a self-signed certificate for localhost/127.0.0.1 under `<dataDir>/tls/`. */
export function ensureCertificate(dataDir: string): { cert: string; key: string; certFile: string } {
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'fa-sim.crt');
  const keyFile = join(dir, 'fa-sim.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true });
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '3650',
        '-subj',
        '/CN=fa-sim',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: 'ignore' },
    );
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
};

const errorBody = (message: string, context = '') => ({ errors: [{ message, context }] });

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (!chunks.length) return undefined;
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The simulator's own controls, outside the REST API (`/sim/...`, the API token in header `api-token`):
 * - `GET /sim/content[?names=A,B]`: what volumes and volume snapshots hold (origin serial, write count);
 * - `POST /sim/writes?names=VOL`: a host write to a volume (mirrored to a pod's other arrays);
 * - `GET /sim/faults`, `PATCH /sim/faults {down, rate_limit, slow_factor}`: this array's faults;
 * - `PATCH /sim/links?names=OTHER {status: connected|disconnected}`: the link to another array;
 * - `GET /sim/clock`: the simulator's time (ms since the epoch).
 * They answer even while the array is down, so a test or an operator can bring it back.
 */
async function simEndpoint(
  store: FlashArrayStore,
  clock: Clock,
  apiTokens: readonly string[],
  array: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const token = req.headers['api-token'];
  if (typeof token !== 'string' || !apiTokens.includes(token)) {
    json(res, 401, errorBody('Give the API token in header api-token.', 'api-token'));
    return;
  }
  const names = (url.searchParams.get('names') ?? '').split(',').filter(Boolean);
  const route = `${req.method} ${url.pathname}`;
  try {
    const body = (await readBody(req)) as Record<string, unknown> | undefined;
    switch (route) {
      case 'GET /sim/content':
        json(res, 200, { items: store.content(array, names.length ? names : undefined) });
        return;
      case 'POST /sim/writes':
        if (!names.length) throw new SimRequestError('Name the volumes to write to: ?names=VOL.');
        json(res, 200, { items: names.map((name) => ({ name, ...store.simulateWrite(array, name) })) });
        return;
      case 'GET /sim/faults':
        json(res, 200, { items: [faultsItem(store, array)] });
        return;
      case 'PATCH /sim/faults': {
        const { down, rate_limit: rateLimit, slow_factor: slowFactor } = body ?? {};
        if (down !== undefined && typeof down !== 'boolean')
          throw new SimRequestError('down must be true or false.');
        if (rateLimit !== undefined && !(Number.isInteger(rateLimit) && (rateLimit as number) >= 0))
          throw new SimRequestError('rate_limit must be a whole number of requests, 0 or more.');
        if (slowFactor !== undefined && !(typeof slowFactor === 'number' && slowFactor >= 1))
          throw new SimRequestError('slow_factor must be a number, 1 or more.');
        store.setFaults(array, {
          ...(down !== undefined ? { down: down as boolean } : {}),
          ...(rateLimit !== undefined ? { rateLimit: rateLimit as number } : {}),
          ...(slowFactor !== undefined ? { slowFactor: slowFactor as number } : {}),
        });
        json(res, 200, { items: [faultsItem(store, array)] });
        return;
      }
      case 'PATCH /sim/links': {
        const status = body?.status;
        if (status !== 'connected' && status !== 'disconnected')
          throw new SimRequestError('status must be connected or disconnected.');
        if (!names.length) throw new SimRequestError('Name the other arrays: ?names=ARRAY.');
        for (const other of names) store.setLink(array, other, status);
        json(res, 200, { items: names.map((name) => ({ name, status: store.linkStatus(array, name) })) });
        return;
      }
      case 'GET /sim/clock':
        json(res, 200, { now: clock.now() });
        return;
      default:
        json(res, 404, errorBody(`The simulator has no control '${route}'.`));
    }
  } catch (err) {
    const status =
      err instanceof ArrayError
        ? err.status
        : err instanceof SimRequestError || err instanceof SyntaxError
          ? 400
          : 500;
    json(res, status, errorBody((err as Error).message));
  }
}

/** A bad request to a `/sim/` control. */
class SimRequestError extends Error {}

const faultsItem = (store: FlashArrayStore, array: string) => {
  const f = store.faults(array);
  return { name: array, down: f.down, rate_limit: f.rateLimit, slow_factor: f.slowFactor };
};

export async function startFlashArraySimulator(opts: FlashArraySimulatorOptions): Promise<RunningSimulator> {
  mkdirSync(opts.dataDir, { recursive: true });
  const clock = opts.clock ?? systemClock;
  const store = FlashArrayStore.open({
    file: join(opts.dataDir, 'flasharray.sqlite'),
    arrays: opts.arrays.map((a) => a.name),
    transferMs: opts.transferMs,
    now: () => clock.now(),
  });
  const tls = opts.http ? null : ensureCertificate(opts.dataDir);
  const ttl = opts.sessionTtlMs ?? 30 * 60_000;
  const sessions = new Map<string, { array: string; expires: number }>();
  const apiTokens: readonly string[] = typeof opts.apiToken === 'string' ? [opts.apiToken] : opts.apiToken;
  const host = opts.host ?? '127.0.0.1';

  const handler = (array: string) => async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.startsWith('/sim/')) {
      await simEndpoint(store, clock, apiTokens, array, req, res, url);
      return;
    }
    if (store.faults(array).down) {
      req.socket.destroy();
      return;
    }
    try {
      if (req.method === 'GET' && url.pathname === '/api/api_version') {
        json(res, 200, { version: SIM_REST_VERSIONS });
        return;
      }
      const m = /^\/api\/(2\.\d+)(\/.*)$/.exec(url.pathname);
      if (!m || !(SIM_REST_VERSIONS as readonly string[]).includes(m[1]!)) {
        json(res, 404, errorBody(`The requested resource '${url.pathname}' was not found.`));
        return;
      }
      const path = m[2]!;
      if (req.method === 'POST' && path === '/login') {
        const token = req.headers['api-token'];
        if (typeof token !== 'string' || !apiTokens.includes(token)) {
          json(res, 401, errorBody('Invalid api-token.', 'api-token'));
          return;
        }
        const session = randomBytes(24).toString('hex');
        sessions.set(session, { array, expires: clock.now() + ttl });
        json(res, 200, { items: [{ username: 'pureuser' }] }, { 'x-auth-token': session });
        return;
      }
      const token = String(req.headers['x-auth-token'] ?? '');
      const session = sessions.get(token);
      if (!session || session.array !== array || session.expires < clock.now()) {
        sessions.delete(token);
        json(
          res,
          401,
          errorBody('Authentication failed: the session is invalid or has expired. Log in again.'),
        );
        return;
      }
      if (req.method === 'POST' && path === '/logout') {
        sessions.delete(token);
        json(res, 200, {});
        return;
      }
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      let body: unknown;
      try {
        body = await readBody(req);
      } catch {
        json(res, 400, errorBody('Request body is not valid JSON.'));
        return;
      }
      const out = store.handle(array, { method: req.method as ArrayRequest['method'], path, query, body });
      json(res, out.status, out.body, { ...out.headers });
    } catch (err) {
      json(res, 500, errorBody(`Internal error: ${(err as Error).message}`));
    }
  };

  const servers: Server[] = [];
  const urls: { name: string; url: string }[] = [];
  for (const a of opts.arrays) {
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler(a.name))
      : createHttpServer(handler(a.name));
    server.keepAliveTimeout = 5_000;
    // An array that is down drops its connections (its /sim/ controls still answer, on the request).
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(a.port, host, resolve);
    });
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    urls.push({
      name: a.name,
      url: `${tls ? 'https' : 'http'}://${host === '127.0.0.1' ? '127.0.0.1' : host}:${port}`,
    });
  }
  const stopTicker = startTicker(clock, opts.tickMs ?? 250, () => store.tick());

  return {
    arrays: urls,
    certFile: tls?.certFile ?? null,
    store,
    expireSessions: () => sessions.clear(),
    async stop() {
      stopTicker();
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      store.close();
    },
  };
}
