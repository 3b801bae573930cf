import type { JsonValue } from './entities.js';

/** Placeholder stored in an audit record in place of a secret (which keys hold one: `isSecretKey`). */
export const REDACTED = '[REDACTED]';

/** `value` as it reads back from a JSON column; throws `TypeError` for cycles and BigInts. */
export const toJsonValue = (value: unknown): JsonValue =>
  value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
