/**
 * The replication policy drives the arrays (protect chain of `site-service.fixture.ts`, mock storage):
 * `purePgName` names the array group, array URLs and tokens are optional with the mock driver, and
 * the `[storage]` defaults are taken when a policy is created, never applied to existing ones.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { callStep, type PairSite, readSite, stepOk } from '../../test-support/site-pair.js';
import { lab, type ProtectedGroup, protectWebApp, useLab } from './site-service.fixture.js';

useLab();

const POLICY = 'policy { primaryArrayUrl purePgName replicationIntervalSeconds rpoMinutes }';

interface PolicyReplica {
  metadataVersion: number;
  storageGroupName: string;
  policy: {
    primaryArrayUrl: string | null;
    purePgName: string;
    replicationIntervalSeconds: number;
    rpoMinutes: number;
  } | null;
}

async function replica(site: PairSite, id: string): Promise<PolicyReplica> {
  const r = await readSite<{ protectionGroupReplica: PolicyReplica }>(
    site,
    `protectionGroupReplica(id: $id) { metadataVersion storageGroupName ${POLICY} }`,
    site.tokens.service,
    { id },
    '($id: ID!)',
  );
  return r.protectionGroupReplica;
}

/** Sets the policy on both sites as the coordinator does (same operation, one step per site). */
async function setPolicy(g: ProtectedGroup, operationId: string, policy: Record<string, unknown>) {
  for (const site of [lab.boston, lab.seattle]) {
    const { metadataVersion } = await replica(site, g.md.id as string);
    await stepOk(
      site,
      'setReplicationPolicy',
      { operationId, stepKey: `policy@${site.name}` },
      { protectionGroupId: g.md.id, expectedVersion: metadataVersion, policy },
      'replica { id }',
    );
  }
}

describe('a replication policy drives the arrays', () => {
  let g: ProtectedGroup;
  beforeAll(async () => {
    g = await protectWebApp();
  }, 120_000);

  it('with the mock driver, takes no array URLs or tokens, and fills interval and RPO from [storage] defaults', async () => {
    await setPolicy(g, 'policy-1', { rpoMinutes: 7 });
    for (const site of [lab.boston, lab.seattle]) {
      expect((await replica(site, g.md.id as string)).policy).toMatchObject({
        primaryArrayUrl: null,
        rpoMinutes: 7,
        replicationIntervalSeconds: 300,
      });
    }
  });

  it('names the array group after purePgName: the source array renames it, both sites record it, recovery points follow', async () => {
    await setPolicy(g, 'policy-2', { purePgName: 'pg-db-cluster' });
    const arrays = lab.storage;
    const ref = {
      name: 'pg-db-cluster',
      mode: 'async' as const,
      sourceArray: 'mock-array-a',
      targetArray: 'mock-array-b',
    };
    const group = await arrays.getReplicationGroup(ref);
    expect(group?.volumes).toHaveLength(1);
    expect(await arrays.getReplicationGroup({ ...ref, name: 'pg-prod-web-app' })).toBeNull();
    for (const site of [lab.boston, lab.seattle]) {
      expect(await replica(site, g.md.id as string)).toMatchObject({
        storageGroupName: 'pg-db-cluster',
        policy: { purePgName: 'pg-db-cluster' },
      });
    }
    // The point taken before the rename is listed under the new name, and new points are taken in it.
    const points = await arrays.listRecoveryPoints(ref);
    expect(points.map((p) => p.name)).toContain(g.point.name.replace(':pg-prod-web-app.', ':pg-db-cluster.'));
    const { recoveryPoint } = await stepOk<{ recoveryPoint: { name: string; complete: boolean } }>(
      lab.boston,
      'replicateNow',
      { operationId: 'sync-after-rename', stepKey: 'replicate' },
      { protectionGroupId: g.md.id, wait: true, timeoutSeconds: 30 },
      'recoveryPoint { name complete }',
    );
    expect(recoveryPoint).toMatchObject({
      name: expect.stringMatching(/^mock-array-a:pg-db-cluster\./),
      complete: true,
    });
  });

  it('refuses a purePgName another array group has, and changes nothing', async () => {
    const other = {
      name: 'pg-taken',
      mode: 'async' as const,
      sourceArray: 'mock-array-a',
      targetArray: 'mock-array-b',
    };
    await lab.storage.ensureReplicationGroup(other);
    const before = await replica(lab.boston, g.md.id as string);
    const r = await callStep(
      lab.boston,
      'setReplicationPolicy',
      { operationId: 'policy-3', stepKey: 'policy@boston' },
      {
        protectionGroupId: g.md.id,
        expectedVersion: before.metadataVersion,
        policy: { purePgName: 'pg-taken' },
      },
      'replica { id }',
    );
    expect(r.errors[0]).toMatchObject({
      message: expect.stringMatching(/already has a protection group named 'pg-taken'/),
      extensions: { code: 'ALREADY_EXISTS' },
    });
    expect(await replica(lab.boston, g.md.id as string)).toEqual(before);
  });

  it('never applies changed [storage] defaults to an existing policy', async () => {
    const before = await replica(lab.boston, g.md.id as string);
    const conf = readFileSync(lab.boston.configPath, 'utf8');
    writeFileSync(
      lab.boston.configPath,
      `${conf}\n[storage]\ndefault_replication_interval = 900\ndefault_rpo_minutes = 30\n`,
    );
    try {
      await lab.restart(lab.boston, 'stop');
      expect((await replica(lab.boston, g.md.id as string)).policy).toEqual(before.policy);
      // A change of one field keeps the others as stored, not as the new defaults.
      await setPolicy(g, 'policy-4', { rpoMinutes: 8 });
      expect((await replica(lab.boston, g.md.id as string)).policy).toMatchObject({
        rpoMinutes: 8,
        replicationIntervalSeconds: 300,
      });
    } finally {
      writeFileSync(lab.boston.configPath, conf);
    }
    // It restarts a site service: give it the time a loaded 2-core CI machine takes.
  }, 60_000);
});
