/**
 * Conversions between the GraphQL contract (upper-case enums, placements per site) and the site's
 * stored records (lower-case statuses, per-site id maps). One place, so resolvers and steps agree.
 */

import type { Json } from '@protector/schema';
import type {
  MemberInput,
  MemberStatus,
  ProtectionGroupMember,
  ProtectionGroupMetadata,
  ProtectionGroupReplica,
  ProtectionGroupStatus,
  ReplicationPolicyRecord,
  ReplicationType,
  ResourceMappingInput,
  ResourceMappingRecord,
} from '../db/index.js';

const lower = <T extends string>(s: string): T => s.toLowerCase() as T;
const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const site = (name: string) => ({ __typename: 'Site', name });

/** GraphQL `ProtectionGroupMemberInput` -> stored member. */
export function memberFromInput(m: Json): MemberInput {
  const placements = (m.placements as Json[] | undefined) ?? [];
  const siteServerIds: Record<string, string> = {};
  const sitePlacements: Record<string, { flavorId: string | null; networkIds: string[] }> = {};
  const volumeIds = new Map<string, Record<string, string>>();
  for (const p of placements) {
    if (p.serverId) siteServerIds[String(p.site)] = String(p.serverId);
    if (p.flavorId || (p.networkIds as string[] | undefined)?.length) {
      sitePlacements[String(p.site)] = {
        flavorId: (p.flavorId as string | null | undefined) ?? null,
        networkIds: ((p.networkIds as string[] | undefined) ?? []).map(String),
      };
    }
    for (const v of (p.volumes as Json[] | undefined) ?? []) {
      const ids = volumeIds.get(String(v.memberVolumeId)) ?? {};
      ids[String(p.site)] = String(v.volumeId);
      volumeIds.set(String(v.memberVolumeId), ids);
    }
  }
  return {
    id: String(m.id),
    name: String(m.name),
    status: lower<MemberStatus>(String(m.status ?? 'PROTECTED')),
    ...(m.bootPriority != null ? { bootPriority: Number(m.bootPriority) } : {}),
    siteServerIds,
    sitePlacements,
    volumes: ((m.volumes as Json[] | undefined) ?? []).map((v) => ({
      id: String(v.id),
      sizeGb: Number(v.sizeGb),
      bootIndex: (v.bootIndex as number | null | undefined) ?? null,
      deviceName: (v.deviceName as string | null | undefined) ?? null,
      volumeType: (v.volumeType as string | null | undefined) ?? null,
      arrayVolumeName: (v.storageVolumeName as string | null | undefined) ?? null,
      siteVolumeIds: volumeIds.get(String(v.id)) ?? {},
    })),
  };
}

/** A stored member back as a write input (to rewrite the member list). */
export function memberToInput(m: ProtectionGroupMember): MemberInput {
  return {
    id: m.id,
    name: m.name,
    status: m.status,
    serverId: m.serverId,
    siteServerIds: m.siteServerIds,
    sitePlacements: m.sitePlacements,
    bootPriority: m.bootPriority,
    errorReason: m.errorReason,
    volumes: m.volumes.map((v) => ({
      id: v.id,
      volumeId: v.volumeId,
      arrayVolumeName: v.arrayVolumeName,
      sizeGb: v.sizeGb,
      bootIndex: v.bootIndex,
      deviceName: v.deviceName,
      volumeType: v.volumeType,
      siteVolumeIds: v.siteVolumeIds,
    })),
  };
}

/** GraphQL `ProtectionGroupMetadataInput` -> stored metadata (tokens never travel this way). */
export function metadataFromInput(md: Json): ProtectionGroupMetadata {
  const policy = md.policy as Json | null | undefined;
  return {
    id: String(md.id),
    name: String(md.name),
    description: (md.description as string | null | undefined) ?? null,
    projectId: String(md.projectId),
    replicationType: lower<ReplicationType>(String(md.replicationType)),
    status: lower<ProtectionGroupStatus>(String(md.status)),
    currentPrimarySite: String(md.currentPrimarySite),
    secondarySite: String(md.secondarySite),
    syncStatus: (md.syncStatus as ProtectionGroupMetadata['syncStatus']) ?? 'IN_SYNC',
    lastReplicationAt: md.lastReplicationAt ? new Date(String(md.lastReplicationAt)) : null,
    storageGroupName: (md.storageGroupName as string | null | undefined) ?? null,
    volumeType: String(md.volumeType),
    // Omitted or null: the stored members stay (a status change writes none).
    ...(md.members == null ? {} : { members: (md.members as Json[]).map(memberFromInput) }),
    ...(policy && policy.primaryArrayUrl !== undefined && policy.replicationIntervalSeconds !== undefined
      ? {
          replicationPolicy: {
            primaryArrayUrl: String(policy.primaryArrayUrl ?? ''),
            secondaryArrayUrl: String(policy.secondaryArrayUrl ?? ''),
            purePgName: (policy.purePgName as string | null | undefined) ?? null,
            replicationIntervalSeconds: Number(policy.replicationIntervalSeconds),
            rpoMinutes: Number(policy.rpoMinutes),
          },
        }
      : {}),
  };
}

