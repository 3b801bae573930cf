/**
 * Result and input types of the SDK, written by hand to match the selections in `documents.ts` (and the
 * contract's input types). Enum types come from `@protector/schema`, so a value cannot drift.
 */
import type {
  CheckStatus,
  FailoverReadiness,
  FailoverType,
  IssueSeverity,
  MemberStatus,
  OperationEventKind,
  OperationStatus,
  OperationType,
  ProtectionGroupStatus,
  ReplicaRole,
  ReplicationLinkState,
  ReplicationType,
  ResourceKind,
  RpoCompliance,
  SiteRole,
  SiteStatus,
  StepStatus,
  StorageDriverKind,
  SyncStatus,
} from '@protector/schema';

/** RFC 3339 date-time string in UTC (the contract's `DateTime`). */
export type DateTime = string;

/** A reference to a site by name (what nested `Site` selections fetch). */
export interface SiteRef {
  readonly name: string;
}

export interface ErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

export interface PageInfo {
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
}

/** A page of a connection (`nodes` selection). */
export interface Connection<T> {
  readonly nodes: readonly T[];
  readonly pageInfo: PageInfo;
  readonly totalCount: number;
}

/** Paging and filter arguments of the list queries. */
export interface ListArgs<F> {
  readonly filter?: F;
  /** @default 50 */
  readonly first?: number;
  readonly after?: string;
}

export interface Site {
  readonly name: string;
  readonly key: string;
  readonly description: string | null;
  readonly url: string;
  readonly authUrl: string;
  readonly status: SiteStatus;
  readonly role: SiteRole;
  readonly version: string | null;
  readonly storageDriver: StorageDriverKind | null;
  readonly registeredAt: DateTime;
}

export interface HealthIssue {
  readonly code: string;
  readonly severity: IssueSeverity;
  readonly message: string;
  readonly protectionGroup: { readonly id: string; readonly name: string } | null;
}

export interface SiteHealth {
  readonly reachable: boolean;
  readonly checkedAt: DateTime | null;
  readonly latencyMs: number | null;
  readonly storageReachable: boolean | null;
  readonly replicationLinkState: ReplicationLinkState;
  readonly maxReplicationLagSeconds: number | null;
  readonly rpoCompliance: RpoCompliance;
  readonly failoverReadiness: FailoverReadiness;
  readonly issues: readonly HealthIssue[];
}

export interface SiteWithHealth extends Site {
  readonly health: SiteHealth;
}

export interface SiteValidationCheck {
  readonly name: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly durationMs: number | null;
}

export interface SiteValidation {
  readonly site: SiteRef;
  readonly valid: boolean;
  readonly checkedAt: DateTime;
  readonly checks: readonly SiteValidationCheck[];
}

/** A Cinder volume type of one site (`<siteKey> { volumeTypes }`). */
export interface VolumeType {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly replicationEnabled: boolean;
  readonly replicationType: ReplicationType | null;
  readonly isPublic: boolean;
}

/** Replication policy; array tokens are write-only, only whether one is set is returned. */
export interface ReplicationPolicy {
  readonly primaryArrayUrl: string | null;
  readonly secondaryArrayUrl: string | null;
  readonly primaryArrayTokenSet: boolean;
  readonly secondaryArrayTokenSet: boolean;
  readonly purePgName: string;
  readonly replicationIntervalSeconds: number;
  readonly rpoMinutes: number;
  readonly updatedAt: DateTime;
}

export interface MemberVolume {
  readonly id: string;
  readonly name: string;
  readonly sizeGb: number;
  readonly volumeType: string;
  readonly bootable: boolean;
}

export interface ProtectionGroupMember {
  readonly id: string;
  readonly name: string;
  readonly status: MemberStatus;
  readonly volumes: readonly MemberVolume[];
  readonly addedAt: DateTime;
}

