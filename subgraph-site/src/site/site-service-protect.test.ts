/**
 * The step chain, protecting (boston primary, seattle secondary), as the coordinator drives it over
 * HTTP on two real `protector-site` processes: metadata, tenant mapping, consistency and array groups,
 * members, replication. `site-service-recover.test.ts` carries on from here.
 */
import { randomUUID } from 'node:crypto';
import type { Json } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import {
  bootTenantServer,
  callStep,
  groupMetadata,
  RECEIPT,
  REPLICA_FIELDS,
  readSite,
  stepOk,
} from '../../test-support/site-pair.js';
import {
  addPrimaryMember,
  addSecondaryMember,
  applyGroup,
  ensureArrayGroup,
  ensureConsistencyGroup,
  lab,
  mapTenant,
  type Point,
  type Replica,
  replicateNow,
  useLab,
} from './site-service.fixture.js';

useLab();

describe('the step chain, protecting: boston primary, seattle secondary', () => {
  const md = groupMetadata();
  let web: { serverId: string; volumeId: string; networkId: string };
  let replicaBoston: Replica;
  let point: Point;

  it('applies metadata on both sites (compare-and-set from version 0)', async () => {
    md.projectId = lab.boston.tokens.tenantProjectId;
    for (const site of [lab.boston, lab.seattle]) {
      const r = await applyGroup(site, md);
      expect(r.replica).toMatchObject({
        id: md.id,
        name: 'prod-web-app',
        metadataVersion: 1,
        role: site.name === 'boston' ? 'PRIMARY' : 'SECONDARY',
      });
    }
  });

  it('refuses a write with the wrong expected version (VERSION_CONFLICT) and changes nothing', async () => {
    const r = await callStep(
      lab.boston,
      'applyProtectionGroupMetadata',
      { operationId: 'create-1', stepKey: 'apply-stale' },
      { expectedVersion: 5, metadata: { ...md, description: 'changed', metadataVersion: 6 } },
      RECEIPT,
    );
    expect(r.errors[0]?.extensions?.code).toBe('VERSION_CONFLICT');
    expect(r.errors[0]?.message).toMatch(/version 1, expected 5/);
    const now = await readSite<{ protectionGroupReplica: { metadataVersion: number; description: string } }>(
      lab.boston,
      'protectionGroupReplica(id: $id) { metadataVersion description }',
      lab.boston.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    expect(now.protectionGroupReplica).toEqual({ metadataVersion: 1, description: 'web tier' });
  });

  it("maps the tenant's project on seattle", async () => {
    for (const site of [lab.boston, lab.seattle]) {
      const r = await mapTenant(site);
      expect(r.tenantMappings).toHaveLength(1);
    }
  });

  it('creates the Cinder consistency group on each site, in the tenant project, once', async () => {
    for (const site of [lab.boston, lab.seattle]) {
      const input = { protectionGroupId: md.id, volumeType: 'replicated-ssd' };
      const first = await ensureConsistencyGroup(site, md);
      expect(first.step.replayed).toBe(false);
      const again = await ensureConsistencyGroup(site, md);
      expect(again).toMatchObject({ consistencyGroupId: first.consistencyGroupId, step: { replayed: true } });
      // A new key (a later operation) finds the group instead of making another.
      const other = await stepOk<{ consistencyGroupId: string }>(
        site,
        'ensureConsistencyGroup',
        { operationId: 'sync-1', stepKey: `cg-${site.name}` },
        input,
        'consistencyGroupId',
      );
      expect(other.consistencyGroupId).toBe(first.consistencyGroupId);
      const groups = (await site.tenantCloud.listGroups()).filter((g) => g.name === 'pg-prod-web-app');
      expect(groups.map((g) => g.id)).toEqual([first.consistencyGroupId]);
    }
  });

  it('refuses an illegal array group name with INVALID_NAME and creates nothing', async () => {
    const r = await callStep(
      lab.boston,
      'ensureStorageGroup',
      { operationId: 'create-1', stepKey: 'sg-bad' },
      { protectionGroupId: md.id, name: 'bad_name', replicationType: 'ASYNC', source: true },
      'name',
    );
    expect(r.errors[0]?.extensions?.code).toBe('INVALID_NAME');
    expect(r.errors[0]?.message).toContain("'bad_name'");
    const ref = {
      name: 'bad_name',
      mode: 'async',
      sourceArray: 'mock-array-a',
      targetArray: 'mock-array-b',
    } as const;
    await expect(lab.storage.getReplicationGroup({ ...ref, name: 'bad-name' })).resolves.toBeNull();
  });

  it('creates the array protection group with boston as the source', async () => {
    const b = await ensureArrayGroup(lab.boston, md, true);
    expect(b).toEqual({ name: 'pg-prod-web-app', kind: 'PROTECTION_GROUP', source: true });
    const s = await ensureArrayGroup(lab.seattle, md, false);
    expect(s.source).toBe(false);
    const group = await lab.storage.getReplicationGroup({
      name: 'pg-prod-web-app',
      mode: 'async',
      sourceArray: 'mock-array-a',
      targetArray: 'mock-array-b',
    });
    expect(group).toMatchObject({ sourceArray: 'mock-array-a', targetArray: 'mock-array-b', volumes: [] });
  });

  it('adds a member on the primary: volumes join the consistency and array groups', async () => {
    web = await bootTenantServer(lab.boston, 'web-1', 'replicated-ssd');
    const memberId = randomUUID();
    const r = await addPrimaryMember(md, web, memberId);
    replicaBoston = r.replica;
    expect(r.replica.metadataVersion).toBe(2);
    expect(r.replica.members).toHaveLength(1);
    const m = r.replica.members[0]!;
    expect(m).toMatchObject({ id: memberId, name: 'web-1', status: 'PROTECTED' });
    expect(m.volumes).toHaveLength(1);
    expect(m.volumes[0]).toMatchObject({ volumeType: 'replicated-ssd', bootIndex: 0 });
    expect(m.volumes[0]!.storageVolumeName).toBe(`volume-${web.volumeId}-cinder`);
    expect(m.placements).toEqual([
      {
        site: { name: 'boston' },
        serverId: web.serverId,
        volumes: [{ memberVolumeId: m.volumes[0]!.id, volumeId: web.volumeId }],
      },
    ]);
    const cg = await lab.boston.tenantCloud.getGroup(replicaBoston.consistencyGroupId!);
    expect(cg.volumes).toEqual([web.volumeId]);
    const group = await lab.storage.getReplicationGroup({
      name: 'pg-prod-web-app',
      mode: 'async',
      sourceArray: 'mock-array-a',
      targetArray: 'mock-array-b',
    });
    expect(group?.volumes).toEqual([`volume-${web.volumeId}-cinder`]);
  });

  it("refuses a VM whose volume type is not replicated, with the seed's message, and changes nothing", async () => {
    const plain = await bootTenantServer(lab.boston, 'plain-1', 'standard-ssd');
    const r = await callStep(
      lab.boston,
      'addMembers',
      { operationId: 'add-plain-1', stepKey: 'boston' },
      {
        protectionGroupId: md.id,
        expectedVersion: 2,
        members: [
          {
            id: randomUUID(),
            name: 'plain-1',
            status: 'PROTECTING',
            volumes: [],
            placements: [{ site: 'boston', serverId: plain.serverId, networkIds: [], volumes: [] }],
          },
        ],
      },
      RECEIPT,
    );
    expect(r.errors[0]?.extensions?.code).toBe('VOLUME_TYPE_NOT_REPLICATED');
    expect(r.errors[0]?.message).toMatch(/^Volume type 'standard-ssd' does not support replication\./);
    const sync = await bootTenantServer(lab.boston, 'sync-1', 'replicated-sync');
    const s = await callStep(
      lab.boston,
      'addMembers',
      { operationId: 'add-sync-1', stepKey: 'boston' },
      {
        protectionGroupId: md.id,
        expectedVersion: 2,
        members: [
          {
            id: randomUUID(),
            name: 'sync-1',
            status: 'PROTECTING',
            volumes: [],
            placements: [{ site: 'boston', serverId: sync.serverId, networkIds: [], volumes: [] }],
          },
        ],
      },
      RECEIPT,
    );
    expect(s.errors[0]?.extensions?.code).toBe('VOLUME_TYPE_NOT_REPLICATED');
    expect(s.errors[0]?.message).toMatch(/^Volume type 'replicated-sync' does not support replication\./);
    expect(s.errors[0]?.message).toMatch(/replicates async/);
    const now = await readSite<{ protectionGroupReplica: Replica }>(
      lab.boston,
      `protectionGroupReplica(id: $id) { ${REPLICA_FIELDS} }`,
      lab.boston.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    expect(now.protectionGroupReplica.metadataVersion).toBe(2);
    expect(now.protectionGroupReplica.members.map((m) => m.name)).toEqual(['web-1']);
    const cg = await lab.boston.tenantCloud.getGroup(replicaBoston.consistencyGroupId!);
    expect(cg.volumes).toEqual([web.volumeId]);
  });

  it('reads members, policy and mappings of a replica only for the selections that ask, in one request', async () => {
    // The head alone (the coordinator's visibility check) and full reads, batched apart: a head read
    // never answers a selection of members, nor the other way round.
    const both = await readSite<{
      head: { id: string; name: string; metadataVersion: number };
      full: { members: { name: string }[] };
      parts: { policy: unknown; resourceMappings: unknown[] };
    }>(
      lab.boston,
      `head: protectionGroupReplica(id: $id) { id name metadataVersion }
       full: protectionGroupReplica(id: $id) { members { name } }
       parts: protectionGroupReplica(id: $id) { policy { purePgName } resourceMappings { sourceId } }`,
      lab.boston.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    expect(both.head).toEqual({ id: md.id, name: 'prod-web-app', metadataVersion: 2 });
    expect(both.full.members.map((m) => m.name)).toEqual(['web-1']);
    expect(both.parts).toEqual({ policy: null, resourceMappings: [] });
  });

  it('replicates now and waits; a repeated key replays without a second snapshot', async () => {
    const volume = replicaBoston.members[0]!.volumes[0]!.storageVolumeName!;
    lab.storage.simulator.simulateWrite('mock-array-a', volume);
    const r = await replicateNow(md);
    expect(r.step.replayed).toBe(false);
    expect(r.recoveryPoint).toMatchObject({ complete: true, progress: 1 });
    expect(r.recoveryPoint.name).toMatch(/^mock-array-a:pg-prod-web-app\./);
    point = r.recoveryPoint;
    // Data written after the point must not be in it.
    lab.storage.simulator.simulateWrite('mock-array-a', volume);
    const again = await replicateNow(md);
    expect(again.step.replayed).toBe(true);
    expect(again.recoveryPoint.name).toBe(point.name);
    const points = await readSite<{ recoveryPoints: Point[] }>(
      lab.seattle,
      'recoveryPoints(protectionGroupId: $id) { name complete completedAt }',
      lab.seattle.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    expect(points.recoveryPoints).toEqual([
      { name: point.name, complete: true, completedAt: expect.any(String) },
    ]);
    // The target's storage state reports it once its replication monitor (every 1 s here) saw it land;
    // the source reports no point of its own (recovery points land on the target).
    const groupState = async (site: typeof lab.boston) => {
      const r = await readSite<{ storage: { replicationGroups: Json[] } }>(
        site,
        'storage { replicationGroups { name kind protectionGroup { id } lastRecoveryPoint { name } lagSeconds } }',
        site.tokens.admin,
      );
      return r.storage.replicationGroups.find((g) => (g['protectionGroup'] as Json)?.['id'] === md.id);
    };
    let seen = await groupState(lab.seattle);
    for (let i = 0; i < 50 && (seen?.['lastRecoveryPoint'] as Json | null)?.['name'] !== point.name; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await groupState(lab.seattle);
    }
    expect(seen).toMatchObject({
      name: 'pg-prod-web-app',
      kind: 'PROTECTION_GROUP',
      lastRecoveryPoint: { name: point.name },
      lagSeconds: expect.any(Number),
    });
    expect(await groupState(lab.boston)).toMatchObject({
      name: 'pg-prod-web-app',
      lastRecoveryPoint: null,
      lagSeconds: null,
    });
  });

  it('refuses replicateNow on the target site with INVALID_STATE', async () => {
    const r = await callStep(
      lab.seattle,
      'replicateNow',
      { operationId: 'sync-2', stepKey: 'replicate-seattle' },
      { protectionGroupId: md.id, wait: true },
      'recoveryPoint { name }',
    );
    expect(r.errors[0]?.extensions?.code).toBe('INVALID_STATE');
  });

  it('records the member on the secondary as given', async () => {
    const m = replicaBoston.members[0]!;
    const r = await addSecondaryMember(md, m, web.networkId);
    expect(r.replica.metadataVersion).toBe(2);
    expect(r.replica.members).toEqual(replicaBoston.members);
  });

  it('keeps members and mappings on a write that leaves them out (a status change writes the head only)', async () => {
    const mapping = {
      kind: 'NETWORK',
      sourceSite: 'boston',
      sourceId: 'net-boston',
      targetSite: 'seattle',
      targetId: 'net-seattle',
    };
    const withMapping = await stepOk<{ replica: Replica }>(
      lab.seattle,
      'applyProtectionGroupMetadata',
      { operationId: 'head-1', stepKey: 'mapping' },
      {
        expectedVersion: 2,
        metadata: { ...md, members: undefined, resourceMappings: [mapping], metadataVersion: 3 },
      },
      `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
    );
    expect(withMapping.replica.members).toEqual(replicaBoston.members);
    const r = await stepOk<{ replica: Replica }>(
      lab.seattle,
      'applyProtectionGroupMetadata',
      { operationId: 'head-1', stepKey: 'status' },
      {
        expectedVersion: 3,
        metadata: { ...md, status: 'ERROR', members: null, resourceMappings: null, metadataVersion: 4 },
      },
      `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
    );
    expect(r.replica).toMatchObject({ status: 'ERROR', metadataVersion: 4 });
    expect(r.replica.members).toEqual(replicaBoston.members);
    expect(r.replica.resourceMappings).toEqual([
      { ...mapping, sourceSite: { name: 'boston' }, targetSite: { name: 'seattle' } },
    ]);
    // The whole list, when given, replaces them.
    const cleared = await stepOk<{ replica: Replica }>(
      lab.seattle,
      'applyProtectionGroupMetadata',
      { operationId: 'head-1', stepKey: 'replace' },
      {
        expectedVersion: 4,
        metadata: { ...md, status: 'ERROR', members: [], resourceMappings: [], metadataVersion: 5 },
      },
      `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
    );
    expect(cleared.replica).toMatchObject({ members: [], resourceMappings: [] });
  });
});
