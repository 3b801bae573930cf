/**
 * The step chain, recovering (boston primary, seattle secondary), on two real `protector-site`
 * processes: it starts from the group `site-service-protect.test.ts` builds (replayed by
 * `protectWebApp`), then drills, fails over to seattle, fences boston, reverses replication, deletes.
 */
import type { Json } from '@protector/schema';
import { gql } from '@protector/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { callStep, RECEIPT, REPLICA_FIELDS, readSite, stepOk } from '../../test-support/site-pair.js';
import {
  type GroupMetadata,
  lab,
  op,
  type Point,
  protectWebApp,
  type Replica,
  type TenantServer,
  useLab,
} from './site-service.fixture.js';

useLab();

describe('the step chain, recovering: boston primary, seattle secondary', () => {
  let md: GroupMetadata;
  let web: TenantServer;
  let replicaBoston: Replica;
  let written: { origin: string; version: number };
  let point: Point;
  let seattleNetworkId: string;

  beforeAll(async () => {
    ({ md, web, replicaBoston, written, point } = await protectWebApp());
  }, 60_000);

  it('lists only what the seattle cloud has: the tenant network there', async () => {
    const net = (await lab.seattle.tenantCloud.listNetworks({ name: 'private' }))[0];
    expect(net).toBeDefined();
    seattleNetworkId = net!.id;
    expect(seattleNetworkId).not.toBe(web.networkId);
  });

  it('refuses a recovery point that does not exist with NOT_FOUND naming how to list them', async () => {
    const r = await callStep(
      lab.seattle,
      'materializeRecoveryPoint',
      { operationId: op(), stepKey: 'materialize' },
      { protectionGroupId: md.id, recoveryPoint: 'mock-array-a:pg-prod-web-app.nope', resourceMappings: [] },
      'members { status }',
    );
    expect(r.errors[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(r.errors[0]?.message).toMatch(/mock-array-a:pg-prod-web-app\.nope/);
    expect(r.errors[0]?.message).toMatch(/recoveryPoints/);
    expect(await lab.seattle.adminCloud.listServers({ allTenants: true })).toEqual([]);
  });

  let testNetworkId: string;
  it('test failover: isolated network, drill copies booted on it, then cleaned up', async () => {
    const net = await stepOk<{
      network: { id: string; name: string; testNetwork: boolean; subnets: { cidr: string }[] };
    }>(
      lab.seattle,
      'createTestNetwork',
      { operationId: 'drill-1', stepKey: 'network' },
      { protectionGroupId: md.id, name: 'drill-prod-web-app' },
      'network { id name testNetwork subnets { cidr } }',
    );
    expect(net.network).toMatchObject({
      name: 'drill-prod-web-app',
      testNetwork: true,
      subnets: [{ cidr: '192.168.250.0/24' }],
    });
    testNetworkId = net.network.id;
    const r = await stepOk<{
      recoveryPoint: Point;
      members: { status: string; serverId: string; volumes: { volumeId: string }[]; error: unknown }[];
    }>(
      lab.seattle,
      'materializeRecoveryPoint',
      { operationId: 'drill-1', stepKey: 'materialize' },
      { protectionGroupId: md.id, resourceMappings: [], test: true, testNetworkId },
      'recoveryPoint { name } members { status serverId volumes { volumeId } error { code message } }',
    );
    expect(r.recoveryPoint.name).toBe(point.name);
    expect(r.members).toHaveLength(1);
    expect(r.members[0]).toMatchObject({ status: 'SUCCEEDED', error: null });
    const server = await lab.seattle.adminCloud.getServer(r.members[0]!.serverId);
    expect(server.status).toBe('ACTIVE');
    expect(Object.keys(server.addresses ?? {})).toEqual(['drill-prod-web-app']);
    // The drill does not touch the group's metadata.
    const replica = await readSite<{ protectionGroupReplica: Replica }>(
      lab.seattle,
      `protectionGroupReplica(id: $id) { ${REPLICA_FIELDS} }`,
      lab.seattle.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    expect(replica.protectionGroupReplica.metadataVersion).toBe(2);

    const cleanup = await stepOk<{
      deletedServerIds: string[];
      deletedVolumeIds: string[];
      deletedNetworkIds: string[];
      destroyedStorageVolumes: string[];
      errors: unknown[];
    }>(
      lab.seattle,
      'cleanupTestFailover',
      { operationId: 'drill-cleanup-1', stepKey: 'cleanup' },
      { protectionGroupId: md.id, testOperationId: 'drill-1' },
      'deletedServerIds deletedVolumeIds deletedNetworkIds destroyedStorageVolumes errors { code message }',
    );
    expect(cleanup.errors).toEqual([]);
    expect(cleanup.deletedServerIds).toEqual([r.members[0]!.serverId]);
    expect(cleanup.deletedVolumeIds).toEqual(r.members[0]!.volumes.map((v) => v.volumeId));
    expect(cleanup.deletedNetworkIds).toEqual([testNetworkId]);
    expect(await lab.seattle.adminCloud.listServers({ allTenants: true })).toEqual([]);
    const volumes = await lab.seattle.adminCloud.listVolumes({ allTenants: true });
    expect(volumes.filter((v) => r.members[0]!.volumes.some((x) => x.volumeId === v.id))).toEqual([]);
    expect(cleanup.destroyedStorageVolumes).toHaveLength(1);
    for (const name of cleanup.destroyedStorageVolumes) {
      const left = await lab.storage.getVolumes('mock-array-b', [name]).catch(() => []);
      expect(left.filter((v) => !v.destroyed)).toEqual([]);
    }
    expect((await lab.seattle.adminCloud.listNetworks()).map((n) => n.id)).not.toContain(testNetworkId);
  });

  it('deletes a test network idempotently', async () => {
    for (const stepKey of ['delete-network', 'delete-network-again']) {
      const r = await stepOk<{ step: { replayed: boolean } }>(
        lab.seattle,
        'deleteTestNetwork',
        { operationId: 'drill-cleanup-1', stepKey },
        { protectionGroupId: md.id, networkId: testNetworkId },
        RECEIPT,
      );
      expect(r.step.replayed).toBe(false);
    }
  });

  it('materializes the recovery point on seattle: copy, manage, boot with the mapped flavor and network', async () => {
    const mappings = [
      { kind: 'FLAVOR', sourceSite: 'boston', sourceId: '1', targetSite: 'seattle', targetId: '2' },
      {
        kind: 'NETWORK',
        sourceSite: 'boston',
        sourceId: web.networkId,
        targetSite: 'seattle',
        targetId: seattleNetworkId,
      },
    ];
    const r = await stepOk<{
      recoveryPoint: Point;
      members: {
        memberId: string;
        status: string;
        serverId: string;
        volumes: { memberVolumeId: string; volumeId: string }[];
        error: unknown;
      }[];
    }>(
      lab.seattle,
      'materializeRecoveryPoint',
      { operationId: 'failover-1', stepKey: 'materialize' },
      { protectionGroupId: md.id, recoveryPoint: point.name, resourceMappings: mappings },
      'recoveryPoint { name } members { memberId status serverId volumes { memberVolumeId volumeId } error { code message } }',
    );
    const m = replicaBoston.members[0]!;
    expect(r.members).toEqual([
      {
        memberId: m.id,
        status: 'SUCCEEDED',
        serverId: expect.any(String),
        volumes: [{ memberVolumeId: m.volumes[0]!.id, volumeId: expect.any(String) }],
        error: null,
      },
    ]);
    const result = r.members[0]!;
    const server = await lab.seattle.adminCloud.getServer(result.serverId);
    expect(server).toMatchObject({ status: 'ACTIVE', name: 'web-1' });
    expect(server.flavor?.original_name ?? server.flavor?.id).toMatch(/^(2|m1\.small)$/);
    const privateNet = (await lab.seattle.adminCloud.listNetworks({ name: 'private' }))[0]!;
    expect(Object.keys(server.addresses ?? {})).toEqual([privateNet.name]);
    const attachments = await lab.seattle.adminCloud.listVolumeAttachments(result.serverId);
    expect(attachments.map((a) => a.volumeId)).toEqual([result.volumes[0]!.volumeId]);
    const volume = await lab.seattle.adminCloud.getVolume(result.volumes[0]!.volumeId);
    expect(volume).toMatchObject({ volume_type: 'replicated-ssd', bootable: 'true', status: 'in-use' });
    // Cinder keeps the metadata given at manage (the product's tags) and adds nothing of its own.
    expect(Object.keys(volume.metadata ?? {}).sort()).toEqual([
      'protector_member',
      'protector_member_volume',
      'protector_operation',
      'protector_pg',
    ]);
    expect(volume['os-vol-host-attr:host']).toBe('cinder@pure#pure');
    // Cinder's Pure driver renamed the array copy it managed: volume-<id>-cinder, and no r- copy is left.
    const arrayName = `volume-${volume.id}-cinder`;
    const [copy] = await lab.storage.getVolumes('mock-array-b', [arrayName]);
    expect(copy).toBeTruthy();
    const listed = lab.storage.simulator.handle('mock-array-b', {
      method: 'GET',
      path: '/volumes',
      query: { destroyed: 'false' },
    }).body as { items: { name: string }[] };
    expect(listed.items.map((v) => v.name).filter((n) => n.startsWith('r-'))).toEqual([]);
    // What the copy holds is sim-only data, read from the simulator (no array reports it).
    expect(lab.storage.simulator.content('mock-array-b', [arrayName])[0]).toMatchObject(written);
    // The replica records where the member now lives on seattle.
    const replica = await readSite<{ protectionGroupReplica: Replica }>(
      lab.seattle,
      `protectionGroupReplica(id: $id) { ${REPLICA_FIELDS} }`,
      lab.seattle.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    const member = replica.protectionGroupReplica.members[0]!;
    expect(member.status).toBe('FAILED_OVER');
    expect(member.placements.find((p) => p.site.name === 'seattle')).toEqual({
      site: { name: 'seattle' },
      serverId: result.serverId,
      volumes: [{ memberVolumeId: m.volumes[0]!.id, volumeId: result.volumes[0]!.volumeId }],
    });
    // Replay: no second server.
    const again = await stepOk<{ step: { replayed: boolean }; members: { serverId: string }[] }>(
      lab.seattle,
      'materializeRecoveryPoint',
      { operationId: 'failover-1', stepKey: 'materialize' },
      { protectionGroupId: md.id, recoveryPoint: point.name, resourceMappings: mappings },
      `${RECEIPT} members { serverId }`,
    );
    expect(again.step.replayed).toBe(true);
    expect(again.members[0]?.serverId).toBe(result.serverId);
    expect((await lab.seattle.adminCloud.listServers({ allTenants: true })).map((s) => s.id)).toEqual([
      result.serverId,
    ]);
  });

  it('stops, starts and fences the group servers on boston', async () => {
    const sel = `${RECEIPT} servers { serverId name status serverStatus error { code message } }`;
    const input = { protectionGroupId: md.id, timeoutSeconds: 30 };
    const stop = await stepOk<{ servers: Json[] }>(
      lab.boston,
      'stopServers',
      { operationId: 'failover-1', stepKey: 'stop' },
      input,
      sel,
    );
    expect(stop.servers).toEqual([
      { serverId: web.serverId, name: 'web-1', status: 'SUCCEEDED', serverStatus: 'SHUTOFF', error: null },
    ]);
    expect((await lab.boston.tenantCloud.getServer(web.serverId)).status).toBe('SHUTOFF');
    const start = await stepOk<{ servers: Json[] }>(
      lab.boston,
      'startServers',
      { operationId: 'failover-1', stepKey: 'start' },
      input,
      sel,
    );
    expect(start.servers[0]).toMatchObject({ status: 'SUCCEEDED', serverStatus: 'ACTIVE' });
    expect((await lab.boston.tenantCloud.getServer(web.serverId)).status).toBe('ACTIVE');
    const fence = await stepOk<{ servers: Json[] }>(
      lab.boston,
      'fenceServers',
      { operationId: 'failover-1', stepKey: 'fence' },
      input,
      sel,
    );
    expect(fence.servers[0]).toMatchObject({ status: 'SUCCEEDED', serverStatus: 'SHUTOFF' });
    const fenced = await lab.boston.tenantCloud.getServer(web.serverId);
    expect(fenced.status).toBe('SHUTOFF');
  });

  it('reverses replication on seattle: its array becomes the source of the recovered volumes', async () => {
    const r = await stepOk<{ name: string; kind: string; source: boolean }>(
      lab.seattle,
      'reverseReplication',
      { operationId: 'failback-1', stepKey: 'reprotect' },
      { protectionGroupId: md.id },
      'name kind source',
    );
    expect(r).toEqual({ name: 'pg-prod-web-app', kind: 'PROTECTION_GROUP', source: true });
    const replica = await readSite<{ protectionGroupReplica: Replica }>(
      lab.seattle,
      `protectionGroupReplica(id: $id) { ${REPLICA_FIELDS} }`,
      lab.seattle.tokens.service,
      { id: md.id },
      '($id: ID!)',
    );
    const seattleVolumeId = replica.protectionGroupReplica.members[0]!.placements.find(
      (p) => p.site.name === 'seattle',
    )!.volumes[0]!.volumeId;
    const arrayName = `volume-${seattleVolumeId}-cinder`;
    const reversed = await lab.storage.getReplicationGroup({
      name: 'pg-prod-web-app',
      mode: 'async',
      sourceArray: 'mock-array-b',
      targetArray: 'mock-array-a',
    });
    expect(reversed?.volumes).toEqual([arrayName]);
    expect(replica.protectionGroupReplica.members[0]!.volumes[0]!.storageVolumeName).toBe(arrayName);
    // Replicating from seattle now works, and boston sees the point.
    const rp = await stepOk<{ recoveryPoint: Point }>(
      lab.seattle,
      'replicateNow',
      { operationId: 'failback-1', stepKey: 'replicate' },
      { protectionGroupId: md.id, wait: true, timeoutSeconds: 30 },
      'recoveryPoint { name complete }',
    );
    expect(rp.recoveryPoint).toMatchObject({ complete: true });
    expect(rp.recoveryPoint.name).toMatch(/^mock-array-b:pg-prod-web-app\./);
  });

  it('deletes the array groups, the consistency groups and the replicas', async () => {
    for (const site of [lab.seattle, lab.boston]) {
      await stepOk(
        site,
        'deleteStorageGroup',
        { operationId: 'delete-1', stepKey: `sg-${site.name}` },
        { protectionGroupId: md.id },
        RECEIPT,
      );
      await stepOk(
        site,
        'deleteConsistencyGroup',
        { operationId: 'delete-1', stepKey: `cg-${site.name}` },
        { protectionGroupId: md.id },
        RECEIPT,
      );
      expect((await site.tenantCloud.listGroups()).filter((g) => g.name === 'pg-prod-web-app')).toEqual([]);
      const v = await readSite<{ protectionGroupReplica: { metadataVersion: number } }>(
        site,
        'protectionGroupReplica(id: $id) { metadataVersion }',
        site.tokens.service,
        { id: md.id },
        '($id: ID!)',
      );
      await stepOk(
        site,
        'deleteProtectionGroupReplica',
        { operationId: 'delete-1', stepKey: `replica-${site.name}` },
        { protectionGroupId: md.id, expectedVersion: v.protectionGroupReplica.metadataVersion },
        RECEIPT,
      );
      const gone = await readSite<{ protectionGroupReplica: unknown }>(
        site,
        'protectionGroupReplica(id: $id) { id }',
        site.tokens.service,
        { id: md.id },
        '($id: ID!)',
      );
      expect(gone.protectionGroupReplica).toBeNull();
    }
    for (const [source, target] of [
      ['mock-array-a', 'mock-array-b'],
      ['mock-array-b', 'mock-array-a'],
    ] as const) {
      await expect(
        lab.storage.getReplicationGroup({
          name: 'pg-prod-web-app',
          mode: 'async',
          sourceArray: source,
          targetArray: target,
        }),
      ).resolves.toBeNull();
    }
  });

  it('shows the steps it ran in the audit, to admins only', async () => {
    const audit = await readSite<{
      stepExecutions: { stepKey: string; step: string; status: string; attempt: number }[];
    }>(
      lab.boston,
      'stepExecutions(filter: { operationId: "sync-2" }) { stepKey step status attempt }',
      lab.boston.tokens.admin,
    );
    expect(audit.stepExecutions).toEqual([
      { stepKey: 'replicate', step: 'replicateNow', status: 'SUCCEEDED', attempt: 1 },
    ]);
    const tenant = await gql(
      lab.boston.proc.url,
      lab.boston.tokens.tenant,
      '{ boston { stepExecutions { stepKey } } }',
    );
    expect(tenant.errors[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
