/**
 * Metadata writes of the status steps: a change that leaves members and mappings as they are writes
 * the group's head only (a group of 500 members is not sent twice for a status change), unless a site
 * is behind the version read, or the change itself moves members.
 */
import type { Json } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import type { SiteClient } from './site-client.js';
import { runStep, type StepContext } from './steps.js';
import type { OperationRecord, StepRecord } from './store.js';

const member = (i: number, status = 'PROTECTED') => ({
  id: `m-${i}`,
  name: `web-${i}`,
  status,
  bootPriority: 3,
  addedAt: '2026-12-01T00:00:00.000Z',
  volumes: [
    {
      id: `v-${i}`,
      name: `vol-${i}`,
      sizeGb: 10,
      volumeType: 'replicated-ssd',
      bootable: true,
      bootIndex: 0,
      deviceName: '/dev/vda',
      storageVolumeName: `pg-web-vol-${i}`,
    },
  ],
  placements: [
    { site: { name: 'boston' }, serverId: `srv-${i}`, flavorId: 'f1', networkIds: ['n1'], volumes: [] },
  ],
});

const replica = (site: string, version: number, status: string, members: Json[]) => ({
  id: 'pg-1',
  name: 'web',
  description: null,
  projectId: 'p1',
  replicationType: 'ASYNC',
  status,
  metadataVersion: version,
  lastSyncedAt: null,
  syncStatus: 'IN_SYNC',
  lastReplicationAt: null,
  storageGroupName: 'pg-web',
  consistencyGroupId: null,
  volumeType: 'replicated-ssd',
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
  role: site === 'boston' ? 'PRIMARY' : 'SECONDARY',
  currentPrimarySite: { name: 'boston' },
  secondarySite: { name: 'seattle' },
  members,
  policy: null,
  resourceMappings: [
    {
      kind: 'NETWORK',
      sourceSite: { name: 'boston' },
      sourceId: 'n1',
      targetSite: { name: 'seattle' },
      targetId: 'n2',
    },
  ],
});

/** Two sites holding the group at the given versions; each metadata write they receive is kept. */
function sites(versions: Record<string, number>, status: string, members: Json[]) {
  const writes: { site: string; metadata: Json; expectedVersion: number }[] = [];
  const client = (site: string) =>
    ({
      site: { name: site },
      query: async () => ({ protectionGroupReplica: replica(site, versions[site]!, status, members) }),
      step: async (_doc: unknown, _key: unknown, input: { expectedVersion: number; metadata: Json }) => {
        writes.push({ site, metadata: input.metadata, expectedVersion: input.expectedVersion });
        return {
          replica: {
            ...replica(site, Number(input.metadata.metadataVersion), String(input.metadata.status), members),
          },
        };
      },
    }) as unknown as SiteClient;
  const ctx = {
    site: async (name: string) => client(name),
    store: {},
    emit: async () => undefined,
    log: () => undefined,
  } as unknown as StepContext;
  return { ctx, writes };
}

const run = (type: string, to: string) => ({
  op: {
    id: 'op-1',
    type,
    protectionGroupId: 'pg-1',
    protectionGroupName: 'web',
    sourceSite: 'boston',
    targetSite: 'seattle',
    steps: [],
  } as unknown as OperationRecord,
  step: { key: `status:${to}`, name: 'setGroupStatus', site: null, attempt: 1 } as unknown as StepRecord,
  results: new Map(),
});

describe('status steps write the head only when they can', () => {
  const members = Array.from({ length: 500 }, (_, i) => member(i));

  it('leaves members and mappings out when both sites hold the version read', async () => {
    const { ctx, writes } = sites({ boston: 3, seattle: 3 }, 'ACTIVE', members);
    await runStep(ctx, run('TEST_FAILOVER', 'TEST_FAILING_OVER'));
    expect(writes.map((w) => w.site).sort()).toEqual(['boston', 'seattle']);
    for (const w of writes) {
      expect(w).toMatchObject({
        expectedVersion: 3,
        metadata: { status: 'TEST_FAILING_OVER', metadataVersion: 4 },
      });
      expect(w.metadata.members).toBeNull();
      expect(w.metadata.resourceMappings).toBeNull();
      expect(JSON.stringify(w.metadata).length).toBeLessThan(2000);
    }
  });

  it('writes everything to both when a site is behind (it gets the whole winning copy)', async () => {
    const { ctx, writes } = sites({ boston: 3, seattle: 2 }, 'ACTIVE', members);
    await runStep(ctx, run('TEST_FAILOVER', 'TEST_FAILING_OVER'));
    expect(writes).toHaveLength(2);
    for (const w of writes) {
      expect(w.metadata.members).toHaveLength(500);
      expect(w.metadata.resourceMappings).toHaveLength(1);
    }
    expect(writes.find((w) => w.site === 'seattle')?.expectedVersion).toBe(2);
  });

  it('writes the members when the change moves them (back to ACTIVE: failed-over members are protected again)', async () => {
    const moved = [member(0, 'FAILED_OVER'), member(1)];
    const { ctx, writes } = sites({ boston: 5, seattle: 5 }, 'TEST_CLEANING_UP', moved);
    await runStep(ctx, run('TEST_CLEANUP', 'ACTIVE'));
    for (const w of writes) {
      expect((w.metadata.members as Json[]).map((m) => m.status)).toEqual(['PROTECTED', 'PROTECTED']);
      expect(w.metadata.resourceMappings).toBeNull();
    }
  });
});
