import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ProtectorError, redactUrlPassword } from '@protector/schema';
import {
  DataSource,
  type EntityManager,
  type EntitySchema,
  type Logger,
  type LoggerOptions,
  type MigrationInterface,
} from 'typeorm';
import { isSqliteBusy, openSqlite } from '../sqlite/index.js';

/** The two databases a Protector service can keep its data in. */
export type DatabaseDialect = 'sqlite' | 'postgres';

/** Name of the table where TypeORM records which migrations ran. */
export const MIGRATIONS_TABLE = 'schema_migrations';

/** A database location parsed from `[database] connection`. */
export type DatabaseLocation =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | { readonly dialect: 'postgres'; readonly url: string };

export interface DataSourceOptions {
  /**
   * `sqlite:///abs/path.sqlite`, a plain file path, `:memory:`, or
   * `postgresql://user:pass@host:port/db` (`postgres://` too).
   */
  readonly url: string;
  /** TypeORM query logging. Secrets are encrypted before they reach a query, so logs hold ciphertext only. */
  readonly logging?: LoggerOptions;
  /** Where TypeORM's logging goes (its console by default); tests count queries with one. */
  readonly logger?: Logger;
  /**
   * How long SQLite waits on a lock held by another connection before failing.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
}

/** Parses a database URL; throws `CONFIG_INVALID` naming the accepted forms. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
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

/** What a service's schema brings to {@link createDataSource}. */
export interface DatabaseSchema {
  /** Entities for a dialect (SQLite has no timestamptz, so column types may differ). */
  readonly entities: (dialect: DatabaseDialect) => EntitySchema[];
  /** Every migration, oldest first. */
  readonly migrations: readonly (new () => MigrationInterface)[];
  /** Names the service in PostgreSQL's pg_stat_activity and in error messages, e.g. `protector-site`. */
  readonly applicationName: string;
}

/**
 * Opens a service database and runs pending migrations (never `synchronize`). SQLite gets WAL,
 * `foreign_keys = ON` and a busy timeout.
 */
export async function createDataSource(
  schema: DatabaseSchema,
  options: DataSourceOptions,
): Promise<DataSource> {
  const location = parseDatabaseUrl(options.url);
  const common = {
    entities: schema.entities(location.dialect),
    migrations: [...schema.migrations] as (new () => MigrationInterface)[],
    migrationsRun: false, // run below, tolerating a peer that migrates at the same time
    migrationsTableName: MIGRATIONS_TABLE,
    synchronize: false,
    logging: options.logging ?? false,
    ...(options.logger ? { logger: options.logger } : {}),
  };
  const dataSource =
    location.dialect === 'postgres'
      ? new DataSource({
          ...common,
          type: 'postgres' as const,
          url: location.url,
          applicationName: schema.applicationName,
        })
      : new DataSource({
          ...common,
          type: 'better-sqlite3' as const,
          database: location.path,
          timeout: options.busyTimeoutMs ?? 5000,
          enableWAL: location.path !== ':memory:',
          prepareDatabase: (db: { pragma(source: string): unknown }) => {
            // WAL makes NORMAL durable across application crashes; only power loss can drop the last commit.
            db.pragma('synchronous = NORMAL');
          },
        });
  try {
    // WAL is switched on (a one-time change to the file) where a racing peer cannot make it fail.
    if (location.dialect === 'sqlite' && location.path !== ':memory:') {
      mkdirSync(dirname(location.path), { recursive: true, mode: 0o750 });
      openSqlite(location.path, { busyTimeoutMs: options.busyTimeoutMs ?? 5000 }).close();
    }
    await dataSource.initialize();
    await migrate(dataSource);
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    const where = location.dialect === 'postgres' ? redactUrlPassword(location.url) : location.path;
    throw new ProtectorError(
      'INTERNAL',
      `Cannot open the ${schema.applicationName} database ${where}: ${(err as Error).message}`,
      { dialect: location.dialect },
      { cause: err },
    );
  }
  return dataSource;
}

/** Whether a failed migration may be a peer migrating the same database at the same time. */
const isMigrationRace = (err: unknown): boolean => {
  const e = err as { driverError?: unknown; message?: unknown };
  return (
    isSqliteBusy(e?.driverError ?? err) ||
    /already exists|duplicate key|UNIQUE constraint failed|database is locked/i.test(String(e?.message ?? ''))
  );
};

/**
 * Runs pending migrations in one transaction. A peer process migrating at the same time makes
 * ours fail (a table it created exists, or the database is busy); then ours rolled back, and we
 * look again: nothing pending means the peer did the work.
 */
async function migrate(dataSource: DataSource): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await dataSource.runMigrations({ transaction: 'all' });
      return;
    } catch (err) {
      if (!isMigrationRace(err) || attempt >= 10) throw err;
      if (!(await dataSource.showMigrations().catch(() => true))) return;
      await new Promise((r) => setTimeout(r, 20 * attempt * (0.5 + Math.random())));
    }
  }
}

/** The dialect of an open data source. */
export const dialectOf = (dataSource: DataSource): DatabaseDialect =>
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
  if (dialectOf(dataSource) !== 'sqlite') return undefined;
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
 * any write to the database. Never call it again from inside `work` (it would wait forever).
 */
export function runInTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>) {
  const queue = queueFor(dataSource);
  const run = () => dataSource.transaction(work);
  return queue ? queue.run(run) : run();
}

/** Runs read-only `work` outside a transaction, queued behind SQLite transactions (see `runInTransaction`). */
export function runRead<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const queue = queueFor(dataSource);
  const run = () => work(dataSource.manager);
  return queue ? queue.run(run) : run();
}
