/**
 * How errors leave the gateway: every error carries a registered code (`extensions.code`), the
 * coordinator's `ProtectorError`s keep their code and message, and an error of a site names the site.
 */
import { unwrapResolverError } from '@apollo/server/errors';
import { ERROR_CODES, ProtectorError } from '@protector/schema';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** Extensions the gateway adds internally and never shows to clients. */
const INTERNAL_EXTENSIONS = ['serviceName', 'exception', 'stacktrace', 'http'] as const;

const withoutInternal = (extensions: Readonly<Record<string, unknown>> | undefined) => {
  const out: Record<string, unknown> = { ...extensions };
  for (const key of INTERNAL_EXTENSIONS) delete out[key];
  return out;
};

/**
 * Apollo Server `formatError` of the gateway (also applied to subscription events): a `ProtectorError`
 * becomes its code, message and retryable flag; an error with a code keeps it; anything else is INTERNAL.
 */
export function formatGatewayError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  let original = unwrapResolverError(error);
  // Errors made outside a resolver (e.g. by a subscription source) wrap the original without a path.
  while (original instanceof GraphQLError && original.originalError) original = original.originalError;
  if (original instanceof ProtectorError) {
    return { ...formatted, message: original.message, extensions: original.toExtensions() };
  }
  const extensions = withoutInternal(formatted.extensions);
  const code = extensions['code'];
  if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') {
    if (typeof extensions['retryable'] !== 'boolean' && Object.hasOwn(ERROR_CODES, code)) {
      extensions['retryable'] = ERROR_CODES[code as keyof typeof ERROR_CODES].retryable;
    }
    return { ...formatted, extensions };
  }
  return { ...formatted, extensions: { ...extensions, code: 'INTERNAL', retryable: false } };
}

/**
 * The same, producing a `GraphQLError` (graphql-ws serializes errors with `toJSON()`), for errors of
 * subscription events.
 */
export function toClientError(error: GraphQLError): GraphQLError {
  const formatted = formatGatewayError(error.toJSON(), error);
  return new GraphQLError(formatted.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: formatted.extensions,
  });
}

/** Rebuilds a formatted error (as `executeOperation` returns it) as a `GraphQLError`, optionally moved. */
export function fromFormattedError(
  error: GraphQLFormattedError,
  path?: readonly (string | number)[],
): GraphQLError {
  const moved = path ?? error.path;
  return new GraphQLError(error.message, {
    ...(moved ? { path: moved } : {}),
    extensions: error.extensions ?? {},
  });
}

/** What went wrong when a site service could not be reached, for the error message. */
export function describeFetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return e?.message ?? String(err);
}

/**
 * Did a failed site fetch time out after the site took the request (slow) rather than fail to connect
 * (unreachable)? The gateway's connect timeout is shorter than its request timeout, so a request that
 * ran out of time had its connection.
 */
export const timedOut = (err: unknown): boolean => {
  const name = (err as { name?: string } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
};

/** The error for a site that took the request and did not answer in time: `SITE_TIMEOUT`. */
export function siteTimeout(
  site: { readonly name: string; readonly key: string },
  timeoutMs: number,
): ProtectorError {
  return new ProtectorError(
    'SITE_TIMEOUT',
    `Site '${site.name}' is reachable but did not answer within ${timeoutMs} ms (slow or overloaded); retry later.`,
    { site: site.name, siteKey: site.key },
  );
}

/** The GraphQL error for a site that could not be reached: `SITE_UNREACHABLE`, retryable, naming the site. */
export function siteUnreachableError(
  site: { readonly name: string; readonly key: string },
  cause: string,
): GraphQLFormattedError {
  const e = new ProtectorError('SITE_UNREACHABLE', `Site '${site.name}' is unreachable: ${cause}`, {
    site: site.name,
    siteKey: site.key,
  });
  return { message: e.message, extensions: e.toExtensions() };
}

/** A site's own error as the gateway passes it on: same code, `extensions.site` added, message naming the site. */
export function siteError(
  site: { readonly name: string; readonly key: string },
  error: GraphQLFormattedError,
): GraphQLFormattedError {
  const prefix = `Site '${site.name}': `;
  const extensions = withoutInternal(error.extensions);
  return {
    ...error,
    message: error.message.startsWith(prefix) ? error.message : prefix + error.message,
    extensions: { ...extensions, site: site.name, siteKey: site.key },
  };
}

/**
 * An answer that says the token it was asked with was refused. Asked with another token of the same
 * caller (one user, project and roles), that token may have been revoked since: the caller's own
 * token then decides for it (`InFlight.run`'s `again`).
 */
export const refusesToken = (
  outcome: PromiseSettledResult<{ readonly errors?: readonly unknown[] | undefined }>,
) =>
  outcome.status === 'fulfilled' &&
  !!outcome.value.errors?.some(
    (e) =>
      typeof e === 'object' &&
      e !== null &&
      (e as { extensions?: { code?: unknown } }).extensions?.code === 'UNAUTHENTICATED',
  );
