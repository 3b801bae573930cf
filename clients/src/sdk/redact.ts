/** Mask shown in place of a secret. */
export const SECRET_MASK = '******';

const SECRET_KEY = /token|password|secret|authorization/i;

/** Guard: does a field or option name hold a secret (array tokens, passwords, auth headers)? */
export const isSecretKey = (key: string): boolean => SECRET_KEY.test(key);

/**
 * A deep copy of `value` with every secret field masked, for logs and `--debug` echoes. Secrets are
 * recognised by key name, so `primaryArrayToken`, `serviceCredentials.password` and headers are covered.
 */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = isSecretKey(key) && item !== null && item !== undefined ? SECRET_MASK : redactSecrets(item);
  }
  return copy as T;
}
