/**
 * Domain records the site persistence layer hands out. Plain objects, never TypeORM entities, so
 * nothing outside `db/` can save a half-edited row by accident, and secrets never travel with them.
 */

import {
  MEMBER_STATUSES as SDL_MEMBER_STATUSES,
  PROTECTION_GROUP_STATUSES as SDL_PG_STATUSES,
} from '@protector/schema';
import type { JsonValue } from './entities.js';

const lower = <S extends string>(s: S): Lowercase<S> => s.toLowerCase() as Lowercase<S>;

/** Which end of the site pair a `Site` row describes, seen from this site service. */
export type SiteRole = 'local' | 'peer';

/** Reachability of a site as last observed. */
export type SiteStatus = 'active' | 'unreachable' | 'error';

/** A site known to this site service: itself (`local`) and the one peer. */
export interface SiteRecord {
  /** GraphQL-safe site key from configuration, e.g. `boston`. */
  readonly name: string;
  readonly role: SiteRole;
  readonly authUrl: string;
  readonly status: SiteStatus;
  readonly registeredAt: Date;
  readonly updatedAt: Date;
}

export const REPLICATION_TYPES = ['async', 'sync'] as const;
/** Fixed at creation: `async` maps to a FlashArray protection group, `sync` to an ActiveCluster pod. */
export type ReplicationType = (typeof REPLICATION_TYPES)[number];

/** Stored lowercase; the GraphQL enum is the upper-case spelling (one list, in @protector/schema). */
export const PROTECTION_GROUP_STATUSES = SDL_PG_STATUSES.map(lower);
/** Status of a Protection Group replica; the transition table lives with the engine. */
export type ProtectionGroupStatus = Lowercase<(typeof SDL_PG_STATUSES)[number]>;

export const SYNC_STATUSES = ['IN_SYNC', 'OUT_OF_SYNC', 'UNREACHABLE', 'FAILED'] as const;
/** Whether this replica's metadata equals the peer's, as last recorded by the coordinator. */
export type SyncStatus = (typeof SYNC_STATUSES)[number];

export const MEMBER_STATUSES = SDL_MEMBER_STATUSES.map(lower);
/** Status of one VM inside a Protection Group. */
export type MemberStatus = Lowercase<(typeof SDL_MEMBER_STATUSES)[number]>;

/** A member's flavor and networks on one site. */
export interface MemberSitePlacement {
  readonly flavorId: string | null;
  readonly networkIds: readonly string[];
}

/** Map of site name to the id of the same resource on that site (server, volume). */
export type SiteResourceIds = Readonly<Record<string, string>>;

