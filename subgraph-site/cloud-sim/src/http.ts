import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The OpenStack services the simulator serves, named by their URL prefix. */
export type CloudService = 'identity' | 'compute' | 'volume' | 'network' | 'image';

/** Who is calling, from a validated Keystone token. */
export interface AuthContext {
  tokenId: string;
  userId: string;
  userName: string;
  projectId: string | null;
  roles: readonly string[];
  isAdmin: boolean;
}

/** The caller of a route that needs no token (Keystone auth, version documents). */
export const ANONYMOUS: AuthContext = {
  tokenId: '',
  userId: '',
  userName: '',
  projectId: null,
  roles: [],
  isAdmin: false,
};

/** A parsed request as a route handler sees it. */
export interface ApiRequest {
  method: string;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
  auth: AuthContext;
  /** The negotiated microversion ("2.79", "3.60"); "" for services without microversions. */
  microversion: string;
  /** Scheme://host:port the catalog and links point at. */
  baseUrl: string;
  /** The request's path and query as sent (`/v3/projects?name=demo`), for Keystone's collection links. */
  url: string;
}

/** What a handler returns; `text` replaces the JSON body. */
export interface ApiResponse {
  status: number;
  body?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

/** One REST route of a service; `path` is relative to the service prefix, `:name` captures. */
export interface Route {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Operation name used by fault injection (`create_server`, `list_volumes`, ...). */
  op: string;
  /** Served without a token (Keystone authentication, version discovery). */
  public?: boolean;
  handler: (req: ApiRequest) => ApiResponse | Promise<ApiResponse>;
}

/** An error in the service's own shape; `type` is Neutron's exception name. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type?: string,
  ) {
    super(message);
  }
}

/** Matches a path against a route pattern; returns the captures or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  const got = path.split('/').filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of want.entries()) {
    const actual = got[i] as string;
    if (segment.startsWith(':')) params[segment.slice(1)] = decodeURIComponent(actual);
    else if (segment !== actual) return undefined;
  }
  return params;
}

const NOVA_FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

const HTTP_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

const NEUTRON_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  409: 'HTTPConflict',
  500: 'HTTPInternalServerError',
  503: 'HTTPServiceUnavailable',
};

/** Renders an error the way the given service does (Nova/Cinder fault, NeutronError, Keystone error, Glance text). */
export function renderError(service: CloudService, error: ApiError): ApiResponse {
  const { status, message } = error;
  const title = HTTP_TITLES[status] ?? 'Error';
  switch (service) {
    case 'identity':
      return { status, body: { error: { code: status, title, message } } };
    case 'compute':
    case 'volume':
      return { status, body: { [NOVA_FAULT_NAMES[status] ?? 'computeFault']: { code: status, message } } };
    case 'network':
      return {
        status,
        body: {
          NeutronError: { type: error.type ?? NEUTRON_TYPES[status] ?? 'HTTPError', message, detail: '' },
        },
      };
    case 'image':
      return { status, text: `${status} ${title}\n\n${message}\n\n   ` };
    default: {
      const unreachable: never = service;
      throw new Error(`unknown service ${String(unreachable)}`);
    }
  }
}

/** A new request id in OpenStack's `req-<uuid>` form. */
export const newRequestId = (): string => `req-${randomUUID()}`;

/** OpenStack's timestamp format without zone suffix (`2024-05-01T10:00:00.000000`), as Nova and Cinder print it. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

/** Keystone/Neutron/Glance style timestamp (`2024-05-01T10:00:00Z`). */
export function isoTimeZ(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Reads `body[key]` as an object, or fails with a 400 naming the key. */
export function requireObject(body: unknown, key: string): Record<string, unknown> {
  const value = isRecord(body) ? body[key] : undefined;
  if (!isRecord(value)) throw new ApiError(400, `Missing or invalid '${key}' in request body.`);
  return value;
}

/** Reads an optional string field, failing with a 400 when it has another type. */
export function optionalString(obj: Record<string, unknown>, key: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw new ApiError(400, `Invalid input for field/attribute ${key}: not a string.`);
  return value;
}

/** Reads a required non-empty string field. */
export function requireString(obj: Record<string, unknown>, key: string): string {
  const value = optionalString(obj, key);
  if (!value)
    throw new ApiError(400, `Invalid input for field/attribute ${key}: a non-empty string is required.`);
  return value;
}

/** Guard: a plain JSON object. */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Fails with a 403 in the service's words unless the caller has one of `roles` (admin always passes). */
export function requireRole(req: ApiRequest, action: string, ...roles: string[]): void {
  if (req.auth.isAdmin || roles.some((role) => req.auth.roles.includes(role))) return;
  throw new ApiError(403, `Policy doesn't allow ${action} to be performed.`);
}

/** Is microversion `version` ("2.47") at least `min`? */
export function atLeast(version: string, min: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [minMajor = 0, minMinor = 0] = min.split('.').map(Number);
  return major !== minMajor ? major > minMajor : minor >= minMinor;
}

/** Applies `?name=`, `?status=`-style equality filters on the given keys of a rendered object. */
export function matchesQuery(
  query: URLSearchParams,
  item: Record<string, unknown>,
  keys: readonly string[],
): boolean {
  return keys.every((key) => {
    const wanted = query.getAll(key);
    return wanted.length === 0 || wanted.includes(String(item[key]));
  });
}

/** Keeps the first `limit` items after `marker`, as Cinder and Nova paginate (400 for an unknown marker). */
/** The default of the most items one list answers (Nova's `[api] max_limit`, Cinder's `osapi_max_limit`, Glance's `api_limit_max`). */
export const API_MAX_LIMIT = 1000;

/**
 * One page of a collection as Nova, Cinder and Glance serve it: at most `limit` items after the item
 * `marker`, `limit` capped at `max` and by default `max` (Glance's default is lower: `defaultLimit`).
 * `next` is the link to the next page, given as those services give it: whenever the page is full,
 * even if nothing follows.
 */
export function paginate<T extends { id: string }>(
  req: Pick<ApiRequest, 'query' | 'baseUrl' | 'url'>,
  items: T[],
  max: number,
  defaultLimit = max,
): { page: T[]; next: string | null } {
  const marker = req.query.get('marker');
  const start = marker ? items.findIndex((i) => i.id === marker) + 1 : 0;
  if (marker && start === 0) throw new ApiError(400, `marker [${marker}] not found`);
  const raw = req.query.get('limit');
  if (raw !== null && !/^[0-9]+$/.test(raw)) {
    throw new ApiError(
      400,
      `Invalid input for query parameters limit. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`,
    );
  }
  const limit = Math.min(raw === null ? Math.min(defaultLimit, max) : Number(raw), max);
  const page = items.slice(start, start + limit);
  if (limit === 0 || page.length < limit) return { page, next: null };
  const url = new URL(req.url, 'http://cloud');
  url.searchParams.set('limit', String(limit));
  url.searchParams.set('marker', page.at(-1)!.id);
  return { page, next: `${req.baseUrl}${url.pathname}${url.search}` };
}

/** A page's `<collection>_links` (Nova, Cinder): the next page's link, when there is one. */
export const collectionLinks = (next: string | null) => (next ? [{ rel: 'next', href: next }] : []);

/** Reads a JSON object of metadata/specs as a string map ({} when absent). */
export function stringMap(value: unknown): Record<string, string> {
  return isRecord(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])) : {};
}

/** A JSON value as Python's repr() prints it, for the "Value: ..." of OpenStack's schema errors. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (isRecord(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  return String(value);
}

/** The values an OpenStack `boolean` schema parameter accepts (parameter_types.boolean of Nova and Cinder). */
export const BOOLEAN_ENUM: readonly (string | boolean)[] = [
  true,
  'True',
  'TRUE',
  'true',
  '1',
  'ON',
  'On',
  'on',
  'YES',
  'Yes',
  'yes',
  'y',
  't',
  false,
  'False',
  'FALSE',
  'false',
  '0',
  'OFF',
  'Off',
  'off',
  'NO',
  'No',
  'no',
  'n',
  'f',
];

/** Reads a schema `boolean` (true for the true-ish values), refusing others with the schema's 400. */
export function schemaBoolean(field: string, value: unknown): boolean {
  if (!BOOLEAN_ENUM.includes(value as string | boolean)) {
    throw new ApiError(
      400,
      `Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : pyRepr(value)}. ${pyRepr(value)} is not one of ${pyRepr(BOOLEAN_ENUM)}`,
    );
  }
  return BOOLEAN_ENUM.indexOf(value as string | boolean) < BOOLEAN_ENUM.indexOf(false);
}
