import { keystoneTime } from '@protector/platform';
import { ProtectorError } from '@protector/schema';
import { type Dispatcher, request } from 'undici';
import type { CatalogEntry, OpenStackService, TokenInfo } from './types.js';

/** How the client proves who it is to Keystone v3. */
export type OpenStackCredentials =
  | {
      type: 'password';
      /** User name (with its domain) or `userId`. */
      username?: string;
      userId?: string;
      /** @default 'Default' (when neither domain option is given) */
      userDomainName?: string;
      userDomainId?: string;
      password: string;
      /** Project to scope to, by id or by name (with its domain). */
      projectId?: string;
      projectName?: string;
      /** @default 'Default' (when neither domain option is given) */
      projectDomainName?: string;
      projectDomainId?: string;
    }
  | {
      /** Application credentials carry their own project scope. */
      type: 'applicationCredential';
      id: string;
      secret: string;
    };

/** Options of the Keystone session under the client. */
export interface SessionOptions {
  /** Keystone v3 URL, with or without the trailing `/v3`. */
  authUrl: string;
  credentials: OpenStackCredentials;
  /** Region of the endpoints to use. @default the first region the catalog lists for a service */
  region?: string;
  /** @default 'public' */
  interface?: 'public' | 'internal' | 'admin';
  /** Microversions sent to Nova and Cinder. @default { compute: '2.79', volume: '3.59' } */
  microversions?: { compute?: string; volume?: string };
  /** Per-request timeout. @default 30000 */
  timeoutMs?: number;
  /** Re-authenticate this long before the token expires (at most half its lifetime). @default 60000 */
  tokenRefreshMarginMs?: number;
  /** undici dispatcher, e.g. an Agent with a CA bundle. @default undici's global dispatcher */
  dispatcher?: Dispatcher;
  /** Clock in ms since epoch. @default Date.now */
  now?: () => number;
}

/** One HTTP call through the session. */
export interface SessionRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** Path appended to the service endpoint (for Cinder: after `/v3/{project_id}`). */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Project whose resources the call addresses, for services with the project in their URL (Cinder):
   * replaces the token's project there. Admin only; default: the token's project.
   */
  projectId?: string;
}

/** What came back. */
export interface SessionResponse<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

interface CachedToken {
  id: string;
  info: TokenInfo;
  catalog: CatalogEntry[];
  /** When to authenticate again, on the local clock (immune to clock skew with Keystone). */
  refreshAt: number;
}

/** Catalog types that may name each service, in order of preference. */
const CATALOG_TYPES: Record<Exclude<OpenStackService, 'identity'>, string[]> = {
  compute: ['compute'],
  volume: ['volumev3', 'block-storage', 'volume'],
  network: ['network'],
  image: ['image'],
};

/** Version suffix a catalog URL lacks for services registered unversioned. */
const VERSION_SUFFIX: Partial<Record<OpenStackService, string>> = { network: '/v2.0', image: '/v2' };

const SERVICE_NAMES: Record<OpenStackService, string> = {
  identity: 'Keystone',
  compute: 'Nova',
  volume: 'Cinder',
  network: 'Neutron',
  image: 'Glance',
};

/**
 * Which failures become which error code. Everything else is CLOUD_ERROR.
 * - 404: NOT_FOUND (the object is gone; callers treat deletes as done).
 * - 409: INVALID_STATE (Nova/Cinder refuse the state transition, e.g. stop a stopped server).
 * - 403: FORBIDDEN (the token's roles or project do not allow it).
 * - 401 is retried once with a fresh token, then CLOUD_ERROR: our own credentials are refused.
 * - Timeouts and refused connections: CLOUD_ERROR with status 0.
 */
const CODE_BY_STATUS: Partial<Record<number, 'NOT_FOUND' | 'INVALID_STATE' | 'FORBIDDEN'>> = {
  404: 'NOT_FOUND',
  409: 'INVALID_STATE',
  403: 'FORBIDDEN',
};

