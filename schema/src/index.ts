/** @protector/schema: the contract shared by every package: error codes, SDL, shared enums. */

export { mapLimit } from './concurrency.js';
export * from './config/index.js';
export {
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeDefinition,
  isErrorCode,
  isProtectorError,
  ProtectorError,
  renderErrorCodeDocs,
} from './errors.js';
export { EventHub, mapEvents, type SubscribeOptions } from './events.js';
export * from './rules/index.js';
export * from './sdl/index.js';
