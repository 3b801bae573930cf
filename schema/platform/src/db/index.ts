/** Persistence shared by the site service and the gateway: TypeORM data sources (SQLite or PostgreSQL) and secrets at rest. */
export {
  decryptSecret,
  encryptSecret,
  generateSecretKey,
  loadOrCreateKey,
  parseSecretKey,
  SECRET_KEY_BYTES,
  type SecretKey,
} from './crypto.js';
export {
  createDataSource,
  type DatabaseDialect,
  type DatabaseLocation,
  type DatabaseSchema,
  type DataSourceOptions,
  dialectOf,
  MIGRATIONS_TABLE,
  parseDatabaseUrl,
  runInTransaction,
  runRead,
} from './data-source.js';
