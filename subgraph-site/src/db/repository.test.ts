import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from '@protector/platform/db';
import type { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSiteDataSource } from './data-source.js';
import { createSiteRepository, type SiteRepository } from './repository.js';
import type { MemberInput, ProtectionGroupMetadata, ReplicationPolicyInput } from './types.js';

const PROJECT = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const PRIMARY_TOKEN = 'T-aaaabbbb-cccc-dddd-eeee-ffffffffffff';
const SECONDARY_TOKEN = 'T-11112222-3333-4444-5555-666677778888';

const newPg = (overrides: Partial<ProtectionGroupMetadata> = {}): ProtectionGroupMetadata => ({
  id: randomUUID(),
  name: 'prod-web-app',
  projectId: PROJECT,
  replicationType: 'async',
  currentPrimarySite: 'boston',
  secondarySite: 'seattle',
  storageGroupName: 'pg-prod-web-app',
  volumeType: 'replicated-ssd',
  ...overrides,
});

const webMember = (serverId = randomUUID()): MemberInput => ({
  serverId,
  name: 'web-1',
  siteServerIds: { boston: serverId },
  volumes: [
    {
      volumeId: randomUUID(),
      arrayVolumeName: 'volume-web-1-boot',
      sizeGb: 20,
      bootIndex: 0,
      deviceName: '/dev/vda',
    },
    { volumeId: randomUUID(), arrayVolumeName: 'volume-web-1-data', sizeGb: 100, bootIndex: null },
  ],
});

const policy: ReplicationPolicyInput = {
  primaryArrayUrl: 'https://fa-boston-01.example.com',
  secondaryArrayUrl: 'https://fa-seattle-01.example.com',
  primaryArrayToken: PRIMARY_TOKEN,
  secondaryArrayToken: SECONDARY_TOKEN,
  purePgName: 'pg-prod-web-app',
  replicationIntervalSeconds: 300,
  rpoMinutes: 15,
};

/** A second data source on the same file that records the text of every statement it runs. */
async function countingDataSource(dbPath: string) {
  const queries: string[] = [];
  const counted = await createSiteDataSource({
    url: `sqlite://${dbPath}`,
    logging: ['query'],
    logger: {
      logQuery: (q: string) => {
        queries.push(q);
      },
      logQueryError: () => {},
      logQuerySlow: () => {},
      logSchemaBuild: () => {},
      logMigration: () => {},
      log: () => {},
    },
  });
  return { counted, queries };
}

