/**
 * The error-code registry. Codes are part of the API: clients branch on `extensions.code`,
 * so a code is never renamed or reused. Docs are generated from this table (`docs/errors.md`).
 */

/** One registered error code. */
export interface ErrorCodeDefinition {
  /** What the code means to a caller. */
  readonly description: string;
  /** HTTP status used when the error leaves a REST-ish surface (health, fa-sim) or GraphQL over HTTP. */
  readonly httpStatus: number;
  /** Whether retrying the same request later may succeed without any change by the caller. */
  readonly retryable: boolean;
}

const define = <T extends Record<string, ErrorCodeDefinition>>(codes: T): T => codes;

export const ERROR_CODES = define({
  BAD_USER_INPUT: {
    description: 'A field of the request is malformed or out of range; the message names it and the fix.',
    httpStatus: 400,
    retryable: false,
  },
  QUERY_TOO_COMPLEX: {
    description:
      'The GraphQL document exceeds a configured limit (depth, aliases, directives, tokens or cost); the message names the limit. Split the request or raise the limit in `[api]`.',
    httpStatus: 400,
    retryable: false,
  },
  INTROSPECTION_DISABLED: {
    description:
      'Schema introspection is off for this caller (`[api] introspection`); send a valid Keystone token, or read the SDL from the documentation.',
    httpStatus: 403,
    retryable: false,
  },
  BAD_REQUEST: {
    description:
      'The HTTP request is not a GraphQL request this server reads (e.g. a body that is not JSON); the message says what was expected.',
    httpStatus: 400,
    retryable: false,
  },
  PAYLOAD_TOO_LARGE: {
    description:
      'The request body is larger than the server accepts; send a smaller document or fewer variables.',
    httpStatus: 413,
    retryable: false,
  },
  METHOD_NOT_ALLOWED: {
    description: 'The HTTP method is not served at this path (GraphQL takes GET and POST).',
    httpStatus: 405,
    retryable: false,
  },
  RATE_LIMITED: {
    description:
      'This caller sent more requests than `[api] rate_limit` allows; wait the seconds in Retry-After.',
    httpStatus: 429,
    retryable: true,
  },
  INVALID_NAME: {
    description:
      'A storage object name breaks FlashArray naming rules (1-63 letters, digits, "-"; starts with a letter or digit; not all digits).',
    httpStatus: 400,
    retryable: false,
  },
  INVALID_SIZE: {
    description: 'A volume size is not a positive multiple of 512 bytes.',
    httpStatus: 400,
    retryable: false,
  },
  NOT_FOUND: {
    description: 'The named object does not exist.',
    httpStatus: 404,
    retryable: false,
  },
  ALREADY_EXISTS: {
    description: 'An object with that name already exists.',
    httpStatus: 409,
    retryable: false,
  },
  INVALID_STATE: {
    description: 'The object is not in a state that allows the request; the message names the current state.',
    httpStatus: 409,
    retryable: false,
  },
  RECOVERY_POINT_INCOMPLETE: {
    description: 'The recovery point has not finished replicating to the target and cannot be used yet.',
    httpStatus: 409,
    retryable: true,
  },
  POD_NOT_STRETCHED: {
    description: 'The pod is not stretched to a second array, so it cannot be promoted or demoted there.',
    httpStatus: 409,
    retryable: false,
  },
  VOLUME_TYPE_NOT_REPLICATED: {
    description:
      "The Cinder volume type lacks replication_enabled='<is> True' or its replication_type differs from the Protection Group's.",
    httpStatus: 400,
    retryable: false,
  },
  STORAGE_UNREACHABLE: {
    description: 'The storage array did not answer (connection refused, timeout, or array down).',
    httpStatus: 503,
    retryable: true,
  },
  STORAGE_AUTH_FAILED: {
    description: 'The array refused the API token; check the token in [storage] or the replication policy.',
    httpStatus: 401,
    retryable: false,
  },
  STORAGE_RATE_LIMITED: {
    description: 'The array rate-limited the client and retries were exhausted.',
    httpStatus: 429,
    retryable: true,
  },
  REPLICATION_LINK_DOWN: {
    description: 'The replication connection between the two arrays is not connected.',
    httpStatus: 503,
    retryable: true,
  },
  STORAGE_ERROR: {
    description: "The array rejected the request; the message is the array's own.",
    httpStatus: 400,
    retryable: false,
  },
  CONFIG_INVALID: {
    description: 'The configuration file or environment holds a missing, unknown or malformed option.',
    httpStatus: 500,
    retryable: false,
  },
  UNAUTHENTICATED: {
    description: 'No valid Keystone token was sent for this site.',
    httpStatus: 401,
    retryable: false,
  },
  FORBIDDEN: {
    description: 'The token is valid but its roles or project do not allow the request.',
    httpStatus: 403,
    retryable: false,
  },
  PEER_SITE_UNREACHABLE: {
    description:
      'The peer site did not answer, so a change that must be written to both sites was refused before anything was written.',
    httpStatus: 503,
    retryable: true,
  },
  SITE_UNREACHABLE: {
    description: 'A site service could not be reached: the connection was refused, or not made in time.',
    httpStatus: 503,
    retryable: true,
  },
  SITE_TIMEOUT: {
    description:
      "A site service took the request but did not answer within the gateway's `subgraph_timeout`: it is reachable but slow or overloaded. Retry later.",
    httpStatus: 503,
    retryable: true,
  },
  OVERLOADED: {
    description:
      'The server is working on as many requests as `[api] max_in_flight` allows; it refused this one at once rather than answer it late. Retry after the seconds in Retry-After.',
    httpStatus: 503,
    retryable: true,
  },
  OPERATION_IN_PROGRESS: {
    description: 'Another operation is already acting on this Protection Group.',
    httpStatus: 409,
    retryable: true,
  },
  VERSION_CONFLICT: {
    description: 'The metadata version given does not match the stored one (compare-and-set failed).',
    httpStatus: 409,
    retryable: false,
  },
  CLOUD_ERROR: {
    description: 'The OpenStack cloud rejected a call; the message carries its status and fault.',
    httpStatus: 502,
    retryable: false,
  },
  INTERNAL: {
    description: 'An unexpected failure; the message and logs carry the cause.',
    httpStatus: 500,
    retryable: false,
  },
});

