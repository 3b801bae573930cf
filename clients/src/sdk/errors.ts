/**
 * Errors the SDK throws. Two kinds, because callers react differently: the gateway answered with
 * GraphQL errors (a code from the server's registry, maybe with partial data), or it could not be
 * reached / did not speak GraphQL (nothing is known about the request's effect).
 */

/** One GraphQL error as the gateway returned it. */
export interface GraphQLErrorInfo {
  readonly message: string;
  /** `extensions.code`, e.g. `PEER_SITE_UNREACHABLE`; undefined when the server gave none. */
  readonly code: string | undefined;
  /** Path of the field that failed, e.g. `['protectionGroup', 'seattle']`. */
  readonly path: readonly (string | number)[] | undefined;
  readonly extensions: Readonly<Record<string, unknown>>;
}

/** Code used when a GraphQL error carries no `extensions.code`. */
export const UNKNOWN_ERROR_CODE = 'UNKNOWN_ERROR';

/** The gateway answered with GraphQL errors. `data` holds whatever part of the result it could resolve. */
export class ProtectorClientError extends Error {
  override readonly name = 'ProtectorClientError';
  /** Code of the first error (the one the message is about). */
  readonly code: string;
  readonly errors: readonly GraphQLErrorInfo[];
  /** Partial data, or null when nothing could be resolved. */
  readonly data: unknown;

  constructor(errors: readonly GraphQLErrorInfo[], data: unknown) {
    const first = errors[0];
    super(first ? first.message : 'The gateway returned no data and no error');
    this.code = first?.code ?? UNKNOWN_ERROR_CODE;
    this.errors = errors;
    this.data = data;
  }
}

/** Why a request never produced a GraphQL result. */
export type ConnectionFailure =
  /** No TCP/TLS connection, or it broke before the answer. */
  | 'CONNECTION_FAILED'
  /** No complete answer within `timeoutMs`. */
  | 'TIMEOUT'
  /** An HTTP status without a GraphQL body (proxy error, wrong path, 401 from a front end). */
  | 'HTTP_ERROR'
  /** A body that is not a GraphQL response. */
  | 'BAD_RESPONSE'
  /** The subscription socket closed or was refused (graphql-ws close code in the message). */
  | 'SUBSCRIPTION_CLOSED';

/** The gateway could not be reached, or did not answer with a GraphQL response. */
export class ProtectorConnectionError extends Error {
  override readonly name = 'ProtectorConnectionError';
  readonly code: ConnectionFailure;
  readonly url: string;
  /** HTTP status when one was received. */
  readonly status: number | undefined;

  constructor(
    code: ConnectionFailure,
    message: string,
    details: { url: string; status?: number | undefined; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.url = details.url;
    this.status = details.status;
  }
}

/** Guard: an error thrown by the SDK (either kind). */
export const isProtectorClientError = (
  error: unknown,
): error is ProtectorClientError | ProtectorConnectionError =>
  error instanceof ProtectorClientError || error instanceof ProtectorConnectionError;

/** Normalises one entry of a GraphQL response's `errors` array. */
export function toGraphQLErrorInfo(raw: unknown): GraphQLErrorInfo {
  const record = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const extensions =
    typeof record['extensions'] === 'object' && record['extensions'] !== null
      ? (record['extensions'] as Record<string, unknown>)
      : {};
  const code = extensions['code'];
  const path = record['path'];
  return {
    message: typeof record['message'] === 'string' ? record['message'] : JSON.stringify(raw),
    code: typeof code === 'string' ? code : undefined,
    path: Array.isArray(path) ? (path as (string | number)[]) : undefined,
    extensions,
  };
}
