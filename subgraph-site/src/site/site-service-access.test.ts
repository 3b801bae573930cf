/**
 * The site service over HTTP, at its edges: health endpoints, identity checks (tokens, roles, tenant
 * scoping) and bad input, on two real `protector-site` processes (see `site-service.fixture.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { Json } from '@protector/schema';
import { gql } from '@protector/test-kit';
import { fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { callStep, groupMetadata, RECEIPT, readSite, stepOk } from '../../test-support/site-pair.js';
import { lab, op, useLab } from './site-service.fixture.js';

useLab();

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
    // A client-chosen operation name never becomes a label value (no unbounded label growth).
    for (let i = 0; i < 5; i++)
      await gql(lab.boston.proc.url, lab.boston.tokens.admin, `query Made${i} { boston { name } }`);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/protector_graphql_requests_total\{type="query"\} \d+/);
    expect(text).not.toMatch(/Probe|Made\d/);
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
    // Clean up, leaving the site idle.
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
