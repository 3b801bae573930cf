/**
 * Reading a Protection Group's replicas from the sites and writing metadata back to them with
 * compare-and-set. The coordinator keeps no copy of the metadata: the sites hold it.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { ProtectorError, type SyncStatus } from '@protector/schema';
import {
  ApplyProtectionGroupMetadataDocument,
  type ProtectionGroupMemberInput,
  type ProtectionGroupMetadataInput,
  type ProtectionGroupReplicaFilterInput,
  ReplicaDocument,
  type ReplicaFieldsFragment,
  type ReplicaHeadFieldsFragment,
  ReplicasDocument,
  type ReplicasQueryVariables,
} from './generated/site-documents.js';
import type { Identity, SiteClient } from './site-client.js';

/** The site did not answer: unreachable, or reachable but too slow (SITE_TIMEOUT). */
export const noAnswer = (err: unknown): err is ProtectorError =>
  err instanceof ProtectorError && (err.code === 'SITE_UNREACHABLE' || err.code === 'SITE_TIMEOUT');

/** A group's replica on one site, as `ReplicaFields` in `documents/site-queries.graphql` selects it. */
export type Replica = ReplicaFieldsFragment;
/** What places, merges and filters a replica in a list (`ReplicaHeadFields`); every Replica has it. */
export type ReplicaHead = ReplicaHeadFieldsFragment;
/** One member of a replica. */
export type ReplicaMember = Replica['members'][number];
/** One resource mapping of a replica. */
export type ReplicaMapping = Replica['resourceMappings'][number];

/** One site's answer about a group: its replica, or why it could not say. */
export interface ReplicaRead<R extends ReplicaHead = Replica> {
  readonly site: string;
  readonly replica: R | null;
  readonly error: ProtectorError | null;
}

/** A site document that reads one replica by id (`Replica`, `ReplicaHead`). */
export type ReplicaByIdDocument<R> = TypedDocumentNode<
  { here: { protectionGroupReplica: R | null } },
  { id: string }
>;

/** Reads a group's replica from one site, as `as`: in full, or only its head (`ReplicaHeadDocument`). */
export async function readReplica<R extends ReplicaHead = Replica>(
  client: SiteClient,
  id: string,
  as: Identity,
  document: ReplicaByIdDocument<R> = ReplicaDocument as unknown as ReplicaByIdDocument<R>,
): Promise<ReplicaRead<R>> {
  try {
    const here = await client.query(document, { id }, as);
    return { site: client.site.name, replica: here.protectionGroupReplica, error: null };
  } catch (err) {
    if (err instanceof ProtectorError) return { site: client.site.name, replica: null, error: err };
    throw err;
  }
}

/** Largest page a site lists. */
export const SITE_PAGE_LIMIT = 500;

/** One page of a site's list of replicas, in its order (name, then id), with each one's cursor. */
export interface ReplicaPage<R extends ReplicaHead = Replica> {
  readonly edges: readonly { readonly cursor: string; readonly node: R }[];
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
}

/** A site document that lists replicas a page at a time (`Replicas`, `ReplicaHeads`). */
export type ReplicaPageDocument<R> = TypedDocumentNode<
  {
    here: {
      protectionGroupReplicas: {
        edges: readonly { cursor: string; node: R }[];
        pageInfo: { hasNextPage: boolean; endCursor?: string | null };
      };
    };
  },
  ReplicasQueryVariables
>;

/**
 * The `first` replicas `as` may see on one site after the cursor `after` (a cursor of any site), in
 * full, or with only what places, merges and filters them (`ReplicaHeadsDocument`).
 */
export async function replicaPage<R extends ReplicaHead = Replica>(
  client: SiteClient,
  as: Identity,
  filter: ProtectionGroupReplicaFilterInput,
  first: number,
  after: string | null,
  document: ReplicaPageDocument<R> = ReplicasDocument as unknown as ReplicaPageDocument<R>,
): Promise<ReplicaPage<R>> {
  const here = await client.query(document, { filter, first, after }, as);
  const { edges, pageInfo } = here.protectionGroupReplicas;
  return { edges, hasNextPage: pageInfo.hasNextPage, endCursor: pageInfo.endCursor ?? null };
}

/** Every replica `as` may see on one site, a page at a time (in full, or only their heads). */
export async function listReplicas<R extends ReplicaHead = Replica>(
  client: SiteClient,
  as: Identity,
  filter: ProtectionGroupReplicaFilterInput = {},
  document?: ReplicaPageDocument<R>,
): Promise<R[]> {
  const all: R[] = [];
  for (let after: string | null = null; ; ) {
    const page: ReplicaPage<R> = await replicaPage(client, as, filter, SITE_PAGE_LIMIT, after, document);
    all.push(...page.edges.map((e) => e.node));
    if (!page.hasNextPage || !page.endCursor) return all;
    after = page.endCursor;
  }
}

