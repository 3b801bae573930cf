/** The site service's persistence: TypeORM data source (SQLite or PostgreSQL), migrations, repository, secret encryption. */
export {
  decryptSecret,
  encryptSecret,
  generateSecretKey,
  loadOrCreateKey,
  parseSecretKey,
  SECRET_KEY_BYTES,
  type SecretKey,
} from '@protector/platform/db';
export {
  createSiteDataSource,
  parseDatabaseUrl,
  runInSiteTransaction,
  runSiteRead,
  SITE_MIGRATIONS,
  SITE_MIGRATIONS_TABLE,
  type SiteDatabaseLocation,
  type SiteDataSourceOptions,
  siteDialect,
} from './data-source.js';
export type { SiteDatabaseDialect } from './entities.js';
export type { ReplicationSchedule } from './policies.js';
export { REDACTED } from './redact.js';
export { type ProtectionGroupHead, protectionGroupCursor } from './replica-reads.js';
export {
  type ApplyMetadataOptions,
  createSiteRepository,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  SiteRepository,
  type SiteRepositoryOptions,
} from './repository.js';
export * from './types.js';
