/**
 * Shared setup of the site-service tests (`site-service-*.test.ts`): two sites per test file, and
 * the protect steps of the step chain, which the protect tests assert on and the recovery tests replay.
 * Test code: `*.fixture.ts` is excluded from the package build (tsconfig.json) like `*.test.ts`.
 */
import { randomUUID } from 'node:crypto';
import type { Json } from '@protector/schema';
import { afterAll, beforeAll } from 'vitest';
import {
  bootTenantServer,
  groupMetadata,
  type PairSite,
  RECEIPT,
  REPLICA_FIELDS,
  type SitePair,
  startSitePair,
  stepOk,
} from '../../test-support/site-pair.js';

export interface Replica {
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
  resourceMappings: Json[];
}
export interface Point {
  name: string;
  complete: boolean;
  createdAt: string;
  completedAt: string | null;
}
export type GroupMetadata = ReturnType<typeof groupMetadata>;
export type TenantServer = Awaited<ReturnType<typeof bootTenantServer>>;

/** The lab of the running test file, once `useLab`'s `beforeAll` has started it. */
export let lab: SitePair;

/** Starts a fresh lab (boston and seattle) before the calling file's tests and stops it after them. */
export function useLab(): void {
  beforeAll(async () => {
    lab = await startSitePair();
  }, 60_000);
  afterAll(async () => {
    await lab?.stop();
  });
}

export const op = () => `op-${randomUUID()}`;

// ------------------------------------------------------------------ the protect steps of the chain

/** Writes the group's metadata on `site` from version 0. */
export const applyGroup = (site: PairSite, md: GroupMetadata) =>
  stepOk<{ replica: Replica }>(
    site,
    'applyProtectionGroupMetadata',
    { operationId: 'create-1', stepKey: `apply-${site.name}` },
    { expectedVersion: 0, metadata: md },
    `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
  );

/** Maps the tenant's project on boston to the tenant's project on seattle, on `site`. */
export function mapTenant(site: PairSite) {
  const mapping = {
    sourceSite: 'boston',
    sourceProjectId: lab.boston.tokens.tenantProjectId,
    targetSite: 'seattle',
    targetProjectId: lab.seattle.tokens.tenantProjectId,
  };
  return stepOk<{ tenantMappings: Json[] }>(
    site,
    'setTenantMappings',
    { operationId: 'mappings-1', stepKey: site.name },
    { mappings: [mapping] },
    'tenantMappings { sourceSite { name } sourceProjectId targetSite { name } targetProjectId }',
  );
}

/** Ensures the group's Cinder consistency group on `site`. */
export const ensureConsistencyGroup = (site: PairSite, md: GroupMetadata) =>
  stepOk<{ consistencyGroupId: string; step: { replayed: boolean } }>(
    site,
    'ensureConsistencyGroup',
    { operationId: 'create-1', stepKey: `cg-${site.name}` },
    { protectionGroupId: md.id, volumeType: 'replicated-ssd' },
    `${RECEIPT} consistencyGroupId`,
  );

/** Ensures the array protection group from `site`, its source or not. */
export const ensureArrayGroup = (site: PairSite, md: GroupMetadata, source: boolean) =>
  stepOk<{ name: string; kind: string; source: boolean }>(
    site,
    'ensureStorageGroup',
    { operationId: 'create-1', stepKey: `sg-${site.name}` },
    {
      protectionGroupId: md.id,
      name: 'pg-prod-web-app',
      replicationType: 'ASYNC',
      source,
      replicationIntervalSeconds: 3600,
    },
    'name kind source',
  );

/** Adds the tenant's server `web` as member `memberId` on boston, the primary. */
export const addPrimaryMember = (md: GroupMetadata, web: TenantServer, memberId: string) =>
  stepOk<{ replica: Replica }>(
    lab.boston,
    'addMembers',
    { operationId: 'add-web-1', stepKey: 'boston' },
    {
      protectionGroupId: md.id,
      expectedVersion: 1,
      members: [
        {
          id: memberId,
          name: 'web-1',
          status: 'PROTECTING',
          volumes: [],
          placements: [{ site: 'boston', serverId: web.serverId, networkIds: [], volumes: [] }],
        },
      ],
    },
    `${RECEIPT} replica { ${REPLICA_FIELDS} }`,
  );

/** Replicates the group from boston now and waits for the recovery point. */
export const replicateNow = (md: GroupMetadata) =>
  stepOk<{ recoveryPoint: Point; step: { replayed: boolean } }>(
    lab.boston,
    'replicateNow',
    { operationId: 'sync-2', stepKey: 'replicate' },
    { protectionGroupId: md.id, wait: true, timeoutSeconds: 30 },
    `${RECEIPT} recoveryPoint { name createdAt completedAt complete progress }`,
  );

/** Records boston's member `m` on seattle, the secondary, as given. */
export const addSecondaryMember = (md: GroupMetadata, m: Replica['members'][number], networkId: string) =>
  stepOk<{ replica: Replica }>(
    lab.seattle,
    'addMembers',
    { operationId: 'add-web-1', stepKey: 'seattle' },
    {
      protectionGroupId: md.id,
      expectedVersion: 1,
      members: [
        {
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
            networkIds: [networkId],
            volumes: p.volumes,
          })),
        },
      ],
    },
    `replica { ${REPLICA_FIELDS} }`,
  );

/** A group protected by the steps above: what the recovery steps start from. */
export interface ProtectedGroup {
  md: GroupMetadata;
  web: TenantServer;
  replicaBoston: Replica;
  /** The content of web-1's volume at the recovery point (written again after it). */
  written: { origin: string; version: number };
  point: Point;
}

/** Runs the protect steps: web-1 on boston in group prod-web-app, replicated once, on both sites. */
export async function protectWebApp(): Promise<ProtectedGroup> {
  const md = groupMetadata({ projectId: lab.boston.tokens.tenantProjectId });
  for (const site of [lab.boston, lab.seattle]) await applyGroup(site, md);
  for (const site of [lab.boston, lab.seattle]) await mapTenant(site);
  for (const site of [lab.boston, lab.seattle]) await ensureConsistencyGroup(site, md);
  await ensureArrayGroup(lab.boston, md, true);
  await ensureArrayGroup(lab.seattle, md, false);
  const web = await bootTenantServer(lab.boston, 'web-1', 'replicated-ssd');
  const replicaBoston = (await addPrimaryMember(md, web, randomUUID())).replica;
  const volume = replicaBoston.members[0]!.volumes[0]!.storageVolumeName!;
  const written = lab.storage.simulator.simulateWrite('mock-array-a', volume);
  const point = (await replicateNow(md)).recoveryPoint;
  lab.storage.simulator.simulateWrite('mock-array-a', volume);
  await addSecondaryMember(md, replicaBoston.members[0]!, web.networkId);
  return { md, web, replicaBoston, written, point };
}
