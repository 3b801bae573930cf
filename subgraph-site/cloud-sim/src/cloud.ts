import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { CINDER_MICROVERSIONS, cinderRoutes } from './cinder.js';
import { resumeManaging } from './cinder-manage.js';
import { DEFAULT_ARRAY_HOST, extractHost, poolHostProblem } from './cinder-services.js';
import type { CloudTiming, SimContext } from './context.js';
import { FaultInjector } from './faults.js';
import { glanceRoutes } from './glance.js';
import {
  ANONYMOUS,
  API_MAX_LIMIT,
  ApiError,
  type ApiRequest,
  type ApiResponse,
  atLeast,
  type CloudService,
  matchPath,
  newRequestId,
  type Route,
  renderError,
} from './http.js';
import { keystoneRoutes } from './keystone.js';
import { authenticateToken } from './keystone-tokens.js';
import { neutronRoutes } from './neutron.js';
import { NOVA_MICROVERSIONS, novaRoutes } from './nova.js';
import { type SeedOptions, type SeedResult, seedCloud } from './seed.js';
import { CloudStore } from './store.js';
import type { CloudVolumeBackend } from './volume-backend.js';

/** Options of {@link createSimulatedCloud}. */
export interface SimulatedCloudOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** SQLite file, or ':memory:'. @default ':memory:' */
  database?: string;
  /** Region of every catalog endpoint. @default 'RegionOne' */
  region?: string;
  /** Base URL the catalog advertises, when clients reach the cloud through another address. @default the listen address */
  publicUrl?: string;
  /** Lifetime of issued Keystone tokens. @default 3600 */
  tokenLifetimeSeconds?: number;
  /** Simulated durations; see {@link CloudTiming}. */
  timing?: Partial<CloudTiming>;
  /** The array behind replication-enabled volume types; without it volumes live in SQLite only. */
  volumeBackend?: CloudVolumeBackend;
  /**
   * The Cinder host (`host@backend#pool`) of the array backend: its cinder-volume service
   * (`host@backend`) and pool exist, volumes of replication-enabled types are placed there, and
   * manage-existing accepts it. A local LVM backend runs beside it (`host@lvm#lvm`).
   * @default 'cinder@pure#pure'
   */
  volumeHost?: string;
  /** Seed identities, catalog, flavors, networks, volume types (idempotent), or `false` for an empty cloud. @default {} */
  seed?: SeedOptions | false;
  /** Clock in ms since epoch; tests move it to expire tokens or finish boots. @default Date.now */
  now?: () => number;
  /**
   * The most items one Nova, Cinder or Glance list answers, whatever `limit` asks for (Nova's
   * `[api] max_limit`, Cinder's `osapi_max_limit`, Glance's `api_limit_max`). @default 1000
   */
  maxLimit?: number;
}

/** A running simulated OpenStack cloud. */
export interface SimulatedCloud {
  /** Base URL (`http://127.0.0.1:PORT`); services live under /v3, /compute, /volume, /network, /image. */
  readonly url: string;
  /** Keystone v3 auth URL (`<url>/v3`). */
  readonly keystoneUrl: string;
  readonly region: string;
  /** What the seed created (undefined with `seed: false`). */
  readonly seed: SeedResult | undefined;
  /** Fault injection: `cloud.faults.set({ service: 'compute', op: 'create_server', error: 500, times: 1 })`. */
  readonly faults: FaultInjector;
  /** The SQLite store behind the cloud. */
  readonly store: CloudStore;
  /** Changes simulated latency, boot, power and volume-creation times. */
  setTiming(timing: Partial<CloudTiming>): void;
  /** Takes the cloud down: 'refuse' closes the port (connection refused), 'unavailable' answers 503; false brings it back. */
  setDown(mode: 'refuse' | 'unavailable' | false): Promise<void>;
  stop(): Promise<void>;
}

interface Microversions {
  name: string;
  min: string;
  max: string;
  /** Nova still reads and writes its pre-2.27 header. */
  legacyHeader?: string;
}

const MICROVERSIONS: Partial<Record<CloudService, Microversions>> = {
  compute: { name: 'compute', ...NOVA_MICROVERSIONS, legacyHeader: 'x-openstack-nova-api-version' },
  volume: { name: 'volume', ...CINDER_MICROVERSIONS },
};

