/**
 * The site steps: the `SiteMutations` the coordinator runs on a site (service role, hidden from the
 * public API), their inputs and payloads, and the typed list of their names.
 */
import { Kind, parse } from 'graphql';

/** SDL of the site steps (part of every site subgraph; see site.ts). */
export const SITE_STEPS_SDL: string = /* GraphQL */ `
"""
Site-local steps for the coordinator (service role only). Each takes step (operationId + stepKey): a
repeated key returns the recorded result without acting again. Metadata changes are compare-and-set
on metadataVersion (VERSION_CONFLICT when the stored version differs). Failures are GraphQL errors
with codes from the registry; per-member outcomes are in the payloads.
"""
type SiteMutations @shareable @inaccessible {
  """Create or overwrite this site's copy of a group's metadata (create and sync). Keeps stored tokens."""
  applyProtectionGroupMetadata(
    step: SiteStepInput!
    input: ApplyProtectionGroupMetadataInput!
  ): ProtectionGroupReplicaPayload!
  """Delete this site's copy of a group's metadata (after its storage objects are gone)."""
  deleteProtectionGroupReplica(step: SiteStepInput!, input: ProtectionGroupVersionInput!): SiteStepPayload!
  """Create the group's Cinder consistency group here if missing."""
  ensureConsistencyGroup(step: SiteStepInput!, input: EnsureConsistencyGroupInput!): ConsistencyGroupPayload!
  deleteConsistencyGroup(step: SiteStepInput!, input: ProtectionGroupRefInput!): SiteStepPayload!
  """Create the array protection group (async, with schedule and target) or pod (sync) if missing."""
  ensureStorageGroup(step: SiteStepInput!, input: EnsureStorageGroupInput!): StorageGroupPayload!
  deleteStorageGroup(step: SiteStepInput!, input: ProtectionGroupRefInput!): SiteStepPayload!
  """
  Record new members; where this site is primary, also add their volumes to the consistency and array
  groups. All or nothing: one bad server fails the step before anything changes.
  """
  addMembers(step: SiteStepInput!, input: SiteAddMembersInput!): ProtectionGroupReplicaPayload!
  """Remove a member; where this site is primary, also take its volumes out of the groups."""
  removeMember(step: SiteStepInput!, input: SiteRemoveMemberInput!): ProtectionGroupReplicaPayload!
  """Stop the group's servers here (graceful, then forced after the timeout)."""
  stopServers(step: SiteStepInput!, input: ServerActionInput!): ServerActionPayload!
  startServers(step: SiteStepInput!, input: ServerActionInput!): ServerActionPayload!
  """Stop the servers and lock them so that a workload never runs on both sites."""
  fenceServers(step: SiteStepInput!, input: ServerActionInput!): ServerActionPayload!
  """Take a snapshot and replicate it now; with wait, return once the transfer completed."""
  replicateNow(step: SiteStepInput!, input: ReplicateNowInput!): ReplicateNowPayload!
  """Promote the group's pod here (sync groups)."""
  promoteStorageGroup(step: SiteStepInput!, input: ProtectionGroupRefInput!): StorageGroupPayload!
  """Demote the group's pod here (sync groups)."""
  demoteStorageGroup(step: SiteStepInput!, input: ProtectionGroupRefInput!): StorageGroupPayload!
  """Copy a recovery point into volumes, manage them into Cinder and boot the members (one result per member)."""
  materializeRecoveryPoint(
    step: SiteStepInput!
    input: MaterializeRecoveryPointInput!
  ): MaterializeRecoveryPointPayload!
  """Create an isolated network (no router, no external access) for a drill."""
  createTestNetwork(step: SiteStepInput!, input: CreateTestNetworkInput!): TestNetworkPayload!
  deleteTestNetwork(step: SiteStepInput!, input: DeleteTestNetworkInput!): SiteStepPayload!
  """Delete every server, volume, array volume and network a test failover of the group created here."""
  cleanupTestFailover(step: SiteStepInput!, input: CleanupTestFailoverInput!): CleanupTestFailoverPayload!
  """Make this site the replication source of the group (reprotect before failback)."""
  reverseReplication(step: SiteStepInput!, input: ProtectionGroupRefInput!): StorageGroupPayload!
  setReplicationPolicy(step: SiteStepInput!, input: SiteSetReplicationPolicyInput!): ProtectionGroupReplicaPayload!
  setResourceMappings(step: SiteStepInput!, input: SiteSetResourceMappingsInput!): ProtectionGroupReplicaPayload!
  """Replace this site's tenant mappings."""
  setTenantMappings(step: SiteStepInput!, input: SiteSetTenantMappingsInput!): TenantMappingsPayload!
}

"""Idempotency key of a site step."""
input SiteStepInput @inaccessible {
  """Operation (journal) id, or the coordinator's request id for a metadata change."""
  operationId: ID!
  """Unique within the operation."""
  stepKey: String!
  """Attempt number, recorded in the audit."""
  attempt: Int! = 1
}

"""What every step returns: the audit record of its execution here."""
type SiteStepReceipt @shareable @inaccessible {
  operationId: ID!
  stepKey: String!
  """True when the key had already been executed and the recorded result was returned."""
  replayed: Boolean!
  startedAt: DateTime!
  finishedAt: DateTime!
}

type SiteStepPayload @shareable @inaccessible {
  step: SiteStepReceipt!
}

type ProtectionGroupReplicaPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  """The replica after the change."""
  replica: ProtectionGroupReplica!
}

type ConsistencyGroupPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  consistencyGroupId: ID!
}

type StorageGroupPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  name: String!
  kind: StorageGroupKind!
  """Whether this site's array is now the replication source of the group."""
  source: Boolean!
}

type ServerActionPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  servers: [ServerActionResult!]!
}

type ServerActionResult @shareable @inaccessible {
  serverId: ID!
  name: String
  status: StepStatus!
  """Nova status after the action."""
  serverStatus: String
  error: ErrorDetail
}

type ReplicateNowPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  recoveryPoint: RecoveryPoint!
}

type MaterializeRecoveryPointPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  """The point the members were recovered from."""
  recoveryPoint: RecoveryPoint!
  members: [MemberRecoveryResult!]!
}

"""Outcome of recovering one member."""
type MemberRecoveryResult @shareable @inaccessible {
  memberId: ID!
  memberName: String!
  status: StepStatus!
  serverId: ID
  volumes: [VolumePlacement!]!
  error: ErrorDetail
}

type TestNetworkPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  network: Network!
}

type CleanupTestFailoverPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  deletedServerIds: [ID!]!
  deletedVolumeIds: [ID!]!
  deletedNetworkIds: [ID!]!
  """Array volumes destroyed."""
  destroyedStorageVolumes: [String!]!
  """Resources that could not be deleted (the step still succeeds; run it again to retry)."""
  errors: [ErrorDetail!]!
}

type TenantMappingsPayload @shareable @inaccessible {
  step: SiteStepReceipt!
  tenantMappings: [TenantMapping!]!
}

input ProtectionGroupRefInput @inaccessible {
  protectionGroupId: ID!
}

input ProtectionGroupVersionInput @inaccessible {
  protectionGroupId: ID!
  expectedVersion: Int!
}

input ApplyProtectionGroupMetadataInput @inaccessible {
  """Version stored here now; 0 when this site has no copy yet."""
  expectedVersion: Int!
  """The full metadata; its metadataVersion (greater than expectedVersion) is stored."""
  metadata: ProtectionGroupMetadataInput!
}

"""A Protection Group's metadata as the coordinator writes it to a site (no secrets, no site-local ids)."""
input ProtectionGroupMetadataInput @inaccessible {
  id: ID!
  name: String!
  description: String
  projectId: ID!
  replicationType: ReplicationType!
  status: ProtectionGroupStatus!
  """Site names."""
  currentPrimarySite: String!
  secondarySite: String!
  metadataVersion: Int!
  syncStatus: SyncStatus!
  lastSyncedAt: DateTime
  lastReplicationAt: DateTime
  storageGroupName: String
  volumeType: String!
  """The whole member list; omitted or null: the stored members stay as they are (a status change)."""
  members: [ProtectionGroupMemberInput!]
  """Policy settings; tokens in it are ignored (set them with setReplicationPolicy). Null: kept."""
  policy: ReplicationPolicyInput
  """The whole list of the group's mappings; omitted or null: kept as they are."""
  resourceMappings: [ResourceMappingInput!]
}

input ProtectionGroupMemberInput @inaccessible {
  id: ID!
  name: String!
  status: MemberStatus!
  """Recovery order (1 first); default 3."""
  bootPriority: Int
  volumes: [MemberVolumeInput!]!
  placements: [MemberPlacementInput!]!
}

input MemberVolumeInput @inaccessible {
  id: ID!
  name: String!
  sizeGb: Int!
  volumeType: String!
  bootable: Boolean!
  bootIndex: Int
  deviceName: String
  storageVolumeName: String
}

input MemberPlacementInput @inaccessible {
  """Site name."""
  site: String!
  serverId: ID
  flavorId: ID
  networkIds: [ID!]!
  volumes: [VolumePlacementInput!]!
}

input VolumePlacementInput @inaccessible {
  memberVolumeId: ID!
  volumeId: ID!
}

input EnsureConsistencyGroupInput @inaccessible {
  protectionGroupId: ID!
  """Cinder group name; defaults to the Protection Group name."""
  name: String
  volumeType: String!
}

input EnsureStorageGroupInput @inaccessible {
  protectionGroupId: ID!
  name: String!
  replicationType: ReplicationType!
  """Whether this site's array is the replication source (async target is the peer array)."""
  source: Boolean!
  replicationIntervalSeconds: Int
  """Snapshots to keep on the target."""
  retention: Int
}

input SiteAddMembersInput @inaccessible {
  protectionGroupId: ID!
  expectedVersion: Int!
  members: [ProtectionGroupMemberInput!]!
}

input SiteRemoveMemberInput @inaccessible {
  protectionGroupId: ID!
  expectedVersion: Int!
  memberId: ID!
}

input ServerActionInput @inaccessible {
  protectionGroupId: ID!
  """Servers to act on; default: every member's server on this site."""
  serverIds: [ID!]
  """Seconds to wait for a graceful stop before forcing it."""
  timeoutSeconds: Int = 300
}

input ReplicateNowInput @inaccessible {
  protectionGroupId: ID!
  """Wait for the transfer to complete before returning."""
  wait: Boolean! = true
  timeoutSeconds: Int = 3600
}

input MaterializeRecoveryPointInput @inaccessible {
  protectionGroupId: ID!
  """Recovery point name; default: the newest complete one."""
  recoveryPoint: String
  """Mappings to apply (the group's own, or those given with the operation)."""
  resourceMappings: [ResourceMappingInput!]!
  """A drill: create test copies on testNetworkId, tagged for cleanupTestFailover; replication is untouched."""
  test: Boolean! = false
  testNetworkId: ID
  """Members to recover; default: all."""
  memberIds: [ID!]
  """Boot servers from the volumes (false: only create and manage the volumes)."""
  bootServers: Boolean! = true
}

input CreateTestNetworkInput @inaccessible {
  protectionGroupId: ID!
  name: String!
  cidr: String! = "192.168.250.0/24"
}

input DeleteTestNetworkInput @inaccessible {
  protectionGroupId: ID!
  networkId: ID!
}

input CleanupTestFailoverInput @inaccessible {
  protectionGroupId: ID!
  """
  The drill whose array copies that never reached Cinder (cut between copy and manage) to look for;
  every drill server, volume and network of the group is deleted either way.
  """
  testOperationId: ID
}

input SiteSetReplicationPolicyInput @inaccessible {
  protectionGroupId: ID!
  expectedVersion: Int!
  policy: ReplicationPolicyInput!
}

input SiteSetResourceMappingsInput @inaccessible {
  protectionGroupId: ID!
  expectedVersion: Int!
  """Replaces the group's mappings."""
  mappings: [ResourceMappingInput!]!
}

input SiteSetTenantMappingsInput @inaccessible {
  mappings: [TenantMappingInput!]!
}`;