/** Pulls the message out of any OpenStack error body (Nova/Cinder fault, NeutronError, Keystone error, text). */
export function faultMessage(body: unknown, text: string): string {
  if (typeof body === 'object' && body !== null) {
    for (const value of Object.values(body)) {
      if (typeof value === 'object' && value !== null && 'message' in value) return String(value.message);
    }
    if ('message' in body) return String(body.message);
  }
  return text.replace(/\s+/g, ' ').trim() || 'no error message';
}

/** Reads the caller facts out of a Keystone token body. */
export function parseTokenInfo(token: Record<string, unknown>): TokenInfo {
  const user = token.user as { id: string; name: string; domain?: { id: string } };
  const project = token.project as { id: string; name: string; domain?: { id: string } } | undefined;
  const roles = (token.roles as { name: string }[] | undefined) ?? [];
  const appCredential = token.application_credential as { id: string } | undefined;
  return {
    userId: user.id,
    userName: user.name,
    userDomainId: user.domain?.id ?? 'default',
    projectId: project?.id ?? null,
    projectName: project?.name ?? null,
    projectDomainId: project?.domain?.id ?? null,
    roles: roles.map((r) => r.name),
    expiresAt: new Date(keystoneTime(String(token.expires_at))),
    issuedAt: new Date(String(token.issued_at)),
    applicationCredentialId: appCredential?.id ?? null,
  };
}

/** The Keystone v3 auth body for the credentials. */
function authBody(credentials: OpenStackCredentials): unknown {
  if (credentials.type === 'applicationCredential') {
    return {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: credentials.id, secret: credentials.secret },
        },
      },
    };
  }
  const domain = (id?: string, name?: string) => (id ? { id } : { name: name ?? 'Default' });
  const user = credentials.userId
    ? { id: credentials.userId, password: credentials.password }
    : {
        name: credentials.username,
        domain: domain(credentials.userDomainId, credentials.userDomainName),
        password: credentials.password,
      };
  let scope: unknown;
  if (credentials.projectId) scope = { project: { id: credentials.projectId } };
  else if (credentials.projectName) {
    scope = {
      project: {
        name: credentials.projectName,
        domain: domain(credentials.projectDomainId, credentials.projectDomainName),
      },
    };
  }
  return { auth: { identity: { methods: ['password'], password: { user } }, ...(scope ? { scope } : {}) } };
}

/**
 * A Keystone v3 session: authenticates, caches the token and refreshes it before it expires,
 * picks endpoints from the catalog, and sends requests with the token, microversions and a
 * timeout, turning failures into ProtectorErrors.
 */
export class KeystoneSession {
  readonly #options: SessionOptions;
  readonly #authUrl: string;
  readonly #now: () => number;
  #token: CachedToken | undefined;
  #pending: Promise<CachedToken> | undefined;

  constructor(options: SessionOptions) {
    if (!/^https?:\/\//.test(options.authUrl)) {
      throw new ProtectorError(
        'CONFIG_INVALID',
        `authUrl '${options.authUrl}' must be an http(s) URL of Keystone v3.`,
      );
    }
    this.#options = options;
    this.#authUrl = `${options.authUrl.replace(/\/+$/, '').replace(/\/v3$/, '')}/v3`;
    this.#now = options.now ?? Date.now;
  }

