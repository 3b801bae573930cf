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

  /**
   * A text column compared and ordered by its bytes (code points), on either database: lists ordered
   * by name page the same way on every site, whatever PostgreSQL's collation, so the coordinator can
   * merge two sites' pages.
   */
  bytewise(column: string): string {
    return this.#postgres ? `${column} COLLATE "C"` : column;
  }

  /** Row lock for read-then-write in a transaction; SQLite needs none (one writer, queued). */
  forUpdate(): Pick<FindOneOptions, 'lock'> {
    return this.#postgres ? { lock: { mode: 'pessimistic_write' } } : {};
  }
}