/** What `protectionGroups` lists. */
export interface ProtectionGroupSummary {
  readonly id: string;
  readonly name: string;
  readonly status: ProtectionGroupStatus;
  readonly syncStatus: SyncStatus;
  readonly replicationType: ReplicationType;
  readonly currentPrimarySite: SiteRef;
  readonly secondarySite: SiteRef;
  readonly volumeType: string;
  readonly members: readonly { readonly id: string }[];
}

export interface ResourceMapping {
  readonly kind: ResourceKind;
  readonly sourceSite: SiteRef;
  readonly sourceId: string;
  readonly targetSite: SiteRef;
  readonly targetId: string;
}

/** An operation as nested in other results (a group's active operation, an event). */
export interface OperationSummary {
  readonly id: string;
  readonly type: OperationType;
  readonly status: OperationStatus;
  readonly protectionGroup: { readonly id: string; readonly name: string };
  readonly percentComplete: number;
  readonly stepsCompleted: number;
  readonly stepsTotal: number;
  readonly error: ErrorDetail | null;
  readonly createdAt: DateTime;
  readonly finishedAt: DateTime | null;
}

export interface ProtectionGroup {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly projectId: string;
  readonly replicationType: ReplicationType;
  readonly status: ProtectionGroupStatus;
  readonly syncStatus: SyncStatus;
  readonly currentPrimarySite: SiteRef;
  readonly secondarySite: SiteRef;
  readonly metadataVersion: number;
  readonly lastSyncedAt: DateTime | null;
  readonly lastReplicationAt: DateTime | null;
  readonly volumeType: string;
  readonly storageGroupName: string | null;
  readonly policy: ReplicationPolicy | null;
  readonly members: readonly ProtectionGroupMember[];
  readonly resourceMappings: readonly ResourceMapping[];
  readonly activeOperation: OperationSummary | null;
  readonly createdAt: DateTime;
  readonly updatedAt: DateTime;
}

/** One site's copy of a group, as `sync-status` shows it. */
export interface ProtectionGroupReplicaState {
  readonly site: SiteRef;
  readonly role: ReplicaRole;
  readonly reachable: boolean;
  readonly replica: {
    readonly metadataVersion: number;
    readonly syncStatus: SyncStatus;
    readonly status: ProtectionGroupStatus;
    readonly lastSyncedAt: DateTime | null;
  } | null;
  readonly error: ErrorDetail | null;
}

export interface ProtectionGroupSyncState {
  readonly id: string;
  readonly name: string;
  readonly syncStatus: SyncStatus;
  readonly metadataVersion: number;
  readonly lastSyncedAt: DateTime | null;
  readonly replicas: readonly ProtectionGroupReplicaState[];
}

export interface DeletedProtectionGroup {
  readonly id: string;
  readonly name: string;
}

export interface RecoveryPoint {
  readonly name: string;
  readonly createdAt: DateTime;
  readonly completedAt: DateTime | null;
  readonly progress: number;
  readonly complete: boolean;
}

export interface OperationStep {
  readonly key: string;
  readonly name: string;
  readonly site: SiteRef | null;
  readonly status: StepStatus;
  readonly attempt: number;
  readonly startedAt: DateTime | null;
  readonly finishedAt: DateTime | null;
  readonly error: ErrorDetail | null;
}

export interface MemberOperationResult {
  readonly memberId: string;
  readonly memberName: string;
  readonly status: StepStatus;
  readonly site: SiteRef | null;
  readonly serverId: string | null;
  readonly error: ErrorDetail | null;
}

export interface Operation extends OperationSummary {
  readonly sourceSite: SiteRef | null;
  readonly targetSite: SiteRef | null;
  readonly recoveryPoint: { readonly name: string; readonly createdAt: DateTime } | null;
  readonly currentStep: OperationStep | null;
  readonly steps: readonly OperationStep[];
  readonly stepsFailed: number;
  readonly members: readonly MemberOperationResult[];
  readonly requestedBy: string | null;
  readonly startedAt: DateTime | null;
}