  /** A valid token, authenticating when there is none or it is about to expire. */
  async token(): Promise<CachedToken> {
    const cached = this.#token;
    if (cached && this.#now() < cached.refreshAt) return cached;
    this.#pending ??= this.#authenticate().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Forgets the cached token (after the cloud refused it). */
  invalidate(token?: CachedToken): void {
    if (!token || this.#token === token) this.#token = undefined;
  }

  async #authenticate(): Promise<CachedToken> {
    const sentAt = this.#now();
    const response = await this.#send('identity', `${this.#authUrl}/auth/tokens`, {
      method: 'POST',
      path: '/auth/tokens',
      body: authBody(this.#options.credentials),
    });
    const id = response.headers['x-subject-token'];
    const body = response.body as { token?: Record<string, unknown> };
    if (typeof id !== 'string' || !body.token) {
      throw new ProtectorError('CLOUD_ERROR', 'Keystone answered the authentication without a token.', {
        service: 'identity',
        status: response.status,
      });
    }
    const info = parseTokenInfo(body.token);
    const lifetime = info.expiresAt.getTime() - info.issuedAt.getTime();
    const margin = Math.min(this.#options.tokenRefreshMarginMs ?? 60_000, lifetime / 2);
    const token: CachedToken = {
      id,
      info,
      catalog: (body.token.catalog as CatalogEntry[] | undefined) ?? [],
      refreshAt: sentAt + lifetime - margin,
    };
    this.#token = token;
    return token;
  }

  /** The endpoint URL of a service from the token's catalog (identity: the auth URL). */
  async endpoint(service: OpenStackService): Promise<string> {
    if (service === 'identity') return this.#authUrl;
    const { catalog } = await this.token();
    const iface = this.#options.interface ?? 'public';
    const region = this.#options.region;
    for (const type of CATALOG_TYPES[service]) {
      const entry = catalog.find((e) => e.type === type);
      const endpoint = entry?.endpoints.find(
        (e) => e.interface === iface && (!region || e.region_id === region || e.region === region),
      );
      if (!endpoint) continue;
      const url = endpoint.url.replace(/\/+$/, '');
      const suffix = VERSION_SUFFIX[service];
      return suffix && !url.endsWith(suffix) ? url + suffix : url;
    }
    throw new ProtectorError(
      'CLOUD_ERROR',
      `The Keystone catalog has no ${iface} endpoint for ${CATALOG_TYPES[service].join('/')}` +
        `${region ? ` in region ${region}` : ''}; check the region and interface options.`,
      { service, status: 0 },
    );
  }

  /** Sends an authenticated request to a service; re-authenticates once when the token is refused. */
  async request<T>(service: OpenStackService, req: SessionRequest): Promise<SessionResponse<T>> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.token();
      let base = await this.endpoint(service);
      const own = token.info.projectId;
      if (req.projectId && own && req.projectId !== own && base.endsWith(`/${own}`)) {
        base = `${base.slice(0, -own.length)}${encodeURIComponent(req.projectId)}`;
      }
      try {
        return await this.#send<T>(service, base + req.path, req, token.id);
      } catch (err) {
        if (attempt === 0 && err instanceof ProtectorError && err.details.status === 401) {
          this.invalidate(token);
          continue;
        }
        throw err;
      }
    }
  }

  async #send<T>(
    service: OpenStackService,
    url: string,
    req: SessionRequest,
    tokenId?: string,
  ): Promise<SessionResponse<T>> {
    const target = new URL(url);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) target.searchParams.set(key, String(value));
    }
    const microversions = { compute: '2.79', volume: '3.59', ...this.#options.microversions };
    const headers: Record<string, string> = {
      Accept: 'application/json',
      ...(req.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(tokenId ? { 'X-Auth-Token': tokenId } : {}),
      ...(service === 'compute' ? { 'OpenStack-API-Version': `compute ${microversions.compute}` } : {}),
      ...(service === 'volume' ? { 'OpenStack-API-Version': `volume ${microversions.volume}` } : {}),
      ...req.headers,
    };
    const context = `${SERVICE_NAMES[service]} ${req.method} ${target.pathname}`;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(target, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
        ...(this.#options.dispatcher ? { dispatcher: this.#options.dispatcher } : {}),
      });
    } catch (err) {
      const reason = (err as { code?: string }).code ?? (err as Error).name;
      throw new ProtectorError(
        'CLOUD_ERROR',
        `${context} failed: ${SERVICE_NAMES[service]} at ${target.origin} did not answer (${reason}).`,
        { service, status: 0, requestId: null },
        { cause: err },
      );
    }
    const text = await response.body.text();
    let body: unknown = text;
    if (text && String(response.headers['content-type'] ?? '').includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (response.statusCode >= 400) {
      const requestId =
        response.headers['x-openstack-request-id'] ?? response.headers['x-compute-request-id'] ?? null;
      const message = faultMessage(body, text);
      throw new ProtectorError(
        CODE_BY_STATUS[response.statusCode] ?? 'CLOUD_ERROR',
        `${context} failed with HTTP ${response.statusCode}: ${message}`,
        { service, status: response.statusCode, requestId, fault: message },
      );
    }
    return { status: response.statusCode, body: (text ? body : undefined) as T, headers: response.headers };
  }
}
