/**
 * Opening a SQLite file that several processes may open at once, a fresh one included: the two
 * site services of the lab share the mock arrays' file, and a service restarted while its previous
 * process is still stopping opens its own database twice. Only better-sqlite3 is loaded here.
 */
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface OpenSqliteOptions {
  /**
   * How long a statement waits on a lock held by another connection before failing.
   * @default 10000
   */
  readonly busyTimeoutMs?: number;
  /** Statements that create the schema (`CREATE TABLE IF NOT EXISTS ...`), run in one write transaction. */
  readonly schema?: string;
  /** Prepared statements kept for reuse by their text (0: prepare every time). @default 256 */
  readonly statementsKept?: number;
}

/** Whether an error is SQLite's "another connection holds the lock" (any of its BUSY/LOCKED codes). */
export function isSqliteBusy(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `work` again while SQLite reports the database busy, up to `timeoutMs`. The busy timeout
 * covers most waits, but SQLite answers BUSY at once where waiting could deadlock: switching a
 * fresh file to WAL while a peer does the same, a peer recovering the WAL, or a read transaction
 * that wants to write after a peer wrote.
 */
export function retrySqliteBusy<T>(work: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      return work();
    } catch (err) {
      if (!isSqliteBusy(err) || Date.now() + delay > deadline) throw err;
      Atomics.wait(pause, 0, 0, delay * (0.5 + Math.random()));
    }
  }
}

/**
 * Opens (creating when needed) a SQLite database in WAL mode, with the busy timeout set before
 * any statement runs, and creates its schema in one immediate (write-locked) transaction, so
 * processes that open the same fresh file together all come up.
 */
export function openSqlite(file: string, options: OpenSqliteOptions = {}): Database.Database {
  const timeout = options.busyTimeoutMs ?? 10_000;
  // State holds credentials and tenants' data: a new file is readable by its owner only (SQLite
  // gives its -wal and -shm files the same mode).
  if (file !== ':memory:' && !file.startsWith('file:')) closeSync(openSync(file, 'a', 0o600));
  // The constructor's `timeout` is SQLite's busy timeout, in force from the first statement on.
  const db = new Database(file, { timeout });
  try {
    retrySqliteBusy(() => db.pragma('journal_mode = WAL'), timeout);
    // WAL makes NORMAL durable across application crashes; only power loss can drop the last commit.
    db.pragma('synchronous = NORMAL');
    const { schema } = options;
    if (schema) retrySqliteBusy(() => db.transaction(() => db.exec(schema)).immediate(), timeout);
  } catch (err) {
    db.close();
    throw err;
  }
  cacheStatements(db, options.statementsKept ?? 256);
  return db;
}

/**
 * Makes `db.prepare` answer the statement it prepared before for the same text (at most `kept`,
 * the oldest forgotten first): code that prepares per call (simulators, stores) stops paying SQLite's
 * compilation on every request. Statements are run with all/get/run, never left iterating.
 */
function cacheStatements(db: Database.Database, kept: number): void {
  if (kept <= 0) return;
  const prepare = db.prepare.bind(db);
  const statements = new Map<string, Database.Statement>();
  db.prepare = ((source: string) => {
    let stmt = statements.get(source);
    if (!stmt) {
      stmt = prepare(source);
      if (statements.size >= kept) statements.delete(statements.keys().next().value!);
      statements.set(source, stmt);
    }
    return stmt;
  }) as typeof db.prepare;
}