/**
 * Every site step (a field of `SiteMutations`, run by the gateway with the service role). The SDL
 * is the source of truth; this list gives the names a type, so a caller naming a step that does not
 * exist does not compile, and a test checks it against the SDL both ways.
 */
export const SITE_STEP_NAMES = [
  'applyProtectionGroupMetadata',
  'deleteProtectionGroupReplica',
  'ensureConsistencyGroup',
  'deleteConsistencyGroup',
  'ensureStorageGroup',
  'deleteStorageGroup',
  'addMembers',
  'removeMember',
  'stopServers',
  'startServers',
  'fenceServers',
  'replicateNow',
  'promoteStorageGroup',
  'demoteStorageGroup',
  'materializeRecoveryPoint',
  'createTestNetwork',
  'deleteTestNetwork',
  'cleanupTestFailover',
  'reverseReplication',
  'setReplicationPolicy',
  'setResourceMappings',
  'setTenantMappings',
] as const;
export type SiteStepName = (typeof SITE_STEP_NAMES)[number];

/** The `input` argument type of each field of `SiteMutations` in the template, by field name. */
export const siteStepInputTypesInSdl = (): Record<string, string> =>
  Object.fromEntries(
    parse(SITE_STEPS_SDL).definitions.flatMap((def) =>
      def.kind === Kind.OBJECT_TYPE_DEFINITION && def.name.value === 'SiteMutations'
        ? (def.fields ?? []).map((f) => {
            const input = f.arguments?.find((a) => a.name.value === 'input');
            let type = input?.type;
            while (type && type.kind !== Kind.NAMED_TYPE) type = type.type;
            return [f.name.value, type?.name.value ?? ''];
          })
        : [],
    ),
  );
