/**
 * The site service's configuration: `protector.conf` compiled with the environment into a typed,
 * frozen `SiteConfig`, plus its generated reference and a log-safe view.
 */

import {
  type ConfigEnv,
  type ConfigOf,
  compileConfig,
  redactConfig,
  renderConfigReference,
} from '@protector/platform';
import { ProtectorError } from '@protector/schema';
import { siteConfigTable } from './site-options.js';

export {
  ARRAY_CREDENTIAL_OPTIONS,
  KEYSTONE_REQUIRED_OPTIONS,
  siteConfigTable,
} from './site-options.js';

/** The compiled `protector.conf`: one frozen object per section. */
export type SiteConfig = ConfigOf<typeof siteConfigTable.sections>;

export interface LoadSiteConfigInput {
  /** The config file, e.g. `/etc/protector/protector.conf`; also names the file in messages. */
  readonly path?: string;
  /** The file's text, instead of reading `path` (tests). */
  readonly text?: string;
  /** `PROTECTOR_<SECTION>__<NAME>` overrides. @default process.env */
  readonly env?: ConfigEnv;
}

/**
 * Reads and validates `protector.conf`. Throws one `ProtectorError` CONFIG_INVALID listing every
 * problem, e.g. the product documentation's "[storage] options missing" when neither arrays nor mock storage are set up.
 */
export function loadSiteConfig(input: LoadSiteConfigInput = {}): SiteConfig {
  return compileConfig(siteConfigTable, input);
}

/** The Markdown reference of every `protector.conf` option; committed as docs/configuration.md. */
export function renderSiteConfigReference(): string {
  return renderConfigReference(siteConfigTable);
}

/** A copy of the config for logs: tokens, passwords and the key as `***`, the database password redacted. */
export function redactSiteConfig(config: SiteConfig): Record<string, Record<string, unknown>> {
  return redactConfig(config, siteConfigTable);
}

/** Where `[database] connection` points. */
export type DatabaseConnection =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgresql'; readonly url: string };

/** Splits a validated `[database] connection` into SQLite file (or `:memory:`) or PostgreSQL URL. */
export function parseDatabaseConnection(connection: string): DatabaseConnection {
  if (connection.startsWith('sqlite:///'))
    return { kind: 'sqlite', path: connection.slice('sqlite:///'.length) };
  if (/^postgres(?:ql)?:\/\//.test(connection)) return { kind: 'postgresql', url: connection };
  throw new ProtectorError(
    'CONFIG_INVALID',
    `[database] connection is neither sqlite:///<absolute path> nor postgresql://...`,
    { option: 'connection', section: 'database' },
  );
}
