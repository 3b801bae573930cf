/** Makes a compiled config safe to log. */
import type { ConfigSections, ConfigTable } from './options.js';

/** Marker shown in place of a secret. */
export const REDACTED = '***';

/**
 * A copy of `config` for logs: secrets become `***` (unset secrets stay undefined), partly secret
 * values go through their option's `redact` (e.g. the password in a database URL).
 */
export function redactConfig<S extends ConfigSections>(
  config: { readonly [Section in keyof S]: Readonly<Record<string, unknown>> },
  table: ConfigTable<S>,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, options] of Object.entries(table.sections)) {
    const values: Readonly<Record<string, unknown>> = config[section] ?? {};
    const redacted: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(options)) {
      const value = values[name];
      if (value === undefined) redacted[name] = undefined;
      else if (spec.secret) redacted[name] = REDACTED;
      else if (spec.redact && typeof value === 'string') redacted[name] = spec.redact(value);
      else redacted[name] = Array.isArray(value) ? [...value] : value;
    }
    out[section] = redacted;
  }
  return out;
}
