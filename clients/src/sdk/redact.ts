import { redactSecrets as redactWith } from '@protector/schema';

/** Mask shown in place of a secret. */
export const SECRET_MASK = '******';

export { isSecretKey } from '@protector/schema';

/**
 * A deep copy of `value` with every secret field masked, for logs and `--debug` echoes. Secrets are
 * recognised by key name (`isSecretKey`), so `primaryArrayToken`, `serviceCredentials.password`,
 * API keys and auth headers are covered.
 */
export const redactSecrets = <T>(value: T): T => redactWith(value, SECRET_MASK);