describe('SiteRepository on SQLite', () => {
  let dir: string;
  let dbPath: string;
  let ds: DataSource;
  let repo: SiteRepository;
  const key = generateSecretKey();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'protector-repo-'));
    dbPath = join(dir, 'site.sqlite');
    ds = await createSiteDataSource({ url: `sqlite://${dbPath}` });
    repo = createSiteRepository(ds, { secretKey: key });
  });
  afterEach(async () => {
    if (ds.isInitialized) await ds.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  describe('applyProtectionGroupMetadata (compare-and-set)', () => {
    it('creates at expected version 0 and stores version 1', async () => {
      const md = newPg({ members: [webMember()] });
      const pg = await repo.applyProtectionGroupMetadata(md, 0);
      expect(pg).toMatchObject({ id: md.id, name: 'prod-web-app', status: 'active', metadataVersion: 1 });
      expect(pg.syncStatus).toBe('IN_SYNC');
      expect(await repo.getProtectionGroup(md.id)).toEqual(pg);
      const members = await repo.listMembers(md.id);
      expect(members).toHaveLength(1);
      expect(members[0]?.volumes.map((v) => v.arrayVolumeName)).toEqual([
        'volume-web-1-boot',
        'volume-web-1-data',
      ]);
      expect(members[0]?.status).toBe('protected');
    });

    it('refuses creation with an expected version other than 0', async () => {
      const md = newPg();
      await expect(repo.applyProtectionGroupMetadata(md, 3)).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
        details: { current: 0, expected: 3 },
      });
      expect(await repo.getProtectionGroup(md.id)).toBeNull();
    });

    it('names the missing fields when creating from partial metadata', async () => {
      await expect(repo.applyProtectionGroupMetadata({ id: randomUUID(), name: 'x' }, 0)).rejects.toThrow(
        /creating it needs projectId, replicationType, currentPrimarySite, secondarySite/,
      );
    });

    it('updates at the current version, keeps unspecified fields, and bumps by one', async () => {
      const md = newPg({ description: 'web tier' });
      await repo.applyProtectionGroupMetadata(md, 0);
      const pg = await repo.applyProtectionGroupMetadata({ id: md.id, status: 'failing_over' }, 1);
      expect(pg).toMatchObject({ metadataVersion: 2, status: 'failing_over', description: 'web tier' });
      expect(pg.storageGroupName).toBe('pg-prod-web-app');
    });

    it('refuses a stale expected version with the seed-style message and changes nothing', async () => {
      const md = newPg();
      await repo.applyProtectionGroupMetadata(md, 0);
      for (let v = 1; v <= 3; v += 1) await repo.applyProtectionGroupMetadata({ id: md.id }, v);
      const attempt = repo.applyProtectionGroupMetadata({ id: md.id, status: 'error' }, 3);
      await expect(attempt).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
        message: "Protection Group 'prod-web-app' is at metadata version 4, expected 3",
        details: { current: 4 },
      });
      expect(await repo.getProtectionGroup(md.id)).toMatchObject({ metadataVersion: 4, status: 'active' });
    });

    it('lets exactly one of two concurrent writers at the same version win', async () => {
      const md = newPg();
      await repo.applyProtectionGroupMetadata(md, 0);
      const results = await Promise.allSettled([
        repo.applyProtectionGroupMetadata({ id: md.id, description: 'a' }, 1),
        repo.applyProtectionGroupMetadata({ id: md.id, description: 'b' }, 1),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected')).toMatchObject([
        { reason: { code: 'VERSION_CONFLICT' } },
      ]);
    });

    it('rolls back the whole write when a later part fails', async () => {
      const md = newPg({ members: [webMember()] });
      await repo.applyProtectionGroupMetadata(md, 0);
      const dup = webMember();
      // same member id twice: the insert fails after the PG row was updated
      const members = [{ ...dup, id: randomUUID() }];
      const memberId = members[0]!.id;
      await expect(
        repo.applyProtectionGroupMetadata(
          { id: md.id, status: 'error', members: [...members, { ...webMember(), id: memberId }] },
          1,
        ),
      ).rejects.toThrow();
      expect(await repo.getProtectionGroup(md.id)).toMatchObject({ metadataVersion: 1, status: 'active' });
      expect(await repo.listMembers(md.id)).toHaveLength(1);
    });

    it('can jump to a given version (sync brings a stale replica level)', async () => {
      const md = newPg();
      await repo.applyProtectionGroupMetadata(md, 0);
      const pg = await repo.applyProtectionGroupMetadata({ id: md.id, status: 'failed_over' }, 1, {
        newVersion: 6,
      });
      expect(pg.metadataVersion).toBe(6);
      await expect(
        repo.applyProtectionGroupMetadata({ id: md.id }, 6, { newVersion: 6 }),
      ).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
    });

    it('replaces the member list when given, keeps it when not', async () => {
      const md = newPg({ members: [webMember(), { ...webMember(), name: 'web-2' }] });
      await repo.applyProtectionGroupMetadata(md, 0);
      await repo.applyProtectionGroupMetadata({ id: md.id, description: 'x' }, 1);
      expect(await repo.listMembers(md.id)).toHaveLength(2);
      await repo.applyProtectionGroupMetadata({ id: md.id, members: [{ ...webMember(), name: 'db-1' }] }, 2);
      expect((await repo.listMembers(md.id)).map((m) => m.name)).toEqual(['db-1']);
      const orphanVolumes = await ds.query(
        'SELECT COUNT(*) AS n FROM member_volume WHERE member_id NOT IN (SELECT id FROM member)',
      );
      expect(orphanVolumes).toEqual([{ n: 0 }]);
    });

    it('writes only the members that changed, whatever the size of the group, and keeps when each was added', async () => {
      const sizes = [3, 300];
      const writes: number[] = [];
      for (const size of sizes) {
        const members = Array.from({ length: size }, (_, i) => ({
          ...webMember(),
          id: randomUUID(),
          name: `web-${i}`,
        }));
        const md = newPg({ name: `app-${size}`, members });
        await repo.applyProtectionGroupMetadata(md, 0);
        const first = await repo.listMembers(md.id);
        await new Promise((r) => setTimeout(r, 5));
        const { counted, queries } = await countingDataSource(dbPath);
        try {
          const writer = createSiteRepository(counted, { secretKey: key });
          const changed = { ...members[1]!, bootPriority: 1 };
          const next = [
            members[0]!,
            changed,
            ...members.slice(3),
            { ...webMember(), id: randomUUID(), name: 'new' },
          ];
          await writer.applyProtectionGroupMetadata({ id: md.id, members: next }, 1);
          writes.push(queries.filter((q) => /^(INSERT|DELETE|UPDATE) .*"?member/i.test(q)).length);
        } finally {
          await counted.destroy();
        }
        const after = new Map((await repo.listMembers(md.id)).map((m) => [m.name, m]));
        expect(after.size).toBe(size);
        const before = new Map(first.map((m) => [m.name, m]));
        expect(after.get('web-0')!.createdAt).toEqual(before.get('web-0')!.createdAt);
        expect(after.get('web-0')!.updatedAt).toEqual(before.get('web-0')!.updatedAt);
        expect(after.get('web-1')!.bootPriority).toBe(1);
        expect(after.get('web-1')!.createdAt).toEqual(before.get('web-1')!.createdAt);
        expect(after.get('web-1')!.updatedAt.getTime()).toBeGreaterThan(
          before.get('web-1')!.updatedAt.getTime(),
        );
        expect(after.get('web-1')!.volumes).toEqual(before.get('web-1')!.volumes);
        expect(after.has('web-2')).toBe(false);
        expect(after.get('new')!.volumes).toHaveLength(2);
      }
      expect(writes[0]).toBeGreaterThan(0);
      expect(writes[1]).toBe(writes[0]);
    });

    it('refuses a second PG with the same name in the same project, allows it in another project', async () => {
      await repo.applyProtectionGroupMetadata(newPg(), 0);
      await expect(repo.applyProtectionGroupMetadata(newPg(), 0)).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
        message: expect.stringContaining("Protection Group 'prod-web-app' already exists in project"),
      });
      await expect(
        repo.applyProtectionGroupMetadata(newPg({ projectId: 'other' }), 0),
      ).resolves.toMatchObject({
        metadataVersion: 1,
      });
    });

    it('keeps the replication type fixed at creation', async () => {
      const md = newPg();
      await repo.applyProtectionGroupMetadata(md, 0);
      await expect(
        repo.applyProtectionGroupMetadata({ id: md.id, replicationType: 'sync' }, 1),
      ).rejects.toThrow(
        /replicationType of Protection Group 'prod-web-app' is fixed at creation \('async'\), got 'sync'/,
      );
    });

    it('validates input and names the field', async () => {
      await expect(repo.applyProtectionGroupMetadata(newPg({ id: 'pg-1' }), 0)).rejects.toThrow(
        /^id must be a UUID/,
      );
      await expect(
        repo.applyProtectionGroupMetadata(newPg({ status: 'broken' as never }), 0),
      ).rejects.toThrow(/status must be one of active, failing_over/);
      await expect(
        repo.applyProtectionGroupMetadata(newPg({ storageGroupName: 'pg_bad!' }), 0),
      ).rejects.toMatchObject({
        code: 'INVALID_NAME',
      });
      await expect(repo.applyProtectionGroupMetadata(newPg({ secondarySite: 'boston' }), 0)).rejects.toThrow(
        /secondarySite must differ from currentPrimarySite/,
      );
    });
  });

  describe('cascading deletes', () => {
    it('deleting a PG removes its members, volumes, policy and PG-scoped mappings, not global ones', async () => {
      const md = newPg({ members: [webMember()], replicationPolicy: policy });
      await repo.applyProtectionGroupMetadata(md, 0);
      await repo.replaceResourceMappings(md.id, [
        {
          kind: 'network',
          sourceSite: 'boston',
          sourceId: 'net-a',
          targetSite: 'seattle',
          targetId: 'net-b',
        },
      ]);
      await repo.replaceResourceMappings(null, [
        { kind: 'flavor', sourceSite: 'boston', sourceId: 'm1', targetSite: 'seattle', targetId: 'm1b' },
      ]);
      await expect(repo.deleteProtectionGroup(md.id, 0)).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
      await repo.deleteProtectionGroup(md.id, 1);
      const count = async (table: string) =>
        ((await ds.query(`SELECT COUNT(*) AS n FROM ${table}`)) as [{ n: number }])[0].n;
      expect(await count('protection_group_replica')).toBe(0);
      expect(await count('member')).toBe(0);
      expect(await count('member_volume')).toBe(0);
      expect(await count('replication_policy')).toBe(0);
      expect(await count('resource_mapping')).toBe(1);
      await expect(repo.deleteProtectionGroup(md.id, 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('the database itself enforces the foreign keys', async () => {
      await expect(
        ds.query(
          "INSERT INTO member (id, protection_group_id, name, status, site_server_ids, created_at, updated_at) VALUES ('m', 'nope', 'x', 'protected', '{}', '2024-01-01', '2024-01-01')",
        ),
      ).rejects.toThrow(/FOREIGN KEY constraint failed/);
    });
  });

  describe('replication policy tokens', () => {
    it('are encrypted at rest: the database file never holds the token', async () => {
      const md = newPg({ replicationPolicy: policy });
      await repo.applyProtectionGroupMetadata(md, 0);
      await ds.query('PRAGMA wal_checkpoint(TRUNCATE)');
      const files = [dbPath, `${dbPath}-wal`];
      for (const file of files) {
        const bytes = await readFile(file).catch(() => Buffer.alloc(0));
        expect(bytes.includes(Buffer.from('aaaabbbb-cccc'))).toBe(false);
        expect(bytes.includes(Buffer.from('11112222-3333'))).toBe(false);
      }
      const [row] = await ds.query('SELECT primary_token_cipher AS c FROM replication_policy');
      expect(row.c).toMatch(new RegExp(`^v1:${key.keyId}:`));
    });

    it('are never returned by reads, only whether they are set', async () => {
      const md = newPg({ replicationPolicy: policy, members: [webMember()] });
      await repo.applyProtectionGroupMetadata(md, 0);
      const everything = JSON.stringify([
        await repo.getReplicationPolicy(md.id),
        await repo.getProtectionGroup(md.id),
        await repo.listProtectionGroups(),
        await repo.listMembers(md.id),
      ]);
      expect(everything).not.toContain('aaaabbbb');
      expect(everything).not.toContain('11112222');
      expect(everything).not.toContain('v1:');
      expect(await repo.getReplicationPolicy(md.id)).toEqual({
        protectionGroupId: md.id,
        primaryArrayUrl: 'https://fa-boston-01.example.com',
        secondaryArrayUrl: 'https://fa-seattle-01.example.com',
        hasPrimaryToken: true,
        hasSecondaryToken: true,
        purePgName: 'pg-prod-web-app',
        replicationIntervalSeconds: 300,
        rpoMinutes: 15,
        status: 'active',
        createdAt: expect.any(Date),
        updatedAt: expect.any(Date),
      });
    });

    it("moves the groups' mark with every group created, changed (its policy too) or deleted", async () => {
      // A sweep compares each mark with the one it listed at.
      let previous = await repo.protectionGroupsMark();
      const mark = async () => {
        const now = await repo.protectionGroupsMark();
        expect(now).not.toBe(previous);
        previous = now;
      };
      const a = newPg({ name: 'mark-a' });
      await repo.applyProtectionGroupMetadata(a, 0);
      await mark();
      const { primaryArrayToken: _p, secondaryArrayToken: _s, ...withoutTokens } = policy;
      await repo.setReplicationPolicy(a.id, { ...withoutTokens, rpoMinutes: 9 }, 1);
      await mark();
      await repo.deleteProtectionGroup(a.id, 2);
      await mark();
      // Deleted and another created at the same version: same count, same versions; still a new mark.
      const b = newPg({ name: 'mark-b' });
      await repo.applyProtectionGroupMetadata(b, 0);
      const c = newPg({ name: 'mark-c' });
      await repo.applyProtectionGroupMetadata(c, 0);
      await mark();
      await new Promise((r) => setTimeout(r, 5));
      await repo.deleteProtectionGroup(b.id, 1);
      await repo.applyProtectionGroupMetadata(newPg({ name: 'mark-d' }), 0);
      await mark();
    });

    it('decrypt explicitly, keep tokens on partial updates, and clear on null', async () => {
      const md = newPg({ replicationPolicy: policy });
      await repo.applyProtectionGroupMetadata(md, 0);
      expect(await repo.decryptTokens(md.id)).toEqual({
        primaryArrayToken: PRIMARY_TOKEN,
        secondaryArrayToken: SECONDARY_TOKEN,
      });
      const { primaryArrayToken: _p, secondaryArrayToken: _s, ...withoutTokens } = policy;
      await repo.setReplicationPolicy(md.id, { ...withoutTokens, rpoMinutes: 5 }, 1);
      expect((await repo.decryptTokens(md.id)).primaryArrayToken).toBe(PRIMARY_TOKEN);
      expect(await repo.getReplicationPolicy(md.id)).toMatchObject({ rpoMinutes: 5, hasPrimaryToken: true });
      await repo.setReplicationPolicy(md.id, { ...withoutTokens, secondaryArrayToken: null }, 2);
      expect(await repo.decryptTokens(md.id)).toEqual({
        primaryArrayToken: PRIMARY_TOKEN,
        secondaryArrayToken: null,
      });
      expect(await repo.getReplicationPolicy(md.id)).toMatchObject({ hasSecondaryToken: false });
    });

    it('fail clearly with the wrong key', async () => {
      const md = newPg({ replicationPolicy: policy });
      await repo.applyProtectionGroupMetadata(md, 0);
      const wrong = createSiteRepository(ds, { secretKey: generateSecretKey() });
      await expect(wrong.decryptTokens(md.id)).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining(
          `was encrypted with key ${key.keyId}, but the configured key is ${wrong.keyId}`,
        ),
      });
      // reads that do not need the tokens still work with the wrong key
      await expect(wrong.getReplicationPolicy(md.id)).resolves.toMatchObject({ hasPrimaryToken: true });
    });

    it('validates policy fields', async () => {
      await expect(
        repo.applyProtectionGroupMetadata(newPg({ replicationPolicy: { ...policy, rpoMinutes: 0 } }), 0),
      ).rejects.toThrow(
        /replicationPolicy.rpoMinutes must be a whole number of minutes from 1 to 10080, got 0/,
      );
      await expect(
        repo.applyProtectionGroupMetadata(
          newPg({ replicationPolicy: { ...policy, primaryArrayUrl: 'fa-a' } }),
          0,
        ),
      ).rejects.toThrow(/replicationPolicy.primaryArrayUrl 'fa-a' is not a URL/);
      // The array URL policy: management over TLS only.
      await expect(
        repo.applyProtectionGroupMetadata(
          newPg({ replicationPolicy: { ...policy, secondaryArrayUrl: 'http://fa-b.example.com' } }),
          0,
        ),
      ).rejects.toThrow(
        /replicationPolicy.secondaryArrayUrl 'http:\/\/fa-b.example.com' is refused: HTTPS required/,
      );
    });
  });

  describe('listProtectionGroups', () => {
    beforeEach(async () => {
      const names = ['app-03', 'app-01', 'app-05', 'app-02', 'app-04'];
      for (const [i, name] of names.entries()) {
        await repo.applyProtectionGroupMetadata(
          newPg({ name, projectId: i % 2 === 0 ? PROJECT : 'other', status: i === 4 ? 'error' : 'active' }),
          0,
        );
      }
    });

    it('pages through every PG in name order with opaque cursors', async () => {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const page = await repo.listProtectionGroups({}, { first: 2, after });
        expect(page.totalCount).toBe(5);
        seen.push(...page.nodes.map((pg) => pg.name));
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
        pages += 1;
      } while (after);
      expect(seen).toEqual(['app-01', 'app-02', 'app-03', 'app-04', 'app-05']);
      expect(pages).toBe(3);
    });

    it('breaks name ties by id, so no PG is skipped or repeated', async () => {
      await repo.applyProtectionGroupMetadata(newPg({ name: 'app-01', projectId: 'third' }), 0);
      const first = await repo.listProtectionGroups({}, { first: 1 });
      const second = await repo.listProtectionGroups({}, { first: 1, after: first.pageInfo.endCursor });
      expect(first.nodes[0]?.name).toBe('app-01');
      expect(second.nodes[0]?.name).toBe('app-01');
      expect(second.nodes[0]?.id).not.toBe(first.nodes[0]?.id);
    });

    it('filters by project, status and name', async () => {
      const byProject = await repo.listProtectionGroups({ projectId: PROJECT });
      expect(byProject.nodes.map((pg) => pg.name)).toEqual(['app-03', 'app-04', 'app-05']);
      const byStatus = await repo.listProtectionGroups({ status: ['error'] });
      expect(byStatus.nodes.map((pg) => pg.name)).toEqual(['app-04']);
      const byName = await repo.listProtectionGroups({ name: 'app-02' });
      expect(byName).toMatchObject({ totalCount: 1, pageInfo: { hasNextPage: false } });
      const none = await repo.listProtectionGroups({ projectId: [] });
      expect(none.nodes).toEqual([]);
    });

    it('rejects a forged cursor and an oversized page', async () => {
      await expect(repo.listProtectionGroups({}, { after: 'bm9wZQ' })).rejects.toThrow(
        /after 'bm9wZQ' is not a cursor of this list/,
      );
      await expect(repo.listProtectionGroups({}, { first: 10_000 })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
    });
  });

  describe('reads of many groups at once', () => {
    it('reads groups, members, policies and mappings in the same number of queries for 2 groups as for 40', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const md = newPg({
          name: `app-${String(i).padStart(2, '0')}`,
          members: [webMember(), { ...webMember(), name: 'web-2' }],
          replicationPolicy: policy,
        });
        await repo.applyProtectionGroupMetadata(md, 0);
        await repo.replaceResourceMappings(md.id, [
          {
            kind: 'network',
            sourceSite: 'boston',
            sourceId: `net-${i}`,
            targetSite: 'seattle',
            targetId: 'n',
          },
        ]);
        ids.push(md.id);
      }
      const { counted, queries: log } = await countingDataSource(dbPath);
      let queries = 0;
      try {
        const reader = createSiteRepository(counted, { secretKey: key });
        const read = async (some: string[]) => {
          log.length = 0;
          const [pgs, members, policies, mappings] = await Promise.all([
            reader.getProtectionGroups(some),
            reader.listMembersOf(some),
            reader.getReplicationPolicies(some),
            reader.listResourceMappingsOf(some),
          ]);
          queries = log.length;
          return { queries, pgs, members, policies, mappings };
        };
        const few = await read(ids.slice(0, 2));
        const all = await read(ids);
        expect(few.queries).toBeGreaterThan(0);
        expect(all.queries).toBe(few.queries);
        expect(all.pgs.size).toBe(40);
        expect([...all.members.values()].every((m) => m.map((x) => x.name).join() === 'web-1,web-2')).toBe(
          true,
        );
        expect(all.members.get(ids[7]!)![0]!.volumes).toHaveLength(2);
        expect(all.policies.get(ids[3]!)).toMatchObject({ purePgName: 'pg-prod-web-app' });
        expect(all.policies.get(ids[3]!)).not.toHaveProperty('primaryArrayToken');
        expect(all.mappings.get(ids[9]!)!.map((m) => m.sourceId)).toEqual(['net-9']);
        // The one-group reads are the same reads.
        expect(await reader.listMembers(ids[5]!)).toEqual(all.members.get(ids[5]!));
        expect(await reader.getReplicationPolicy(ids[5]!)).toEqual(all.policies.get(ids[5]!));
        expect(await reader.listResourceMappings(ids[5]!)).toEqual(all.mappings.get(ids[5]!));
      } finally {
        await counted.destroy();
      }
    });
  });

  describe('sites, mappings and site-local bookkeeping', () => {
    it('keeps one local and one peer site', async () => {
      await repo.upsertSite({ name: 'boston', role: 'local', authUrl: 'https://ks.boston.example.com/v3' });
      await repo.upsertSite({ name: 'seattle', role: 'peer', authUrl: 'https://ks.seattle.example.com/v3' });
      await expect(
        repo.upsertSite({ name: 'denver', role: 'peer', authUrl: 'https://ks.denver.example.com/v3' }),
      ).rejects.toThrow("A peer site is already registered ('seattle')");
      await repo.setSiteStatus('seattle', 'unreachable');
      expect(await repo.listSites()).toMatchObject([
        { name: 'boston', role: 'local', status: 'active' },
        { name: 'seattle', role: 'peer', status: 'unreachable' },
      ]);
      expect((await repo.getLocalSite())?.name).toBe('boston');
    });

    it('resolves resource mappings forward and in reverse, PG mappings before global ones', async () => {
      const md = newPg();
      await repo.applyProtectionGroupMetadata(md, 0);
      await repo.replaceResourceMappings(null, [
        {
          kind: 'network',
          sourceSite: 'boston',
          sourceId: 'net-a',
          targetSite: 'seattle',
          targetId: 'net-global',
        },
        {
          kind: 'flavor',
          sourceSite: 'boston',
          sourceId: 'm1.small',
          targetSite: 'seattle',
          targetId: 'm1.small-b',
        },
      ]);
      await repo.replaceResourceMappings(md.id, [
        {
          kind: 'network',
          sourceSite: 'boston',
          sourceId: 'net-a',
          targetSite: 'seattle',
          targetId: 'net-pg',
        },
      ]);
      const q = { kind: 'network', sourceSite: 'boston', sourceId: 'net-a', targetSite: 'seattle' } as const;
      expect(await repo.resolveResourceMapping({ ...q, protectionGroupId: md.id })).toBe('net-pg');
      expect(await repo.resolveResourceMapping(q)).toBe('net-global');
      expect(
        await repo.resolveResourceMapping({
          ...q,
          kind: 'flavor',
          sourceId: 'm1.small',
          protectionGroupId: md.id,
        }),
      ).toBe('m1.small-b');
      expect(
        await repo.reverseResourceMapping({
          protectionGroupId: md.id,
          kind: 'network',
          targetSite: 'seattle',
          targetId: 'net-pg',
          sourceSite: 'boston',
        }),
      ).toBe('net-a');
      expect(await repo.resolveResourceMapping({ ...q, sourceId: 'net-z' })).toBeNull();
      await repo.replaceResourceMappings(md.id, []);
      expect(await repo.resolveResourceMapping({ ...q, protectionGroupId: md.id })).toBe('net-global');
      await expect(repo.replaceResourceMappings(randomUUID(), [])).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });

    it('maps tenants both ways and refuses a peer project mapped twice', async () => {
      const m = { localSite: 'boston', localProjectId: 'p-a', peerSite: 'seattle', peerProjectId: 'p-b' };
      await repo.putTenantMapping(m);
      expect((await repo.peerProjectFor('p-a'))?.peerProjectId).toBe('p-b');
      expect((await repo.localProjectFor('p-b'))?.localProjectId).toBe('p-a');
      await expect(repo.putTenantMapping({ ...m, localProjectId: 'p-c' })).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
      await repo.putTenantMapping({ ...m, peerProjectId: 'p-d' });
      expect(await repo.listTenantMappings()).toMatchObject([
        { localProjectId: 'p-a', peerProjectId: 'p-d' },
      ]);
    });

    it('records sync and replication bookkeeping without bumping the version', async () => {
      const empty = await repo.protectionGroupsMark();
      const md = newPg({ members: [webMember()] });
      await repo.applyProtectionGroupMetadata(md, 0);
      const created = await repo.protectionGroupsMark();
      expect(created).not.toBe(empty);
      const at = new Date('2025-01-02T03:04:05.678Z');
      // One transaction for many; a group deleted meanwhile is skipped, not an error.
      expect(
        await repo.recordReplications([
          { id: md.id, at },
          { id: randomUUID(), at },
        ]),
      ).toBe(1);
      // A point landing changes no metadata: the sweeps' mark stays, so they do not list every group again.
      expect(await repo.protectionGroupsMark()).toBe(created);
      await repo.recordSyncStatus(md.id, { syncStatus: 'OUT_OF_SYNC', error: 'peer unreachable' });
      const [member] = await repo.listMembers(md.id);
      await repo.updateMemberState(member!.id, { status: 'failed_over', errorReason: null });
      expect(await repo.getProtectionGroup(md.id)).toMatchObject({
        metadataVersion: 1,
        lastReplicationAt: at,
        syncStatus: 'OUT_OF_SYNC',
        lastSyncError: 'peer unreachable',
      });
      expect((await repo.listMembers(md.id))[0]?.status).toBe('failed_over');
      expect(await repo.recordReplications([])).toBe(0);
    });
  });
});
