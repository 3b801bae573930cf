/**
 * The playground's credential conventions, shared by the browser bundle and the gateway (pure code:
 * no Node or DOM API, so the Vite build can import it too).
 *
 * HTTP (queries, mutations): one Keystone token per site in `X-Site-Token-<siteKey>`, and
 * `Authorization: Bearer <token>` as the default for every site without its own header.
 * graphql-ws (subscriptions): the same values in `connection_init`'s payload, as
 * `{ siteTokens: { boston: '...' }, authorization: 'Bearer ...' }`.
 */

/** Prefix of the per-site token header; the rest of the header name is the site key. */
export const SITE_TOKEN_HEADER_PREFIX = 'x-site-token-';

/** Header carrying the token used for every site that has no `X-Site-Token-<siteKey>` header. */
export const AUTHORIZATION_HEADER = 'authorization';

/** The graphql-ws `connectionParams` the playground sends when a subscription starts. */
export interface PlaygroundConnectionParams {
  /** Keystone token per site key. */
  siteTokens?: Record<string, string>;
  /** Default for every site, as in the HTTP header (e.g. `Bearer gAAAA...`). */
  authorization?: string;
}

/** `X-Site-Token-boston` for site key `boston` (the spelling shown in the headers editor). */
export const siteTokenHeaderName = (siteKey: string): string => `X-Site-Token-${siteKey}`;

/**
 * Headers worth sending: drops empty values (the editor's template has empty placeholders) and
 * non-string values (JSON editors let users write numbers or null).
 */
export function cleanHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers || typeof headers !== 'object' || Array.isArray(headers)) return out;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (typeof value !== 'string' || value.trim() === '' || name.trim() === '') continue;
    out[name] = value.trim();
  }
  return out;
}

/**
 * Maps the headers of the editor to graphql-ws connection params: `X-Site-Token-<key>` (any case)
 * becomes `siteTokens[<key>]` (lowercase, as site keys are), `Authorization` becomes `authorization`.
 * Other headers are not sent over the socket.
 */
export function headersToConnectionParams(headers: unknown): PlaygroundConnectionParams {
  const params: PlaygroundConnectionParams = {};
  for (const [name, value] of Object.entries(cleanHeaders(headers))) {
    const lower = name.toLowerCase();
    if (lower === AUTHORIZATION_HEADER) {
      params.authorization = value;
    } else if (lower.startsWith(SITE_TOKEN_HEADER_PREFIX) && lower.length > SITE_TOKEN_HEADER_PREFIX.length) {
      params.siteTokens ??= {};
      params.siteTokens[lower.slice(SITE_TOKEN_HEADER_PREFIX.length)] = value;
    }
  }
  return params;
}

/**
 * The text of the headers editor: a JSONC object (GraphiQL accepts comments there) with the given
 * values, and an empty placeholder for `Authorization` and each site's token when none is given.
 */
export function headersEditorText(
  siteKeys: readonly string[],
  defaults: Record<string, string> = {},
): string {
  const values: Record<string, string> = {};
  const has = (name: string) => Object.keys(defaults).some((k) => k.toLowerCase() === name.toLowerCase());
  if (!has('Authorization')) values['Authorization'] = '';
  for (const key of siteKeys) if (!has(siteTokenHeaderName(key))) values[siteTokenHeaderName(key)] = '';
  Object.assign(values, defaults);
  const lines = Object.entries(values).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return [
    '{',
    '  // One Keystone token per site in X-Site-Token-<siteKey>; Authorization ("Bearer <token>")',
    '  // is used for every site without its own token. Empty values are not sent.',
    '  // Subscriptions send the same tokens in connection_init.',
    lines.join(',\n'),
    '}',
  ].join('\n');
}
