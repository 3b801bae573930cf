/**
 * The gateway's request context: which Keystone token the client sent for which site. The gateway
 * never validates tokens itself; it forwards to each site only the token meant for that site
 * (ARCHITECTURE §10), and each site checks it against its own Keystone.
 */
import { randomUUID } from 'node:crypto';

/** Tokens the client sent: one per site key, plus a default for every site. */
export interface GatewayContext {
  /** Keystone token per site key (`X-Site-Token-<key>`, or `siteTokens` in `connection_init`). */
  readonly siteTokens: Readonly<Record<string, string>>;
  /** Token for every site without its own (`X-Auth-Token`, or `Authorization: Bearer <token>`). */
  readonly defaultToken: string | null;
  /** Correlates logs of one request across the gateway and the sites (`X-Request-Id`, else generated). */
  readonly requestId: string;
}

/** Prefix of the per-site token header; the rest of the header name is the site key. */
export const SITE_TOKEN_HEADER_PREFIX = 'x-site-token-';

/** Headers as node:http gives them, or any Map-like / Fetch `Headers` object. */
export type HeaderSource =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { entries(): IterableIterator<[string, string]> };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function headerEntries(headers: HeaderSource): [string, string][] {
  const raw =
    typeof (headers as { entries?: unknown }).entries === 'function'
      ? [...(headers as { entries(): IterableIterator<[string, string]> }).entries()]
      : Object.entries(headers as Record<string, string | readonly string[] | undefined>);
  const out: [string, string][] = [];
  for (const [name, value] of raw) {
    const text = Array.isArray(value) ? value[0] : value;
    if (typeof text === 'string' && text.trim() !== '') out.push([name.toLowerCase(), text.trim()]);
  }
  return out;
}

/** `Bearer <token>` (any case) -> token; a bare token is taken as is. */
function bearer(value: string): string | null {
  const m = /^Bearer\s+(\S+)$/i.exec(value.trim());
  if (m) return m[1]!;
  return /\s/.test(value.trim()) ? null : value.trim() || null;
}

/**
 * A new request id. `randomUUID()` gives a string built of ~30 joined pieces (490 bytes of heap); one
 * pass of a regular expression flattens it in place (70 bytes): a subscription keeps its context,
 * so 10,000 subscribers keep 10,000 of these.
 */
export function newRequestId(): string {
  const id = randomUUID();
  REQUEST_ID.test(id);
  return id;
}

function build(siteTokens: Record<string, string>, defaultToken: string | null, requestId?: string) {
  return {
    siteTokens: Object.freeze(siteTokens),
    defaultToken,
    requestId: requestId && REQUEST_ID.test(requestId) ? requestId : newRequestId(),
  } satisfies GatewayContext;
}

/**
 * Context of an HTTP request: `X-Site-Token-<key>: <token>` per site; `X-Auth-Token: <token>` or
 * `Authorization: Bearer <token>` as the default for every other site (X-Auth-Token wins, as on the sites).
 */
export function contextFromHeaders(headers: HeaderSource): GatewayContext {
  const siteTokens: Record<string, string> = {};
  let authToken: string | null = null;
  let authorization: string | null = null;
  let requestId: string | undefined;
  for (const [name, value] of headerEntries(headers)) {
    if (name.startsWith(SITE_TOKEN_HEADER_PREFIX) && name.length > SITE_TOKEN_HEADER_PREFIX.length) {
      const token = bearer(value);
      if (token) siteTokens[name.slice(SITE_TOKEN_HEADER_PREFIX.length)] = token;
    } else if (name === 'x-auth-token') {
      authToken = value;
    } else if (name === 'authorization') {
      authorization = bearer(value);
    } else if (name === 'x-request-id') {
      requestId = value;
    }
  }
  return build(siteTokens, authToken ?? authorization, requestId);
}

/**
 * Context of a graphql-ws connection from its `connection_init` payload:
 * `{ siteTokens: { boston: '...' }, authorization: 'Bearer ...', token: '...' }`. Header-style keys
 * (`X-Site-Token-boston`, `X-Auth-Token`, `Authorization`, any case) are accepted too, for clients that
 * send their HTTP headers as connection params.
 */
export function contextFromConnectionParams(params: unknown): GatewayContext {
  const p =
    params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (typeof v === 'string') strings[k] = v;
  const fromHeaders = contextFromHeaders(strings);
  const siteTokens: Record<string, string> = { ...fromHeaders.siteTokens };
  const given = p['siteTokens'];
  if (given && typeof given === 'object' && !Array.isArray(given)) {
    for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
      const token = typeof value === 'string' ? bearer(value) : null;
      if (token) siteTokens[key.toLowerCase()] = token;
    }
  }
  const token = typeof p['token'] === 'string' ? bearer(p['token']) : null;
  const requestId = typeof p['requestId'] === 'string' ? p['requestId'] : undefined;
  return build(siteTokens, token ?? fromHeaders.defaultToken, requestId);
}

/** The token to send to site `siteKey`: its own, else the default, else none. */
export function tokenForSite(ctx: GatewayContext, siteKey: string): string | null {
  return Object.hasOwn(ctx.siteTokens, siteKey) ? (ctx.siteTokens[siteKey] ?? null) : ctx.defaultToken;
}

/** Whether the client sent any token at all (subscriptions without one are refused at `connection_init`). */
export function hasAnyToken(ctx: GatewayContext): boolean {
  return ctx.defaultToken !== null || Object.keys(ctx.siteTokens).length > 0;
}

/** Guard for contexts the gateway hands to data sources (health checks pass `{}`). */
export function isGatewayContext(value: unknown): value is GatewayContext {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as GatewayContext).siteTokens === 'object' &&
    'defaultToken' in value
  );
}

/** A context with no token, for the gateway's own internal queries. */
export function anonymousContext(): GatewayContext {
  return build({}, null);
}
