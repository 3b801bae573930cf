/**
 * @protector/schema: the API contract shared by every package, clients included: SDL, enums, scalars,
 * error codes, health-issue codes and the naming and URL rules. It depends on graphql only; servers,
 * databases and configuration live in @protector/platform.
 */

/** A JSON object as it comes over GraphQL or from a JSON column, before it is given a type. */
export type Json = Record<string, unknown>;

export {
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeDefinition,
  type ErrorJson,
  errorJson,
  isErrorCode,
  isProtectorError,
  ProtectorError,
  renderErrorCodeDocs,
} from './errors.js';
export * from './rules/index.js';
export * from './sdl/index.js';