export const mappingFromInput = (m: Json): ResourceMappingInput => ({
  kind: lower<ResourceMappingInput['kind']>(String(m.kind)),
  sourceSite: String(m.sourceSite),
  sourceId: String(m.sourceId),
  targetSite: String(m.targetSite),
  targetId: String(m.targetId),
});

export function mappingToGraphQL(m: ResourceMappingRecord): Json {
  return {
    kind: m.kind.toUpperCase(),
    sourceSite: site(m.sourceSite),
    sourceId: m.sourceId,
    targetSite: site(m.targetSite),
    targetId: m.targetId,
  };
}

export function memberToGraphQL(m: ProtectionGroupMember): Json {
  const sites = new Set([
    ...Object.keys(m.siteServerIds),
    ...Object.keys(m.sitePlacements),
    ...m.volumes.flatMap((v) => Object.keys(v.siteVolumeIds)),
  ]);
  return {
    id: m.id,
    name: m.name,
    status: m.status.toUpperCase(),
    bootPriority: m.bootPriority,
    volumes: m.volumes.map((v) => ({
      id: v.id,
      name: v.deviceName ?? v.id,
      sizeGb: v.sizeGb,
      volumeType: v.volumeType ?? '',
      bootable: v.bootIndex === 0,
      bootIndex: v.bootIndex,
      deviceName: v.deviceName,
      storageVolumeName: v.arrayVolumeName,
    })),
    placements: [...sites].sort().map((s) => ({
      site: site(s),
      serverId: m.siteServerIds[s] ?? null,
      flavorId: m.sitePlacements[s]?.flavorId ?? null,
      networkIds: m.sitePlacements[s]?.networkIds ?? [],
      volumes: m.volumes
        .filter((v) => v.siteVolumeIds[s])
        .map((v) => ({ memberVolumeId: v.id, volumeId: v.siteVolumeIds[s]! })),
    })),
    addedAt: m.createdAt.toISOString(),
  };
}

export function policyToGraphQL(p: ReplicationPolicyRecord | null): Json | null {
  if (!p) return null;
  return {
    primaryArrayUrl: p.primaryArrayUrl || null,
    secondaryArrayUrl: p.secondaryArrayUrl || null,
    primaryArrayTokenSet: p.hasPrimaryToken,
    secondaryArrayTokenSet: p.hasSecondaryToken,
    purePgName: p.purePgName ?? '',
    replicationIntervalSeconds: p.replicationIntervalSeconds,
    rpoMinutes: p.rpoMinutes,
    updatedAt: p.updatedAt.toISOString(),
  };
}

/** A stored replica as the GraphQL `ProtectionGroupReplica` (members, policy and mappings included). */
export function replicaToGraphQL(
  localSite: string,
  pg: ProtectionGroupReplica,
  extra: {
    members: readonly ProtectionGroupMember[];
    policy: ReplicationPolicyRecord | null;
    mappings: readonly ResourceMappingRecord[];
  },
): Json {
  return {
    id: pg.id,
    protectionGroup: { __typename: 'ProtectionGroup', id: pg.id },
    site: site(localSite),
    role: pg.currentPrimarySite === localSite ? 'PRIMARY' : 'SECONDARY',
    name: pg.name,
    description: pg.description,
    projectId: pg.projectId,
    replicationType: pg.replicationType.toUpperCase(),
    status: pg.status.toUpperCase(),
    currentPrimarySite: site(pg.currentPrimarySite),
    secondarySite: site(pg.secondarySite),
    metadataVersion: pg.metadataVersion,
    lastSyncedAt: iso(pg.lastSyncedAt),
    syncStatus: pg.syncStatus,
    lastReplicationAt: iso(pg.lastReplicationAt),
    storageGroupName: pg.storageGroupName,
    consistencyGroupId: pg.consistencyGroupId,
    volumeType: pg.volumeType ?? '',
    members: extra.members.map(memberToGraphQL),
    policy: policyToGraphQL(extra.policy),
    resourceMappings: extra.mappings.map(mappingToGraphQL),
    createdAt: pg.createdAt.toISOString(),
    updatedAt: pg.updatedAt.toISOString(),
  };
}
