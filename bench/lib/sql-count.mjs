// Preload (`node --import bench/lib/sql-count.mjs`) that counts the SQL statements a process runs through
// better-sqlite3, per database file, and tells apart those run while serving an HTTP request that
// carries the header `x-bench-count` (tracked with AsyncLocalStorage) from all others (background
// loops, other callers). On SIGUSR2 it writes what it counted to
// `$BENCH_SQL_COUNT_DIR/sql-<pid>.json`. It does nothing unless BENCH_SQL_COUNT_DIR is set.
//
// bench:site starts the lab's processes with it (NODE_OPTIONS), as the site exposes no statement
// counter or query log option of its own. Its cost in the timed runs is one function call per
// statement; counting itself happens in a separate pass of marked requests, one at a time. Statements
// are counted where better-sqlite3 executes them (Statement#run, #get, #all, #iterate), which is where
// TypeORM's better-sqlite3 driver runs every query, BEGIN and COMMIT.
import { AsyncLocalStorage } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';

const dir = process.env.BENCH_SQL_COUNT_DIR;
if (dir) {
  let Database = null;
  try {
    Database = createRequire(import.meta.url)('better-sqlite3');
  } catch {
    // not a process with SQLite: nothing to count
  }
  if (Database) {
    const inRequest = new AsyncLocalStorage();
    const counts = { pid: process.pid, requests: 0, inRequest: {}, other: {} };
    const probe = new Database(':memory:');
    const statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
    probe.close();
    for (const method of ['run', 'get', 'all', 'iterate']) {
      const original = statement[method];
      statement[method] = function counted(...args) {
        const file = this.database?.name ?? 'unknown';
        const bucket = inRequest.getStore() ? counts.inRequest : counts.other;
        bucket[file] = (bucket[file] ?? 0) + 1;
        return original.apply(this, args);
      };
    }
    const emit = http.Server.prototype.emit;
    http.Server.prototype.emit = function countedEmit(event, req, ...rest) {
      if (event === 'request' && req?.headers?.['x-bench-count']) {
        counts.requests++;
        return inRequest.run(true, () => emit.call(this, event, req, ...rest));
      }
      return emit.call(this, event, req, ...rest);
    };
    process.on('SIGUSR2', () => {
      writeFileSync(`${dir}/sql-${process.pid}.json`, `${JSON.stringify(counts)}\n`);
    });
  }
}