/** This site's copy of a Protection Group's metadata plus its site-local bookkeeping. */
export interface ProtectionGroupReplica {
  /** UUID, identical on both sites. */
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly projectId: string;
  readonly replicationType: ReplicationType;
  readonly status: ProtectionGroupStatus;
  readonly statusReason: string | null;
  readonly currentPrimarySite: string;
  readonly secondarySite: string;
  /** Bumped by every compare-and-set write; equal on both sites when in sync. */
  readonly metadataVersion: number;
  readonly syncStatus: SyncStatus;
  readonly lastSyncedAt: Date | null;
  readonly lastSyncError: string | null;
  readonly lastReplicationAt: Date | null;
  /** FlashArray protection group (async) or pod (sync) name. */
  readonly storageGroupName: string | null;
  /** Cinder group id of this PG on this site. */
  readonly consistencyGroupId: string | null;
  readonly volumeType: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** One volume attached to a member VM. */
export interface MemberVolumeRecord {
  readonly id: string;
  readonly memberId: string;
  /** Cinder volume id on this site; null while the volume does not exist here. */
  readonly volumeId: string | null;
  readonly arrayVolumeName: string | null;
  readonly sizeGb: number;
  readonly bootIndex: number | null;
  readonly deviceName: string | null;
  readonly volumeType: string | null;
  readonly siteVolumeIds: SiteResourceIds;
}

/** One VM of a Protection Group with its volumes. */
export interface ProtectionGroupMember {
  readonly id: string;
  readonly protectionGroupId: string;
  /** Nova server id on this site; null while the VM does not exist here. */
  readonly serverId: string | null;
  readonly name: string;
  readonly status: MemberStatus;
  readonly siteServerIds: SiteResourceIds;
  /** Flavor and networks of the member's server on each site. */
  readonly sitePlacements: Readonly<Record<string, MemberSitePlacement>>;
  /** Recovery order: 1 first; members of one priority recover together. */
  readonly bootPriority: number;
  readonly errorReason: string | null;
  readonly volumes: readonly MemberVolumeRecord[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A volume as given in metadata; `id` is generated when absent. */
export interface MemberVolumeInput {
  readonly id?: string;
  readonly volumeId?: string | null;
  readonly arrayVolumeName?: string | null;
  readonly sizeGb: number;
  readonly bootIndex?: number | null;
  readonly deviceName?: string | null;
  readonly volumeType?: string | null;
  readonly siteVolumeIds?: SiteResourceIds;
}

/** A member as given in metadata; `id` is generated when absent. */
export interface MemberInput {
  readonly id?: string;
  readonly serverId?: string | null;
  readonly name: string;
  readonly status?: MemberStatus;
  readonly siteServerIds?: SiteResourceIds;
  readonly sitePlacements?: Readonly<Record<string, MemberSitePlacement>>;
  /** @default 3 */
  readonly bootPriority?: number;
  readonly errorReason?: string | null;
  readonly volumes?: readonly MemberVolumeInput[];
}

export const REPLICATION_POLICY_STATUSES = ['active', 'paused', 'error'] as const;
export type ReplicationPolicyStatus = (typeof REPLICATION_POLICY_STATUSES)[number];

/** A replication policy as read back: tokens are never included, only whether they are set. */
export interface ReplicationPolicyRecord {
  readonly protectionGroupId: string;
  readonly primaryArrayUrl: string;
  readonly secondaryArrayUrl: string;
  readonly hasPrimaryToken: boolean;
  readonly hasSecondaryToken: boolean;
  readonly purePgName: string | null;
  readonly replicationIntervalSeconds: number;
  readonly rpoMinutes: number;
  readonly status: ReplicationPolicyStatus;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * A replication policy write. For tokens: `undefined` keeps the stored token, `null` clears it,
 * a string replaces it (encrypted before it reaches the database).
 */
export interface ReplicationPolicyInput {
  readonly primaryArrayUrl: string;
  readonly secondaryArrayUrl: string;
  readonly primaryArrayToken?: string | null;
  readonly secondaryArrayToken?: string | null;
  readonly purePgName?: string | null;
  readonly replicationIntervalSeconds: number;
  readonly rpoMinutes: number;
  readonly status?: ReplicationPolicyStatus;
}

/** Decrypted array tokens, for the engine only. */
export interface ReplicationPolicyTokens {
  readonly primaryArrayToken: string | null;
  readonly secondaryArrayToken: string | null;
}

/**
 * Protection Group metadata as written by the coordinator. On creation `name`, `projectId`,
 * `replicationType`, `currentPrimarySite` and `secondarySite` are required; on update every
 * field left `undefined` keeps its stored value. `members`, when given, replaces the member list.
 */
export interface ProtectionGroupMetadata {
  readonly id: string;
  readonly name?: string;
  readonly description?: string | null;
  readonly projectId?: string;
  readonly replicationType?: ReplicationType;
  readonly status?: ProtectionGroupStatus;
  readonly statusReason?: string | null;
  readonly currentPrimarySite?: string;
  readonly secondarySite?: string;
  readonly syncStatus?: SyncStatus;
  readonly lastReplicationAt?: Date | null;
  readonly storageGroupName?: string | null;
  readonly consistencyGroupId?: string | null;
  readonly volumeType?: string | null;
  readonly members?: readonly MemberInput[];
  readonly replicationPolicy?: ReplicationPolicyInput;
}

export const RESOURCE_KINDS = ['network', 'flavor', 'image'] as const;
/** What a resource mapping translates between sites. */
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** "Resource `sourceId` on `sourceSite` is `targetId` on `targetSite`"; global when `protectionGroupId` is null. */
export interface ResourceMappingRecord {
  readonly id: string;
  readonly protectionGroupId: string | null;
  readonly kind: ResourceKind;
  readonly sourceSite: string;
  readonly sourceId: string;
  readonly targetSite: string;
  readonly targetId: string;
}

export interface ResourceMappingInput {
  readonly kind: ResourceKind;
  readonly sourceSite: string;
  readonly sourceId: string;
  readonly targetSite: string;
  readonly targetId: string;
}

/** Which project on the peer site corresponds to a project on this site. */
export interface TenantMappingRecord {
  readonly id: string;
  readonly localSite: string;
  readonly localProjectId: string;
  readonly peerSite: string;
  readonly peerProjectId: string;
  readonly createdAt: Date;
}

export const STEP_STATUSES = ['running', 'succeeded', 'failed'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** One operation step executed on this site, also the step's idempotency record. */
export interface StepAuditRecord {
  readonly id: string;
  readonly operationId: string;
  readonly stepKey: string;
  readonly name: string;
  readonly status: StepStatus;
  readonly attempt: number;
  /** The request with secrets replaced by `[REDACTED]`. */
  readonly request: unknown;
  readonly result: unknown;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
}

/** What a step function learns about the attempt it runs in. */
export interface StepAttempt {
  /** 1 on the first run; higher when re-running after a crash or a failure. */
  readonly attempt: number;
  /** Status left by the previous attempt, if any (`running` means it crashed mid-step). */
  readonly previousStatus: StepStatus | null;
  /** What an earlier attempt noted (see `note`) before it crashed or failed; null on a first run. */
  readonly progress: JsonValue | null;
  /**
   * Records a choice this attempt made before acting on it (e.g. the recovery point it copies), so a
   * repeat after a crash makes the same one and adopts what was done.
   */
  note(progress: JsonValue): Promise<void>;
}

/** Filter for `listProtectionGroups`; every field narrows, arrays mean "any of". */
export interface ProtectionGroupFilter {
  readonly projectId?: string | readonly string[];
  readonly status?: ProtectionGroupStatus | readonly ProtectionGroupStatus[];
  readonly name?: string;
}

/** Relay-style page. */
export interface Page<T> {
  readonly nodes: readonly T[];
  readonly totalCount: number;
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}
