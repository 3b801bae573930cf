import { randomUUID } from 'node:crypto';
import { generateSecretKey } from '@protector/platform/db';
import { needs, startTestPostgres, type TestPostgres, testPostgres } from '@protector/test-kit';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSiteDataSource, SITE_MIGRATIONS } from './data-source.js';
import { createSiteRepository } from './repository.js';
import type { ProtectionGroupMetadata } from './types.js';

/**
 * The same migrations, compare-and-set and idempotent steps against a real PostgreSQL 15,
 * started in a temporary directory on a free loopback port and removed afterwards.
 */

const newPg = (overrides: Partial<ProtectionGroupMetadata> = {}): ProtectionGroupMetadata => ({
  id: randomUUID(),
  name: 'prod-web-app',
  projectId: 'p1',
  replicationType: 'sync',
  currentPrimarySite: 'boston',
  secondarySite: 'seattle',
  ...overrides,
});

needs(testPostgres).describe('site database on PostgreSQL 15', () => {
  let cluster: TestPostgres;
  let ds: DataSource;
  const key = generateSecretKey();

  beforeAll(async () => {
    cluster = await startTestPostgres();
    ds = await createSiteDataSource({ url: cluster.url });
  }, 120_000);
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await cluster?.stop();
  });

  it('migrates, matches the entities, and re-opens without re-running migrations', async () => {
    expect(await ds.query('SELECT name FROM schema_migrations')).toEqual(
      SITE_MIGRATIONS.map((m) => ({ name: new m().name })),
    );
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    const again = await createSiteDataSource({ url: cluster.url });
    try {
      expect(await again.showMigrations()).toBe(false);
      expect(await again.query('SELECT COUNT(*)::int AS n FROM schema_migrations')).toEqual([
        { n: SITE_MIGRATIONS.length },
      ]);
    } finally {
      await again.destroy();
    }
  });

  it('does compare-and-set: create, update, conflict, and one winner among concurrent writers', async () => {
    const repo = createSiteRepository(ds, { secretKey: key });
    const md = newPg({
      members: [{ name: 'db-1', serverId: 'srv-1', volumes: [{ sizeGb: 10 }, { sizeGb: 20, bootIndex: 0 }] }],
      replicationPolicy: {
        primaryArrayUrl: 'https://fa-a.example.com',
        secondaryArrayUrl: 'https://fa-b.example.com',
        primaryArrayToken: 'T-pg-token-primary',
        replicationIntervalSeconds: 120,
        rpoMinutes: 5,
      },
    });
    await expect(repo.applyProtectionGroupMetadata(md, 1)).rejects.toMatchObject({
      code: 'VERSION_CONFLICT',
    });
    expect(await repo.applyProtectionGroupMetadata(md, 0)).toMatchObject({ metadataVersion: 1 });
    await expect(repo.applyProtectionGroupMetadata(md, 0)).rejects.toMatchObject({
      code: 'VERSION_CONFLICT',
      message: "Protection Group 'prod-web-app' is at metadata version 1, expected 0",
    });

    // two site services on one PostgreSQL: separate data sources, same row
    const other = await createSiteDataSource({ url: cluster.url });
    try {
      const otherRepo = createSiteRepository(other, { secretKey: key });
      const results = await Promise.allSettled([
        repo.applyProtectionGroupMetadata({ id: md.id, status: 'failing_over' }, 1),
        otherRepo.applyProtectionGroupMetadata({ id: md.id, status: 'error' }, 1),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({
        reason: { code: 'VERSION_CONFLICT', details: { current: 2 } },
      });
    } finally {
      await other.destroy();
    }

    expect((await repo.listMembers(md.id))[0]?.volumes.map((v) => v.sizeGb)).toEqual([10, 20]);
    expect(await repo.decryptTokens(md.id)).toEqual({
      primaryArrayToken: 'T-pg-token-primary',
      secondaryArrayToken: null,
    });
    const [stored] = await ds.query('SELECT primary_token_cipher AS c FROM replication_policy');
    expect(stored.c).not.toContain('T-pg-token-primary');

    await repo.deleteProtectionGroup(md.id, 2);
    expect(await ds.query('SELECT COUNT(*)::int AS n FROM member_volume')).toEqual([{ n: 0 }]);
    expect(await ds.query('SELECT COUNT(*)::int AS n FROM replication_policy')).toEqual([{ n: 0 }]);
  });

  it('pages by bytes whatever the database collation (as SQLite does), and runs steps once', async () => {
    const repo = createSiteRepository(ds, { secretKey: key });
    for (const name of ['b', 'a', 'C', 'a_b', 'a-c'])
      await repo.applyProtectionGroupMetadata(newPg({ name }), 0);
    const page1 = await repo.listProtectionGroups({ projectId: 'p1' }, { first: 3 });
    const page2 = await repo.listProtectionGroups(
      { projectId: 'p1' },
      { first: 3, after: page1.pageInfo.endCursor },
    );
    expect([...page1.nodes, ...page2.nodes].map((pg) => pg.name)).toEqual(['C', 'a', 'a-c', 'a_b', 'b']);
    expect(page2.pageInfo.hasNextPage).toBe(false);
    expect(await repo.countProtectionGroupsByPrimarySite({ projectId: 'p1' })).toEqual(
      new Map([[page1.nodes[0]!.currentPrimarySite, 5]]),
    );
    // The sweeps' one-query read of every group: the same heads, dates as dates.
    const at = new Date('2026-12-01T10:00:00.123Z');
    const mark = await repo.protectionGroupsMark();
    expect(mark).toMatch(/^5\/5\/\d{4}-/);
    expect(
      await repo.recordReplications([
        { id: page1.nodes[0]!.id, at },
        { id: randomUUID(), at },
      ]),
    ).toBe(1);
    const heads = await repo.listProtectionGroupHeads();
    expect(heads.map((h) => h.name).sort()).toEqual(['C', 'a', 'a-c', 'a_b', 'b']);
    expect(heads.find((h) => h.id === page1.nodes[0]!.id)?.lastReplicationAt?.toISOString()).toBe(
      at.toISOString(),
    );
    // A point landing leaves the sweeps' mark; a policy written moves it.
    expect(await repo.protectionGroupsMark()).toBe(mark);
    await repo.setReplicationPolicy(
      page1.nodes[1]!.id,
      {
        primaryArrayUrl: 'https://fa-a.example',
        secondaryArrayUrl: 'https://fa-b.example',
        replicationIntervalSeconds: 120,
        rpoMinutes: 7,
      },
      1,
    );
    expect(await repo.getReplicationSchedules()).toEqual(
      new Map([[page1.nodes[1]!.id, { replicationIntervalSeconds: 120, rpoMinutes: 7 }]]),
    );
    expect(await repo.protectionGroupsMark()).not.toBe(mark);
    expect(heads.find((h) => h.id === page1.nodes[1]!.id)).toMatchObject({
      lastReplicationAt: null,
      projectId: 'p1',
      replicationType: page1.nodes[1]!.replicationType,
    });

    let calls = 0;
    const step = () => repo.runStepOnce('op-pg', 'k', 'Step', { token: 'x' }, async () => ({ n: ++calls }));
    expect(await step()).toEqual({ n: 1 });
    expect(await step()).toEqual({ n: 1 });
    expect(await repo.getStepAudit('op-pg', 'k')).toMatchObject({
      status: 'succeeded',
      request: { token: '[REDACTED]' },
    });
  });
});
