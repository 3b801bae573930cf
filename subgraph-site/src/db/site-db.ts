/**
 * The handle every persistence module shares: transactions and reads on the site data source, row
 * locks for read-then-write, and the key that seals array tokens.
 */
import type { SecretKey } from '@protector/platform/db';
import type { DataSource, EntityManager, FindOneOptions } from 'typeorm';
import { runInSiteTransaction, runSiteRead, siteDialect } from './data-source.js';

export class SiteDb {
  /** Encrypts and decrypts array tokens at rest. */
  readonly key: SecretKey;
  readonly #dataSource: DataSource;
  readonly #postgres: boolean;

  constructor(dataSource: DataSource, key: SecretKey) {
    this.#dataSource = dataSource;
    this.key = key;
    this.#postgres = siteDialect(dataSource) === 'postgres';
  }

  /** Runs `work` in its own transaction. */
  tx<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return runInSiteTransaction(this.#dataSource, work);
  }

  /** Runs a read. */
  read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return runSiteRead(this.#dataSource, work);
  }

  /** Row lock for read-then-write in a transaction; SQLite needs none (one writer, queued). */
  forUpdate(): Pick<FindOneOptions, 'lock'> {
    return this.#postgres ? { lock: { mode: 'pessimistic_write' } } : {};
  }
}
