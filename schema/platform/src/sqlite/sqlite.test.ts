import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'protector-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openSqlite', () => {
  it('prepares a statement once per text, keeping as many as it is told', () => {
    const db = openSqlite(join(dir, 'cache.sqlite'), {
      schema: 'CREATE TABLE IF NOT EXISTS t (x INTEGER)',
      statementsKept: 2,
    });
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    expect(db.prepare('INSERT INTO t VALUES (?)')).toBe(insert);
    insert.run(1);
    insert.run(2);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
    // A third text pushes out the oldest.
    db.prepare('SELECT x FROM t');
    expect(db.prepare('INSERT INTO t VALUES (?)')).not.toBe(insert);
    db.close();
  });

  it('creates a database readable by its owner only, with its WAL files alike', () => {
    const file = join(dir, 'state.sqlite');
    const db = openSqlite(file, { schema: 'CREATE TABLE IF NOT EXISTS t (x INTEGER)' });
    db.prepare('INSERT INTO t VALUES (1)').run();
    for (const f of [file, `${file}-wal`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
    db.close();
  });
});