/** The copy that wins: the higher metadata version; on a tie, the current primary's. */
export function authoritative<R extends ReplicaHead>(reads: readonly ReplicaRead<R>[]): R | null {
  const replicas = reads.map((r) => r.replica).filter((r): r is R => !!r);
  if (!replicas.length) return null;
  return replicas.reduce((best, r) =>
    r.metadataVersion > best.metadataVersion ||
    (r.metadataVersion === best.metadataVersion && r.role === 'PRIMARY' && best.role !== 'PRIMARY')
      ? r
      : best,
  );
}

/** The API's sync status of a group. */
export type SyncState = SyncStatus;

/** Sync status of a group from what each of its sites answered. */
export function syncState(reads: readonly ReplicaRead<ReplicaHead>[]): SyncState {
  if (reads.some((r) => noAnswer(r.error))) return 'UNREACHABLE';
  if (reads.some((r) => r.error)) return 'FAILED';
  const versions = new Set(reads.map((r) => r.replica?.metadataVersion ?? 0));
  return versions.size === 1 ? 'IN_SYNC' : 'OUT_OF_SYNC';
}

/** A replica turned back into the metadata input a site step takes, with changes applied. */
export function toMetadataInput(
  r: Replica,
  changes: Partial<ProtectionGroupMetadataInput> = {},
): ProtectionGroupMetadataInput {
  const policy = r.policy
    ? {
        primaryArrayUrl: r.policy.primaryArrayUrl,
        secondaryArrayUrl: r.policy.secondaryArrayUrl,
        purePgName: r.policy.purePgName,
        replicationIntervalSeconds: r.policy.replicationIntervalSeconds,
        rpoMinutes: r.policy.rpoMinutes,
      }
    : null;
  return {
    id: r.id,
    name: r.name,
    description: r.description ?? null,
    projectId: r.projectId,
    replicationType: r.replicationType,
    status: r.status,
    currentPrimarySite: r.currentPrimarySite.name,
    secondarySite: r.secondarySite.name,
    metadataVersion: r.metadataVersion,
    syncStatus: 'IN_SYNC',
    lastSyncedAt: new Date().toISOString(),
    lastReplicationAt: r.lastReplicationAt ?? null,
    storageGroupName: r.storageGroupName,
    volumeType: r.volumeType,
    members: r.members.map(memberInput),
    policy,
    resourceMappings: r.resourceMappings.map(mappingInput),
    ...changes,
  };
}

/** A replica's mapping as `ResourceMappingInput` (sites by name). */
export const mappingInput = (m: ReplicaMapping) => ({
  kind: m.kind,
  sourceSite: m.sourceSite.name,
  sourceId: m.sourceId,
  targetSite: m.targetSite.name,
  targetId: m.targetId,
});

/** A replica's member as `ProtectionGroupMemberInput`. */
export function memberInput(m: ReplicaMember): ProtectionGroupMemberInput {
  return {
    id: m.id,
    name: m.name,
    status: m.status,
    bootPriority: m.bootPriority ?? 3,
    volumes: m.volumes.map((v) => ({
      id: v.id,
      name: v.name,
      sizeGb: v.sizeGb,
      volumeType: v.volumeType,
      bootable: v.bootable,
      bootIndex: v.bootIndex ?? null,
      deviceName: v.deviceName ?? null,
      storageVolumeName: v.storageVolumeName ?? null,
    })),
    placements: m.placements.map((p) => ({
      site: p.site.name,
      serverId: p.serverId ?? null,
      flavorId: p.flavorId ?? null,
      networkIds: p.networkIds ?? [],
      volumes: p.volumes ?? [],
    })),
  };
}

/**
 * Writes metadata to the given sites with compare-and-set: each at the version it holds now, all to
 * `newVersion`. Returns the head of each site's replica after the write (its status, version and
 * sites; a write's answer does not carry the members back).
 */
export async function writeMetadata(
  writes: readonly { client: SiteClient; expectedVersion: number; projectId?: string | null }[],
  metadata: ProtectionGroupMetadataInput,
  newVersion: number,
  key: { operationId: string; stepKey: string },
): Promise<ReplicaHead[]> {
  // Both sites at once. A site that fails leaves the other one version ahead: the higher version wins
  // every read (`authoritative`), a retried step writes both over it, and a sync levels them.
  const settled = await Promise.allSettled(
    writes.map(async (w) => {
      // Each site keeps the group under its own project (tenant mappings may differ per site).
      const projectId = w.projectId ?? metadata.projectId;
      const res = await w.client.step(
        ApplyProtectionGroupMetadataDocument,
        { operationId: key.operationId, stepKey: `${key.stepKey}@${w.client.site.name}` },
        {
          expectedVersion: w.expectedVersion,
          metadata: { ...metadata, projectId, metadataVersion: newVersion },
        },
      );
      return res.replica;
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ReplicaHead>).value);
}

/** Refusal of a change to a group whose other site did not answer: nothing was written. */
export function peerUnreachable(read: ReplicaRead): ProtectorError {
  return new ProtectorError(
    'PEER_SITE_UNREACHABLE',
    `Site '${read.site}' is unreachable (${read.error?.message ?? 'no answer'}); nothing was changed. Changes to a Protection Group are written to both sites, so wait for the site to return (only an unplanned failover runs with one site).`,
    { site: read.site },
  );
}