const SERVICE_PREFIXES: Record<string, CloudService> = {
  compute: 'compute',
  volume: 'volume',
  network: 'network',
  image: 'image',
};

/** Picks the microversion a request asks for, as Nova and Cinder do (400 when malformed, 406 when out of range). */
function negotiateMicroversion(spec: Microversions, req: IncomingMessage): string {
  const header = req.headers['openstack-api-version'];
  let requested: string | undefined;
  for (const part of String(header ?? '').split(',')) {
    const [service, version] = part.trim().split(/\s+/);
    if (service?.toLowerCase() === spec.name && version) requested = version;
  }
  const legacy = spec.legacyHeader ? req.headers[spec.legacyHeader] : undefined;
  requested ??= typeof legacy === 'string' ? legacy.trim() : undefined;
  if (!requested) return spec.min;
  if (requested === 'latest') return spec.max;
  if (!/^\d+\.\d+$/.test(requested)) {
    throw new ApiError(
      400,
      `API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`,
    );
  }
  if (!atLeast(requested, spec.min) || !atLeast(spec.max, requested)) {
    throw new ApiError(
      406,
      `Version ${requested} is not supported by the API. Minimum is ${spec.min} and maximum is ${spec.max}.`,
    );
  }
  return requested;
}

function microversionHeaders(spec: Microversions | undefined, version: string): Record<string, string> {
  if (!spec || !version) return {};
  return {
    'OpenStack-API-Version': `${spec.name} ${version}`,
    Vary: spec.legacyHeader ? 'OpenStack-API-Version, X-OpenStack-Nova-API-Version' : 'OpenStack-API-Version',
    ...(spec.legacyHeader ? { 'X-OpenStack-Nova-API-Version': version } : {}),
  };
}

async function readBody(req: IncomingMessage, service: CloudService): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(
      400,
      service === 'identity'
        ? 'Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.'
        : 'Malformed request body',
    );
  }
}

function send(
  res: ServerResponse,
  method: string,
  response: ApiResponse,
  headers: Record<string, string>,
): void {
  const noBody = response.status === 204 || method === 'HEAD';
  const payload = response.text ?? (response.body === undefined ? '' : JSON.stringify(response.body));
  const contentType = response.text === undefined ? 'application/json' : 'text/plain; charset=UTF-8';
  res.writeHead(response.status, {
    ...headers,
    ...response.headers,
    ...(noBody ? {} : { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(payload)) }),
  });
  res.end(noBody ? undefined : payload);
}

/**
 * Starts a simulated OpenStack cloud (Keystone v3, Nova v2.1, Cinder v3, Neutron v2.0, Glance v2)
 * over HTTP, backed by SQLite. Real clients (ours, python-openstackclient) talk to it as to a
 * real cloud.
 */
