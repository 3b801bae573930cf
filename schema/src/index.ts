/** @protector/schema: the contract shared by every package: error codes, SDL, shared enums. */

export { mapLimit } from './concurrency.js';

/** A JSON object as it comes over GraphQL or from a JSON column, before it is given a type. */
export type Json = Record<string, unknown>;

export * from './config/index.js';
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
export { EventHub, mapEvents, type SubscribeOptions } from './events.js';
export * from './rules/index.js';
export * from './sdl/index.js';