/** One `operationProgress` / `operationEvents` event. */
export interface OperationEvent {
  readonly sequence: number;
  readonly kind: OperationEventKind;
  readonly occurredAt: DateTime;
  readonly status: OperationStatus;
  readonly percentComplete: number;
  readonly message: string | null;
  readonly step: OperationStep | null;
  readonly member: {
    readonly memberId: string;
    readonly memberName: string;
    readonly status: StepStatus;
  } | null;
  readonly operation: OperationSummary;
}

// Inputs (the contract's input types; fields with server defaults are optional).

export interface ProtectionGroupFilterInput {
  readonly status?: readonly ProtectionGroupStatus[];
  readonly syncStatus?: readonly SyncStatus[];
  readonly name?: string;
  readonly projectId?: string;
  readonly primarySite?: string;
}

export interface OperationFilterInput {
  /** Id or name. */
  readonly protectionGroup?: string;
  readonly type?: readonly OperationType[];
  readonly status?: readonly OperationStatus[];
  readonly since?: DateTime;
}

export interface ServiceCredentialsInput {
  readonly username: string;
  /** Secret: sent once, never returned. */
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName?: string;
  readonly projectDomainName?: string;
}

export interface RegisterSiteInput {
  readonly name: string;
  readonly key: string;
  readonly description?: string;
  readonly url: string;
  readonly authUrl: string;
  readonly serviceCredentials?: ServiceCredentialsInput;
}

export interface CreateProtectionGroupInput {
  readonly name: string;
  readonly description?: string;
  readonly replicationType: ReplicationType;
  readonly primarySite: string;
  readonly secondarySite: string;
  readonly volumeType: string;
  readonly projectId?: string;
}

export interface DeleteProtectionGroupInput {
  readonly protectionGroup: string;
  readonly force?: boolean;
}

export interface AddMemberInput {
  readonly protectionGroup: string;
  readonly server: string;
  /** Recovery order, 1 (first) to 5. @default 3 */
  readonly bootPriority?: number;
}

export interface RemoveMemberInput {
  readonly protectionGroup: string;
  readonly member: string;
}

export interface ReplicationPolicyInput {
  readonly primaryArrayUrl?: string;
  /** Secret: stored encrypted, never returned. */
  readonly primaryArrayToken?: string;
  readonly secondaryArrayUrl?: string;
  /** Secret: stored encrypted, never returned. */
  readonly secondaryArrayToken?: string;
  readonly purePgName?: string;
  readonly replicationIntervalSeconds?: number;
  readonly rpoMinutes?: number;
}

export interface CreateReplicationPolicyInput {
  readonly protectionGroup: string;
  readonly policy: ReplicationPolicyInput;
}

export interface ResourceMappingInput {
  readonly kind: ResourceKind;
  readonly sourceSite: string;
  readonly sourceId: string;
  readonly targetSite: string;
  readonly targetId: string;
}

export interface SetResourceMappingsInput {
  readonly protectionGroup: string;
  readonly mappings: readonly ResourceMappingInput[];
}

export interface SyncProtectionGroupInput {
  readonly protectionGroup: string;
  readonly force?: boolean;
}

export interface FailoverInput {
  readonly protectionGroup: string;
  readonly type: FailoverType;
  /** Point-in-time failover (UNPLANNED only). */
  readonly recoveryPoint?: string;
  readonly resourceMappings?: readonly ResourceMappingInput[];
}

export interface TestFailoverInput {
  readonly protectionGroup: string;
  readonly recoveryPoint?: string;
  readonly resourceMappings?: readonly ResourceMappingInput[];
  readonly testNetworkCidr?: string;
}

export interface TestCleanupInput {
  readonly protectionGroup: string;
  readonly force?: boolean;
}

export interface FailbackInput {
  readonly protectionGroup: string;
  readonly resourceMappings?: readonly ResourceMappingInput[];
  readonly forceSync?: boolean;
}

export interface CancelOperationInput {
  readonly operation: string;
  readonly rollback?: boolean;
}

export interface ResumeOperationInput {
  readonly operation: string;
}
