/**
 * Integration tests of the site service over HTTP: two real `protector-site` processes (boston and
 * seattle) on one shared mock array data dir, each with its simulated cloud. Drives every site step
 * as the coordinator would, plus identity checks, bad input and site events.
 */
import { randomUUID } from 'node:crypto';
import type { Json } from '@protector/schema';
import { createClient } from 'graphql-ws';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  bootTenantServer,
  callStep,
  groupMetadata,
  type Lab,
  RECEIPT,
  REPLICA_FIELDS,
  readSite,
  startLab,
  stepOk,
} from '../../test-support/lab.js';
import { gql, waitFor } from '../../test-support/site-process.js';

interface Replica {
  id: string;
  name: string;
  role: string;
  metadataVersion: number;
  consistencyGroupId: string | null;
  members: {
    id: string;
    name: string;
    status: string;
    volumes: { id: string; volumeType: string; storageVolumeName: string | null; bootIndex: number | null }[];
    placements: {
      site: { name: string };
      serverId: string | null;
      volumes: { memberVolumeId: string; volumeId: string }[];
    }[];
  }[];
}
interface Point {
  name: string;
  complete: boolean;
  createdAt: string;
  completedAt: string | null;
}

let lab: Lab;
const op = () => `op-${randomUUID()}`;

beforeAll(async () => {
  lab = await startLab();
}, 60_000);

afterAll(async () => {
  await lab?.stop();
});

describe('health endpoints', () => {
  it('serves /healthz, /readyz and /metrics without a token', async () => {
    const base = lab.boston.proc.baseUrl;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', site: 'boston' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { database: { ok: true }, cloud: { ok: true }, storage: { ok: true } },
    });
    await gql(lab.boston.proc.url, lab.boston.tokens.admin, 'query Probe { boston { name } }');
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/protector_graphql_requests_total\{operation="Probe"\} \d+/);
  });
});

