import {
  createDataSource,
  type DataSourceOptions,
  dialectOf,
  MIGRATIONS_TABLE,
  runInTransaction,
  runRead,
} from '@protector/platform/db';
import type { DataSource } from 'typeorm';
import { buildSiteEntities } from './entities.js';
import { InitialSiteSchema1732300000000 } from './migrations/0001-initial-schema.js';
import { MemberPlacements1732500000000 } from './migrations/0002-member-placements.js';
import { MemberBootPriority1732600000000 } from './migrations/0003-member-boot-priority.js';
import { PgNameOrderIndex1733100000000 } from './migrations/0004-pg-name-order-index.js';

/** Every migration of the site schema, oldest first. */
export const SITE_MIGRATIONS = [
  InitialSiteSchema1732300000000,
  MemberPlacements1732500000000,
  MemberBootPriority1732600000000,
  PgNameOrderIndex1733100000000,
];

/** Name of the table where TypeORM records which migrations ran. */
export const SITE_MIGRATIONS_TABLE = MIGRATIONS_TABLE;

export type SiteDataSourceOptions = DataSourceOptions;

/** Opens the site database (SQLite with WAL, or PostgreSQL) and runs pending migrations. */
export const createSiteDataSource = (options: SiteDataSourceOptions): Promise<DataSource> =>
  createDataSource(
    { entities: buildSiteEntities, migrations: SITE_MIGRATIONS, applicationName: 'protector-site' },
    options,
  );

export {
  type DatabaseLocation as SiteDatabaseLocation,
  parseDatabaseUrl,
} from '@protector/platform/db';
/** Site names for the shared helpers (see `@protector/schema/db`). */
export const siteDialect = dialectOf;
export const runInSiteTransaction = runInTransaction;
export const runSiteRead = runRead;
