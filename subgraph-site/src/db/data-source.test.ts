import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { redactUrlPassword } from '@protector/schema';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createSiteDataSource,
  parseDatabaseUrl,
  SITE_MIGRATIONS,
  SITE_MIGRATIONS_TABLE,
} from './data-source.js';
import { createSiteRepository } from './repository.js';

describe('parseDatabaseUrl', () => {
  it.each([
    [
      'sqlite:///var/lib/protector/site.sqlite',
      { dialect: 'sqlite', path: '/var/lib/protector/site.sqlite' },
    ],
    ['/var/lib/protector/site.sqlite', { dialect: 'sqlite', path: '/var/lib/protector/site.sqlite' }],
    ['site.sqlite', { dialect: 'sqlite', path: resolve('site.sqlite') }],
    [':memory:', { dialect: 'sqlite', path: ':memory:' }],
    ['sqlite::memory:', { dialect: 'sqlite', path: ':memory:' }],
    ['postgresql://u:p@db:5432/site', { dialect: 'postgres', url: 'postgresql://u:p@db:5432/site' }],
    ['postgres://u@db/site', { dialect: 'postgres', url: 'postgres://u@db/site' }],
  ])('%s', (url, expected) => {
    expect(parseDatabaseUrl(url)).toEqual(expected);
  });

  it('refuses other schemes, naming the accepted forms', () => {
    expect(() => parseDatabaseUrl('mysql://u:p@h/db')).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining("scheme 'mysql'") }),
    );
  });

  it('hides the password in messages', () => {
    expect(redactUrlPassword('postgresql://protector:s3cr3t@db:5432/site')).toBe(
      'postgresql://protector:***@db:5432/site',
    );
  });
});

describe('createSiteDataSource on SQLite', () => {
  let dir: string;
  const open: DataSource[] = [];
  const openDb = async (url: string) => {
    const ds = await createSiteDataSource({ url });
    open.push(ds);
    return ds;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-ds-'));
  });
  afterEach(async () => {
    for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates a fresh file, and re-opening it neither re-runs migrations nor loses data', async () => {
    const url = `sqlite://${join(dir, 'sub', 'site.sqlite')}`;
    const first = await openDb(url);
    const ran = await first.query(`SELECT name FROM ${SITE_MIGRATIONS_TABLE}`);
    expect(ran.map((r: { name: string }) => r.name)).toEqual(SITE_MIGRATIONS.map((m) => new m().name));
    const tables = await first.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining([
        'member',
        'member_volume',
        'protection_group_replica',
        'replication_policy',
        'resource_mapping',
        'site',
        'step_audit',
        'tenant_mapping',
      ]),
    );
    await createSiteRepository(first, { secretKey: Buffer.alloc(32, 1) }).upsertSite({
      name: 'boston',
      role: 'local',
      authUrl: 'https://keystone.boston.example.com/v3',
    });
    await first.destroy();

    const second = await openDb(url);
    expect(await second.query(`SELECT COUNT(*) AS n FROM ${SITE_MIGRATIONS_TABLE}`)).toEqual([
      { n: SITE_MIGRATIONS.length },
    ]);
    expect(await second.showMigrations()).toBe(false);
    const sites = await createSiteRepository(second, { secretKey: Buffer.alloc(32, 1) }).listSites();
    expect(sites.map((s) => s.name)).toEqual(['boston']);
  });

  it('runs with WAL, foreign keys on and a busy timeout', async () => {
    const ds = await openDb(join(dir, 'site.sqlite'));
    expect(await ds.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await ds.query('PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    expect(await ds.query('PRAGMA busy_timeout')).toEqual([{ timeout: 5000 }]);
  });

  it('has a schema that matches the entities exactly (migrations and entities never drift)', async () => {
    const ds = await openDb(join(dir, 'site.sqlite'));
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('never synchronizes: an unmigrated database is migrated, not synced', async () => {
    const ds = await openDb(':memory:');
    expect(ds.options.synchronize).toBe(false);
    // Migrated by createDataSource itself (not at TypeORM's initialize), so it can tolerate a racing peer.
    expect(await ds.showMigrations()).toBe(false);
    expect((await ds.query('SELECT COUNT(*) AS n FROM schema_migrations'))[0].n).toBe(SITE_MIGRATIONS.length);
  });

  it('reports a database it cannot open with the path', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, '');
    const path = join(blocker, 'site.sqlite');
    await expect(createSiteDataSource({ url: `sqlite://${path}` })).rejects.toThrow(
      `Cannot open the protector-site database ${path}`,
    );
  });
});
