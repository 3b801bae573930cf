import { isAbsolute, resolve } from 'node:path';
import { ProtectorError } from '@protector/schema';
import { DataSource, type EntityManager, type LoggerOptions } from 'typeorm';
import { buildSiteEntities, type SiteDatabaseDialect } from './entities.js';
import { InitialSiteSchema1732300000000 } from './migrations/0001-initial-schema.js';

/** Every migration of the site schema, oldest first. */
export const SITE_MIGRATIONS = [InitialSiteSchema1732300000000];

/** Name of the table where TypeORM records which migrations ran. */
export const SITE_MIGRATIONS_TABLE = 'schema_migrations';

/** A database location parsed from `[database] connection`. */
export type SiteDatabaseLocation =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string };

export interface SiteDataSourceOptions {
  /**
   * `sqlite:///abs/path.sqlite`, a plain file path, `:memory:`, or
   * `postgresql://user:pass@host:port/db` (`postgres://` too).
   */
  readonly url: string;
  /** TypeORM query logging. Secrets are encrypted before they reach a query, so logs hold ciphertext only. */
  readonly logging?: LoggerOptions;
  /**
   * How long SQLite waits on a lock held by another connection before failing.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
}

/** Parses a database URL; throws `CONFIG_INVALID` naming the accepted forms. */
export function parseDatabaseUrl(url: string): SiteDatabaseLocation {
  const value = url.trim();
  if (value === '') {
    throw new ProtectorError(
      'CONFIG_INVALID',
      'Database URL is empty; use sqlite:///path/site.sqlite or postgresql://...',
    );
  }
  if (value === ':memory:' || value === 'sqlite::memory:' || value === 'sqlite://:memory:') {
    return { dialect: 'sqlite', path: ':memory:' };
  }
  if (/^postgres(ql)?:\/\//i.test(value)) return { dialect: 'postgres', url: value };
  if (/^sqlite:/i.test(value)) {
    // sqlite:///abs/path -> /abs/path ; sqlite://rel/path and sqlite:rel/path -> relative to cwd
    const rest = value.replace(/^sqlite:(\/\/)?/i, '');
    if (rest === '') {
      throw new ProtectorError(
        'CONFIG_INVALID',
        `Database URL '${value}' names no file; use sqlite:///path/site.sqlite`,
      );
    }
    return { dialect: 'sqlite', path: isAbsolute(rest) ? rest : resolve(rest) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1];
  if (scheme) {
    throw new ProtectorError(
      'CONFIG_INVALID',
      `Database URL scheme '${scheme}' is not supported; use sqlite:///path/site.sqlite or postgresql://user:pass@host:5432/db`,
    );
  }
  return { dialect: 'sqlite', path: resolve(value) };
}

/** The URL with its password replaced, for messages and logs. */
export const redactDatabaseUrl = (url: string): string => url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');

/**
 * Opens the site database and runs pending migrations (never `synchronize`). SQLite gets WAL,
 * `foreign_keys = ON` and a busy timeout.
 */
export async function createSiteDataSource(options: SiteDataSourceOptions): Promise<DataSource> {
  const location = parseDatabaseUrl(options.url);
  const common = {
    entities: buildSiteEntities(location.dialect),
    migrations: SITE_MIGRATIONS,
    migrationsRun: true,
    migrationsTableName: SITE_MIGRATIONS_TABLE,
    synchronize: false,
    logging: options.logging ?? false,
  } as const;
  const dataSource =
    location.dialect === 'postgres'
      ? new DataSource({ ...common, type: 'postgres', url: location.url, applicationName: 'protector-site' })
      : new DataSource({
          ...common,
          type: 'better-sqlite3',
          database: location.path,
          timeout: options.busyTimeoutMs ?? 5000,
          enableWAL: location.path !== ':memory:',
          prepareDatabase: (db: { pragma(source: string): unknown }) => {
            // WAL makes NORMAL durable across application crashes; only power loss can drop the last commit.
            db.pragma('synchronous = NORMAL');
          },
        });
  try {
    await dataSource.initialize();
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    const where = location.dialect === 'postgres' ? redactDatabaseUrl(location.url) : location.path;
    throw new ProtectorError(
      'INTERNAL',
      `Cannot open the site database ${where}: ${(err as Error).message}`,
      { dialect: location.dialect },
      { cause: err },
    );
  }
  return dataSource;
}

/** The dialect of an open site data source. */
export const siteDialect = (dataSource: DataSource): SiteDatabaseDialect =>
  dataSource.options.type === 'postgres' ? 'postgres' : 'sqlite';

/** Serializes work on one connection: TypeORM shares a single query runner for SQLite. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const sqliteQueues = new WeakMap<DataSource, SerialQueue>();

const queueFor = (dataSource: DataSource): SerialQueue | undefined => {
  if (siteDialect(dataSource) !== 'sqlite') return undefined;
  let queue = sqliteQueues.get(dataSource);
  if (!queue) {
    queue = new SerialQueue();
    sqliteQueues.set(dataSource, queue);
  }
  return queue;
};

/**
 * Runs `work` in a transaction. On SQLite, TypeORM uses one connection for everything, so two
 * concurrent transactions would interleave on it (the second becoming a savepoint of the first);
 * every caller in the process therefore queues here. Use this, not `dataSource.transaction`, for
 * any write to the site database. Never call it again from inside `work` (it would wait forever).
 */
export function runInSiteTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
) {
  const queue = queueFor(dataSource);
  const run = () => dataSource.transaction(work);
  return queue ? queue.run(run) : run();
}

/** Runs read-only `work` outside a transaction, queued behind SQLite transactions (see `runInSiteTransaction`). */
export function runSiteRead<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  const queue = queueFor(dataSource);
  const run = () => work(dataSource.manager);
  return queue ? queue.run(run) : run();
}