export type ErrorCode = keyof typeof ERROR_CODES;

/** Guard: is `value` a registered error code? */
export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);

/**
 * The one error class of the product. Every layer throws it with a registered code;
 * GraphQL servers turn it into a `GraphQLError` with `extensions.code`.
 */
export class ProtectorError extends Error {
  override readonly name = 'ProtectorError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }

  /** The shape placed in GraphQL `extensions` and in JSON error bodies. */
  toExtensions(): Record<string, unknown> {
    return { code: this.code, retryable: this.retryable, ...this.details };
  }
}

/** Guard that also narrows by code. */
export const isProtectorError = (err: unknown, code?: ErrorCode): err is ProtectorError =>
  err instanceof ProtectorError && (code === undefined || err.code === code);

/** Renders the registry as Markdown; `docs/errors.md` is generated from it and checked for drift. */
export function renderErrorCodeDocs(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, def]) =>
      `| \`${code}\` | ${def.httpStatus} | ${def.retryable ? 'yes' : 'no'} | ${def.description} |`,
  );
  return [
    '# Error codes',
    '',
    'Generated from `schema/src/errors.ts` by `npm run docs -w @protector/schema`; do not edit by hand.',
    'Every GraphQL error carries one of these in `extensions.code`.',
    '',
    '| code | HTTP | retryable | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/**
 * An error as steps record and report it: its code, message and whether a retry may succeed. A type
 * alias, not an interface, so it is a `Json` value too.
 */
export type ErrorJson = {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
};

/** Any thrown value as an {@link ErrorJson}; what is not a ProtectorError is INTERNAL. */
export function errorJson(err: unknown): ErrorJson {
  if (err instanceof ProtectorError)
    return { code: err.code, message: err.message, retryable: err.retryable };
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err), retryable: false };
}