export async function createSimulatedCloud(options: SimulatedCloudOptions = {}): Promise<SimulatedCloud> {
  const host = options.host ?? '127.0.0.1';
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  if (!(tokenLifetimeSeconds > 0)) {
    throw new Error(
      `tokenLifetimeSeconds must be a positive number of seconds; got ${tokenLifetimeSeconds}.`,
    );
  }
  const arrayHost = options.volumeHost ?? DEFAULT_ARRAY_HOST;
  const hostProblem = poolHostProblem(arrayHost);
  if (hostProblem) {
    throw new Error(
      `volumeHost ${hostProblem}; give the array backend's Cinder pool, e.g. ${DEFAULT_ARRAY_HOST}.`,
    );
  }
  const store = new CloudStore(options.database ?? ':memory:');
  const timing: CloudTiming = {
    latencyMs: 0,
    bootTimeMs: 500,
    powerTimeMs: 0,
    volumeCreateMs: 0,
    ...options.timing,
  };
  const faults = new FaultInjector();
  const ctx: SimContext = {
    store,
    faults,
    timing,
    region: options.region ?? 'RegionOne',
    tokenLifetimeMs: tokenLifetimeSeconds * 1000,
    backend: options.volumeBackend,
    arrayHost,
    now: options.now ?? Date.now,
    maxLimit: options.maxLimit ?? API_MAX_LIMIT,
  };
  const seed =
    options.seed === false
      ? undefined
      : seedCloud(store, { arrayBackendName: extractHost(arrayHost, 'pool') ?? 'pure', ...options.seed });
  // The volume service carries on what a stopped simulator left under way.
  await resumeManaging(ctx);
  const routes: Record<CloudService, Route[]> = {
    identity: keystoneRoutes(ctx),
    compute: novaRoutes(ctx),
    volume: cinderRoutes(ctx),
    network: neutronRoutes(ctx),
    image: glanceRoutes(ctx),
  };
  let baseUrl = '';
  let keystoneUrl = '';
  let down: 'refuse' | 'unavailable' | false = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://cloud');
    const segments = url.pathname.split('/').filter(Boolean);
    const service: CloudService = SERVICE_PREFIXES[segments[0] ?? ''] ?? 'identity';
    const path = service === 'identity' ? url.pathname : `/${segments.slice(1).join('/')}`;
    const requestId = newRequestId();
    const headers: Record<string, string> = {
      'X-OpenStack-Request-Id': requestId,
      ...(service === 'compute' ? { 'X-Compute-Request-Id': requestId } : {}),
    };
    const spec = MICROVERSIONS[service];
    try {
      if (down === 'unavailable')
        throw new ApiError(503, 'The server is currently unavailable. Please try again at a later time.');
      const candidates = routes[service]
        .map((route) => ({ route, params: matchPath(route.path, path) }))
        .filter((m): m is { route: Route; params: Record<string, string> } => m.params !== undefined);
      if (candidates.length === 0) throw new ApiError(404, 'The resource could not be found.');
      const match = candidates.find((m) => m.route.method === method);
      if (!match) throw new ApiError(405, `The method ${method} is not allowed for this resource.`);
      const body = await readBody(req, service);
      const fault = faults.take(service, match.route.op);
      const wait = timing.latencyMs + (fault?.delayMs ?? 0);
      if (wait > 0) await delay(wait);
      if (fault?.error) {
        throw new ApiError(fault.error, fault.message ?? `Injected fault on ${service} ${match.route.op}.`);
      }
      let auth = ANONYMOUS;
      if (!match.route.public) {
        const token = req.headers['x-auth-token'];
        const found = typeof token === 'string' ? authenticateToken(ctx, token) : undefined;
        if (!found) {
          const error = new ApiError(401, 'The request you have made requires authentication.');
          const rendered = renderError('identity', error);
          send(res, method, rendered, { ...headers, 'WWW-Authenticate': `Keystone uri="${keystoneUrl}"` });
          return;
        }
        auth = found;
        if (service !== 'identity' && !auth.projectId) {
          throw new ApiError(403, 'A project-scoped token is required.');
        }
        const urlProject = match.params.project_id;
        if (urlProject && urlProject !== auth.projectId && !auth.isAdmin) {
          throw new ApiError(
            403,
            `Policy doesn't allow access to project ${urlProject} with a token scoped to project ${auth.projectId}.`,
          );
        }
      }
      const microversion = spec && !match.route.public ? negotiateMicroversion(spec, req) : '';
      Object.assign(headers, microversionHeaders(spec, microversion));
      const request: ApiRequest = {
        method,
        params: match.params,
        query: url.searchParams,
        headers: req.headers,
        body,
        auth,
        microversion,
        baseUrl,
        url: req.url ?? '/',
      };
      send(res, method, await match.route.handler(request), headers);
    } catch (err) {
      const error =
        err instanceof ApiError ? err : new ApiError(500, `Unexpected API Error: ${(err as Error).message}`);
      send(res, method, renderError(service, error), headers);
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  const port = await listen(options.port ?? 0);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  baseUrl = (options.publicUrl ?? `http://${hostPart}:${port}`).replace(/\/$/, '');
  keystoneUrl = `${baseUrl}/v3`;

  return {
    url: baseUrl,
    keystoneUrl,
    region: ctx.region,
    seed,
    faults,
    store,
    setTiming(change) {
      Object.assign(timing, change);
    },
    async setDown(mode) {
      if (mode === 'refuse' && down !== 'refuse') await close();
      if (mode !== 'refuse' && down === 'refuse') await listen(port);
      down = mode;
    },
    async stop() {
      if (down !== 'refuse') await close();
      store.close();
    },
  };
}
