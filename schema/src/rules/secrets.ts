/** Which fields hold secrets, and masking them wherever values leave the process (audit, logs, echoes). */

/** Keys whose values are secrets wherever they appear: tokens, passwords, credentials, API keys. */
const SECRET_KEY = /token|password|passwd|secret|credential|api[-_]?key|authorization|private[-_]?key/i;

/** Guard: does a field, option or header name hold a secret? */
export const isSecretKey = (key: string): boolean => SECRET_KEY.test(key);

/**
 * A deep copy of `value` with the value of every secret key replaced by `mask`. Null, undefined and
 * booleans stay (`hasPrimaryToken: true` reveals nothing).
 */
export function redactSecrets<T>(value: T, mask: string): T {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, mask)) as T;
  if (typeof value !== 'object' || value === null || value instanceof Date) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const hidden = isSecretKey(key) && item !== null && item !== undefined && typeof item !== 'boolean';
    copy[key] = hidden ? mask : redactSecrets(item, mask);
  }
  return copy as T;
}