describe('identity', () => {
  it('refuses a request without a token with UNAUTHENTICATED and HTTP 401', async () => {
    const r = await gql(lab.boston.proc.url, null, '{ boston { name } }');
    expect(r.status).toBe(401);
    expect(r.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(r.errors[0]?.message).toMatch(/X-Auth-Token/);
  });

  it('refuses a forged token with UNAUTHENTICATED', async () => {
    const r = await gql(lab.boston.proc.url, 'not-a-token', '{ boston { name } }');
    expect(r.status).toBe(401);
    expect(r.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("refuses seattle's token on boston", async () => {
    const r = await gql(lab.boston.proc.url, lab.seattle.tokens.service, '{ boston { name } }');
    expect(r.status).toBe(401);
    expect(r.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a step to a tenant token with FORBIDDEN and does not act', async () => {
    const md = groupMetadata({ projectId: lab.boston.tokens.tenantProjectId, name: 'tenant-try' });
    const r = await callStep(
      lab.boston,
      'applyProtectionGroupMetadata',
      { operationId: op(), stepKey: 'apply' },
      { expectedVersion: 0, metadata: md },
      `${RECEIPT}`,
      lab.boston.tokens.tenant,
    );
    expect(r.errors[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(r.errors[0]?.message).toMatch(/service role/);
    const after = await readSite<{ protectionGroupReplica: unknown }>(
      lab.boston,
      'protectionGroupReplica(id: $id) { id }',
      lab.boston.tokens.admin,
      { id: md.id },
      '($id: ID!)',
    );
    expect(after.protectionGroupReplica).toBeNull();
  });

  it('shows storage to admins only: a tenant gets FORBIDDEN on that field and the rest of the data', async () => {
    const tenant = await gql<{ boston: { name: string; storage: unknown } }>(
      lab.boston.proc.url,
      lab.boston.tokens.tenant,
      '{ boston { name storage { driver } } }',
    );
    expect(tenant.data?.boston.name).toBe('boston');
    expect(tenant.data?.boston.storage).toBeNull();
    expect(tenant.errors).toHaveLength(1);
    expect(tenant.errors[0]).toMatchObject({
      path: ['boston', 'storage'],
      extensions: { code: 'FORBIDDEN' },
    });
    const admin = await readSite<{ storage: Json }>(
      lab.boston,
      'storage { driver arrays { name role reachable } replicationLink { state localArray remoteArray } }',
      lab.boston.tokens.admin,
    );
    expect(admin.storage).toMatchObject({
      driver: 'MOCK',
      arrays: [
        { name: 'mock-array-a', role: 'LOCAL', reachable: true },
        { name: 'mock-array-b', role: 'PEER', reachable: true },
      ],
      replicationLink: { state: 'CONNECTED', localArray: 'mock-array-a', remoteArray: 'mock-array-b' },
    });
  });

  it("lets a tenant see only its project's Protection Groups", async () => {
    const mine = groupMetadata({ name: 'tenant-visible', projectId: lab.boston.tokens.tenantProjectId });
    const other = groupMetadata({ name: 'tenant-hidden', projectId: lab.boston.tokens.adminProjectId });
    for (const md of [mine, other]) {
      await stepOk(
        lab.boston,
        'applyProtectionGroupMetadata',
        { operationId: op(), stepKey: 'apply' },
        { expectedVersion: 0, metadata: { ...md, storageGroupName: null } },
        RECEIPT,
      );
    }
    const list = `protectionGroupReplicas(filter: { name: $name }) { totalCount nodes { id name projectId } }`;
    const asTenant = async (name: string) =>
      readSite<{ protectionGroupReplicas: { totalCount: number; nodes: { id: string }[] } }>(
        lab.boston,
        list,
        lab.boston.tokens.tenant,
        { name },
        '($name: String)',
      );
    expect((await asTenant('tenant-visible')).protectionGroupReplicas.nodes.map((n) => n.id)).toEqual([
      mine.id,
    ]);
    expect((await asTenant('tenant-hidden')).protectionGroupReplicas).toEqual({ totalCount: 0, nodes: [] });
    const all = await readSite<{ protectionGroupReplicas: { nodes: { id: string; projectId: string }[] } }>(
      lab.boston,
      'protectionGroupReplicas(first: 100) { nodes { id projectId } }',
      lab.boston.tokens.tenant,
    );
    expect(all.protectionGroupReplicas.nodes.map((n) => n.id)).toContain(mine.id);
    expect(all.protectionGroupReplicas.nodes.map((n) => n.id)).not.toContain(other.id);
    expect(new Set(all.protectionGroupReplicas.nodes.map((n) => n.projectId))).toEqual(
      new Set([lab.boston.tokens.tenantProjectId]),
    );
    const single = await readSite<{ protectionGroupReplica: unknown }>(
      lab.boston,
      'protectionGroupReplica(id: $id) { id }',
      lab.boston.tokens.tenant,
      { id: other.id },
      '($id: ID!)',
    );
    expect(single.protectionGroupReplica).toBeNull();
    const asAdmin = await readSite<{ protectionGroupReplicas: { nodes: { id: string }[] } }>(
      lab.boston,
      'protectionGroupReplicas(first: 100) { nodes { id } }',
      lab.boston.tokens.admin,
    );
    expect(asAdmin.protectionGroupReplicas.nodes.map((n) => n.id)).toEqual(
      expect.arrayContaining([mine.id, other.id]),
    );
    // Clean up so the chain below starts from an idle site.
    for (const md of [mine, other]) {
      await stepOk(
        lab.boston,
        'deleteProtectionGroupReplica',
        { operationId: op(), stepKey: 'delete' },
        { protectionGroupId: md.id, expectedVersion: 1 },
        RECEIPT,
      );
    }
  });
});

describe('bad input', () => {
  it('answers NOT_FOUND for an unknown Protection Group, and records nothing', async () => {
    const id = randomUUID();
    const r = await callStep(
      lab.boston,
      'ensureConsistencyGroup',
      { operationId: op(), stepKey: 'cg' },
      { protectionGroupId: id, volumeType: 'replicated-ssd' },
      'consistencyGroupId',
    );
    expect(r.errors[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(r.errors[0]?.message).toContain(id);
    expect(r.errors[0]?.message).toMatch(/does not exist on (this )?site/);
    const groups = await lab.boston.adminCloud.listGroups({ projectId: lab.boston.tokens.tenantProjectId });
    expect(groups.filter((g) => g.description?.includes(id))).toEqual([]);
  });
});

describe('the step chain: boston primary, seattle secondary', () => {
  const md = groupMetadata();
  let web: { serverId: string; volumeId: string; networkId: string };
  let replicaBoston: Replica;
  let written: { origin: string; version: number };
  let point: Point;
  let seattleNetworkId: string;

  it('applies metadata on both sites (compare-and-set from version 0)', async () => {
    md.projectId = lab.boston.tokens.tenantProjectId;
    for (const site of [lab.boston, lab.seattle]) {
      const r = await stepOk<{ replica: Replica }>(
        site,
        'applyProtectionGroupMetadata',
        { operationId: 'create-1', stepKey: `apply-${site.name}` },
        { expectedVersion: 0, metadata: md },
        `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
      );
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
    const mapping = {
      sourceSite: 'boston',
      sourceProjectId: lab.boston.tokens.tenantProjectId,
      targetSite: 'seattle',
      targetProjectId: lab.seattle.tokens.tenantProjectId,
    };
    for (const site of [lab.boston, lab.seattle]) {
      const r = await stepOk<{ tenantMappings: Json[] }>(
        site,
        'setTenantMappings',
        { operationId: 'mappings-1', stepKey: site.name },
        { mappings: [mapping] },
        'tenantMappings { sourceSite { name } sourceProjectId targetSite { name } targetProjectId }',
      );
      expect(r.tenantMappings).toHaveLength(1);
    }
  });

  it('creates the Cinder consistency group on each site, in the tenant project, once', async () => {
    for (const site of [lab.boston, lab.seattle]) {
      const key = { operationId: 'create-1', stepKey: `cg-${site.name}` };
      const input = { protectionGroupId: md.id, volumeType: 'replicated-ssd' };
      const first = await stepOk<{ consistencyGroupId: string; step: { replayed: boolean } }>(
        site,
        'ensureConsistencyGroup',
        key,
        input,
        `${RECEIPT} consistencyGroupId`,
      );
      expect(first.step.replayed).toBe(false);
      const again = await stepOk<{ consistencyGroupId: string; step: { replayed: boolean } }>(
        site,
        'ensureConsistencyGroup',
        key,
        input,
        `${RECEIPT} consistencyGroupId`,
      );
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
    const b = await stepOk<{ name: string; kind: string; source: boolean }>(
      lab.boston,
      'ensureStorageGroup',
      { operationId: 'create-1', stepKey: 'sg-boston' },
      {
        protectionGroupId: md.id,
        name: 'pg-prod-web-app',
        replicationType: 'ASYNC',
        source: true,
        replicationIntervalSeconds: 3600,
      },
      'name kind source',
    );
    expect(b).toEqual({ name: 'pg-prod-web-app', kind: 'PROTECTION_GROUP', source: true });
    const s = await stepOk<{ source: boolean }>(
      lab.seattle,
      'ensureStorageGroup',
      { operationId: 'create-1', stepKey: 'sg-seattle' },
      {
        protectionGroupId: md.id,
        name: 'pg-prod-web-app',
        replicationType: 'ASYNC',
        source: false,
        replicationIntervalSeconds: 3600,
      },
      'source',
    );
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
    const r = await stepOk<{ replica: Replica }>(
      lab.boston,
      'addMember',
      { operationId: 'add-web-1', stepKey: 'boston' },
      {
        protectionGroupId: md.id,
        expectedVersion: 1,
        member: {
          id: memberId,
          name: 'web-1',
          status: 'PROTECTING',
          volumes: [],
          placements: [{ site: 'boston', serverId: web.serverId, networkIds: [], volumes: [] }],
        },
      },
      `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
    );
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
      'addMember',
      { operationId: 'add-plain-1', stepKey: 'boston' },
      {
        protectionGroupId: md.id,
        expectedVersion: 2,
        member: {
          id: randomUUID(),
          name: 'plain-1',
          status: 'PROTECTING',
          volumes: [],
          placements: [{ site: 'boston', serverId: plain.serverId, networkIds: [], volumes: [] }],
        },
      },
      RECEIPT,
    );
    expect(r.errors[0]?.extensions?.code).toBe('VOLUME_TYPE_NOT_REPLICATED');
    expect(r.errors[0]?.message).toMatch(/^Volume type 'standard-ssd' does not support replication\./);
    const sync = await bootTenantServer(lab.boston, 'sync-1', 'replicated-sync');
    const s = await callStep(
      lab.boston,
      'addMember',
      { operationId: 'add-sync-1', stepKey: 'boston' },
      {
        protectionGroupId: md.id,
        expectedVersion: 2,
        member: {
          id: randomUUID(),
          name: 'sync-1',
          status: 'PROTECTING',
          volumes: [],
          placements: [{ site: 'boston', serverId: sync.serverId, networkIds: [], volumes: [] }],
        },
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

  it('replicates now and waits; a repeated key replays without a second snapshot', async () => {
    const volume = replicaBoston.members[0]!.volumes[0]!.storageVolumeName!;
    written = lab.storage.simulator.simulateWrite('mock-array-a', volume);
    const key = { operationId: 'sync-2', stepKey: 'replicate' };
    const input = { protectionGroupId: md.id, wait: true, timeoutSeconds: 30 };
    const sel = `${RECEIPT} recoveryPoint { name createdAt completedAt complete progress }`;
    const r = await stepOk<{ recoveryPoint: Point; step: { replayed: boolean } }>(
      lab.boston,
      'replicateNow',
      key,
      input,
      sel,
    );
    expect(r.step.replayed).toBe(false);
    expect(r.recoveryPoint).toMatchObject({ complete: true, progress: 1 });
    expect(r.recoveryPoint.name).toMatch(/^mock-array-a:pg-prod-web-app\./);
    point = r.recoveryPoint;
    // Data written after the point must not be in it.
    lab.storage.simulator.simulateWrite('mock-array-a', volume);
    const again = await stepOk<{ recoveryPoint: Point; step: { replayed: boolean } }>(
      lab.boston,
      'replicateNow',
      key,
      input,
      sel,
    );
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
    const r = await stepOk<{ replica: Replica }>(
      lab.seattle,
      'addMember',
      { operationId: 'add-web-1', stepKey: 'seattle' },
      {
        protectionGroupId: md.id,
        expectedVersion: 1,
        member: {
          id: m.id,
          name: m.name,
          status: m.status,
          volumes: m.volumes.map((v) => ({
            id: v.id,
            name: 'vda',
            sizeGb: 1,
            volumeType: v.volumeType,
            bootable: v.bootIndex === 0,
            bootIndex: v.bootIndex,
            deviceName: '/dev/vda',
            storageVolumeName: v.storageVolumeName,
          })),
          placements: m.placements.map((p) => ({
            site: p.site.name,
            serverId: p.serverId,
            networkIds: [web.networkId],
            volumes: p.volumes,
          })),
        },
      },
      `replica { ${REPLICA_FIELDS} }`,
    );
    expect(r.replica.metadataVersion).toBe(2);
    expect(r.replica.members).toEqual(replicaBoston.members);
  });

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
    const arrayName = volume.metadata?.array_volume_name;
    expect(arrayName).toBeTruthy();
    const [copy] = await lab.storage.getVolumes('mock-array-b', [arrayName!]);
    expect(copy?.content).toEqual(written);
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
    const arrayName = (await lab.seattle.adminCloud.getVolume(seattleVolumeId)).metadata?.array_volume_name;
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

describe('site events over graphql-ws', () => {
  const wsUrl = () => lab.seattle.proc.url.replace(/^http/, 'ws');

  function subscribe(token: string, query: string) {
    const events: Json[] = [];
    const errors: unknown[] = [];
    const client = createClient({
      url: wsUrl(),
      webSocketImpl: WebSocket,
      connectionParams: { token },
      retryAttempts: 0,
      lazy: false,
    });
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const dispose = client.subscribe(
      { query },
      {
        next: (v) => events.push(v as Json),
        error: (e) => errors.push(e),
        complete: () => undefined,
      },
    );
    return {
      events,
      errors,
      connected,
      async close() {
        dispose();
        await client.dispose();
      },
    };
  }

  it('refuses a connection without a valid token', async () => {
    const sub = subscribe('bad-token', 'subscription { seattle { kind } }');
    try {
      await waitFor('the refusal', () => sub.errors.length > 0, 10_000);
      expect(sub.events).toEqual([]);
    } finally {
      await sub.close();
    }
  });

  it('publishes REPLICATION_COMPLETED on the target site and LINK_STATE_CHANGED when the link drops', async () => {
    const md = groupMetadata({
      name: 'events-app',
      storageGroupName: 'pg-events-app',
      projectId: lab.boston.tokens.tenantProjectId,
    });
    for (const site of [lab.boston, lab.seattle]) {
      await stepOk(
        site,
        'applyProtectionGroupMetadata',
        { operationId: 'events', stepKey: `apply-${site.name}` },
        { expectedVersion: 0, metadata: md },
        RECEIPT,
      );
    }
    await stepOk(
      lab.boston,
      'ensureStorageGroup',
      { operationId: 'events', stepKey: 'sg' },
      {
        protectionGroupId: md.id,
        name: 'pg-events-app',
        replicationType: 'ASYNC',
        source: true,
        replicationIntervalSeconds: 3600,
      },
      'name',
    );
    const sub = subscribe(
      lab.seattle.tokens.service,
      `subscription { seattle { kind protectionGroup { id } storageGroupName recoveryPoint { name complete } linkState previousLinkState message } }`,
    );
    try {
      await sub.connected;
      const rp = await stepOk<{ recoveryPoint: Point }>(
        lab.boston,
        'replicateNow',
        { operationId: 'events', stepKey: 'replicate' },
        { protectionGroupId: md.id, wait: true, timeoutSeconds: 30 },
        'recoveryPoint { name }',
      );
      const completed = await waitFor(
        'REPLICATION_COMPLETED',
        () =>
          sub.events
            .map((e) => (e.data as { seattle: Json }).seattle)
            .find((e) => e.kind === 'REPLICATION_COMPLETED'),
        10_000,
      );
      expect(completed).toMatchObject({
        protectionGroup: { id: md.id },
        storageGroupName: 'pg-events-app',
        recoveryPoint: { name: rp.recoveryPoint.name, complete: true },
      });
      lab.storage.simulator.setLink('mock-array-a', 'mock-array-b', 'disconnected');
      const down = await waitFor(
        'LINK_STATE_CHANGED',
        () =>
          sub.events
            .map((e) => (e.data as { seattle: Json }).seattle)
            .find((e) => e.kind === 'LINK_STATE_CHANGED'),
        10_000,
      );
      expect(down).toMatchObject({ linkState: 'DISCONNECTED', previousLinkState: 'CONNECTED' });
      expect(sub.errors).toEqual([]);
    } finally {
      lab.storage.simulator.setLink('mock-array-a', 'mock-array-b', 'connected');
      await sub.close();
    }
  });
});
