import type { JsonValue } from './entities.js';

/** Keys whose values are secrets wherever they appear in a request. */
const SECRET_KEY = /token|password|passwd|secret|credential|api[-_]?key|authorization|private[-_]?key/i;

/** Placeholder stored in place of a secret. */
export const REDACTED = '[REDACTED]';

/**
 * A deep copy of `value` fit for an audit record: values under secret-looking keys become
 * `[REDACTED]` (booleans and nulls such as `hasPrimaryToken` stay, they reveal nothing), and the
 * result is plain JSON (dates become ISO strings, `undefined` disappears).
 */
export function redactSecrets(value: unknown): JsonValue {
  const plain = toJsonValue(value);
  const walk = (node: JsonValue): JsonValue => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, child]) => [
        key,
        SECRET_KEY.test(key) && child !== null && typeof child !== 'boolean' ? REDACTED : walk(child),
      ]),
    );
  };
  return walk(plain);
}

/** `value` as it reads back from a JSON column; throws `TypeError` for cycles and BigInts. */
export const toJsonValue = (value: unknown): JsonValue =>
  value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
