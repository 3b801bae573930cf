import { type DocumentNode, Kind, parse, visit } from 'graphql';
import { ProtectorError } from '../errors.js';
import { RESERVED_SITE_KEYS } from './coordinator.js';
import { renderEnum, SITE_ENUMS } from './enums.js';
import { FEDERATION_LINK, SHARED_TYPES_SDL } from './shared.js';

/**
 * Value types of a site subgraph that do not depend on the site key: the same text in every site
 * subgraph, hence `@shareable`. Step mutations and their types are `@inaccessible`: the coordinator
 * calls them on the site directly (service role), and the public supergraph API does not show them.
 */
const SITE_TYPES_SDL: string = [
  ...SITE_ENUMS.map(renderEnum),
  /* GraphQL */ `
"""What one site service knows: itself, its storage, its replicas, its cloud resources, its step audit."""
type SiteState @shareable {
  """The GraphQL-safe site key (the root field and replica field name)."""
  key: String!
  """Site name as registered with the coordinator."""
  name: String!
  """Version of the site service."""
  version: String!
  status: SiteStatus!
  """This site's role across the Protection Groups it holds."""
  role: SiteRole!
  primaryProtectionGroupCount: Int!
  secondaryProtectionGroupCount: Int!
  """Keystone endpoint of this site's cloud."""
  authUrl: String!
  startedAt: DateTime!
  """Storage backend state (admin only; null with an error otherwise)."""
  storage: StorageState
  """Protection Group replicas held here that the caller may see, by name."""
  protectionGroupReplicas(
    filter: ProtectionGroupReplicaFilterInput
    first: Int = 50
    after: String
  ): ProtectionGroupReplicaConnection!
  protectionGroupReplica(id: ID!): ProtectionGroupReplica
  """Cinder volume types and whether they can be protected."""
  volumeTypes: [VolumeType!]!
  """Nova servers of the caller's project (or of projectId, for admins)."""
  servers(filter: ServerFilterInput): [Server!]!
  server(id: ID!): Server
  networks: [Network!]!
  flavors: [Flavor!]!
  images: [Image!]!
  """Replicated recovery points of a group on this site's array, newest first, complete or not."""
  recoveryPoints(protectionGroupId: ID!): [RecoveryPoint!]!
  """Steps the coordinator executed on this site, newest first."""
  stepExecutions(filter: SiteStepExecutionFilterInput, first: Int = 100): [SiteStepExecution!]!
  tenantMappings: [TenantMapping!]!
}

"""Storage backend state of a site."""
type StorageState @shareable {
  driver: StorageDriverKind!
  arrays: [StorageArray!]!
  replicationLink: ReplicationLink!
  replicationGroups: [ReplicationGroupState!]!
}

"""An array the site's driver talks to."""
type StorageArray @shareable {
  name: String!
  role: StorageArrayRole!
  """Management URL; null on the mock driver."""
  url: String
  reachable: Boolean!
  """REST API version reported by the array."""
  apiVersion: String
  """Why the array is unreachable or refused the token."""
  error: ErrorDetail
}

"""The replication connection between the local and peer arrays."""
type ReplicationLink @shareable {
  state: ReplicationLinkState!
  localArray: String
  remoteArray: String
  """Connection type as the array reports it, e.g. async-replication or sync-replication."""
  type: String
  checkedAt: DateTime!
}

"""Replication state of one array group (protection group or pod) on this site."""
type ReplicationGroupState @shareable {
  name: String!
  kind: StorageGroupKind!
  """The Protection Group it replicates, when it belongs to one."""
  protectionGroup: ProtectionGroup
  """Seconds between now and the creation of the newest complete recovery point."""
  lagSeconds: Int
  lastRecoveryPoint: RecoveryPoint
  rpoMinutes: Int
  rpoCompliance: RpoCompliance!
  replicationIntervalSeconds: Int
}

"""A page of Protection Group replicas."""
type ProtectionGroupReplicaConnection @shareable {
  edges: [ProtectionGroupReplicaEdge!]!
  nodes: [ProtectionGroupReplica!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

type ProtectionGroupReplicaEdge @shareable {
  cursor: String!
  node: ProtectionGroupReplica!
}

"""A Cinder volume type."""
type VolumeType @shareable {
  id: ID!
  name: String!
  description: String
  """Extra spec replication_enabled='<is> True'."""
  replicationEnabled: Boolean!
  """Extra spec replication_type ('<in> async' or '<in> sync'); null when not set."""
  replicationType: ReplicationType
  isPublic: Boolean!
}

"""A Nova server."""
type Server @shareable {
  id: ID!
  name: String!
  """Nova status as reported, e.g. ACTIVE, SHUTOFF, BUILD, ERROR."""
  status: String!
  projectId: ID!
  flavor: Flavor
  image: Image
  volumes: [Volume!]!
  networks: [ServerNetwork!]!
  """The Protection Group this server is a member of, if any."""
  protectionGroup: ProtectionGroup
  createdAt: DateTime
}

"""A Cinder volume."""
type Volume @shareable {
  id: ID!
  name: String!
  sizeGb: Int!
  """Cinder status, e.g. in-use, available."""
  status: String!
  volumeType: String
  bootable: Boolean!
  """Device name when attached, e.g. /dev/vda."""
  deviceName: String
  """Whether its volume type can be protected (replication enabled)."""
  replicationEnabled: Boolean!
}

"""A server's attachment to a network."""
type ServerNetwork @shareable {
  networkId: ID!
  networkName: String
  addresses: [String!]!
}

"""A Neutron network."""
type Network @shareable {
  id: ID!
  name: String!
  status: String!
  projectId: ID
  shared: Boolean!
  external: Boolean!
  subnets: [Subnet!]!
  """Whether it is an isolated test network created for a drill."""
  testNetwork: Boolean!
}

type Subnet @shareable {
  id: ID!
  name: String!
  cidr: String!
}

"""A Nova flavor."""
type Flavor @shareable {
  id: ID!
  name: String!
  vcpus: Int!
  ramMb: Int!
  diskGb: Int!
}

"""A Glance image."""
type Image @shareable {
  id: ID!
  name: String!
  status: String!
  minDiskGb: Int
}

"""A step the coordinator executed on this site (the site-side audit of the operation journal)."""
type SiteStepExecution @shareable {
  operationId: ID!
  """The coordinator's operation, when the step belongs to one."""
  operation: Operation
  stepKey: String!
  """Step (mutation) name, e.g. materializeRecoveryPoint."""
  step: String!
  protectionGroup: ProtectionGroup
  status: StepStatus!
  attempt: Int!
  startedAt: DateTime!
  finishedAt: DateTime
  error: ErrorDetail
}

"""A site-local event."""
type SiteEvent @shareable {
  id: ID!
  kind: SiteEventKind!
  occurredAt: DateTime!
  site: Site!
  protectionGroup: ProtectionGroup
  """Array group concerned, for replication and RPO events."""
  storageGroupName: String
  """The recovery point that completed (REPLICATION_COMPLETED) or the newest complete one (RPO events)."""
  recoveryPoint: RecoveryPoint
  lagSeconds: Int
  rpoMinutes: Int
  """New link state (LINK_STATE_CHANGED)."""
  linkState: ReplicationLinkState
  previousLinkState: ReplicationLinkState
  message: String!
}

input ProtectionGroupReplicaFilterInput {
  status: [ProtectionGroupStatus!]
  """Exact name."""
  name: String
  projectId: ID
  role: ReplicaRole
}

input ServerFilterInput {
  """Admins only: another project's servers."""
  projectId: ID
  """Substring of the server name."""
  name: String
  """Nova status, e.g. ACTIVE."""
  status: String
  ids: [ID!]
}

input SiteStepExecutionFilterInput {
  operationId: ID
  protectionGroupId: ID
  status: [StepStatus!]
}

input SiteEventFilterInput {
  kinds: [SiteEventKind!]
  protectionGroupId: ID
}

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
  """Record a member; where this site is primary, also add its volumes to the consistency and array groups."""
  addMember(step: SiteStepInput!, input: SiteAddMemberInput!): ProtectionGroupReplicaPayload!
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
  members: [ProtectionGroupMemberInput!]!
  """Policy settings; tokens in it are ignored (set them with setReplicationPolicy)."""
  policy: ReplicationPolicyInput
  resourceMappings: [ResourceMappingInput!]!
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

input SiteAddMemberInput @inaccessible {
  protectionGroupId: ID!
  expectedVersion: Int!
  member: ProtectionGroupMemberInput!
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
  """The test failover whose resources to delete; default: every drill resource of the group."""
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
}`,
].join('\n\n');

/**
 * The part of a site subgraph that carries the site key: the namespaced roots and the replica field.
 * Only this text differs between two site subgraphs, which is what lets the planner tell them apart.
 */
const siteRootsSdl = (key: string): string => /* GraphQL */ `
type Query {
  """State of site ${key}, served by that site's own service."""
  ${key}: SiteState!
}

type Mutation {
  """Site-local steps of site ${key} (coordinator service role only; hidden from the supergraph API)."""
  ${key}: SiteMutations! @inaccessible
}

type Subscription {
  """Events of site ${key}: replication completed, RPO violated or restored, link state changed."""
  ${key}(filter: SiteEventFilterInput): SiteEvent!
}

# Entities owned by the coordinator: the site adds its replica field to ProtectionGroup and references
# Site and Operation by key only. No descriptions here: the coordinator's describe them.
type ProtectionGroup @key(fields: "id") {
  id: ID!
  """The group's replica on site ${key}; null when that site holds no copy."""
  ${key}: ProtectionGroupReplica
}

type Site @key(fields: "name", resolvable: false) {
  name: String!
}

type Operation @key(fields: "id", resolvable: false) {
  id: ID!
}`;

/** Site keys: GraphQL-safe, lowercase, short; they become field names in the supergraph. */
export const SITE_KEY_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

/** Guard: is `value` a usable site key (well-formed and not reserved)? */
export const isSiteKey = (value: unknown): value is string =>
  typeof value === 'string' && SITE_KEY_PATTERN.test(value) && !RESERVED_SITE_KEYS.has(value);

/**
 * Checks a site key and says what is wrong with it.
 * @throws ProtectorError BAD_USER_INPUT (`details.siteKey`) when the key is malformed or reserved.
 */
export function assertSiteKey(siteKey: unknown): asserts siteKey is string {
  if (typeof siteKey !== 'string' || !SITE_KEY_PATTERN.test(siteKey)) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Site key ${JSON.stringify(siteKey)} is not valid: use 1-31 characters, lowercase letters, digits and "_", starting with a letter (e.g. "boston")`,
      { siteKey },
    );
  }
  if (RESERVED_SITE_KEYS.has(siteKey)) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Site key "${siteKey}" is reserved: it is the coordinator subgraph's name or a field of its Query, Mutation, Subscription or ProtectionGroup type; choose another key (e.g. "${siteKey}_site")`,
      { siteKey },
    );
  }
}

/**
 * The SDL one site service serves, generated from the template with its key (e.g. `boston`).
 * Site subgraphs differ only by the key, so the gateway can compose the supergraph without
 * introspecting a site that may be down.
 * @throws ProtectorError BAD_USER_INPUT when the key is malformed or reserved (see {@link assertSiteKey}).
 */
export function siteSubgraphSdl(siteKey: string): string {
  assertSiteKey(siteKey);
  return (
    [FEDERATION_LINK, siteRootsSdl(siteKey).trim(), SHARED_TYPES_SDL, SITE_TYPES_SDL].join('\n\n') + '\n'
  );
}

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
  'addMember',
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
    parse(siteSubgraphSdl('any_site')).definitions.flatMap((def) =>
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

/**
 * The root field that documents written against the site subgraph template use for "this site":
 * `query { here { ... } }`. {@link documentForSite} points it at a real site's key.
 */
export const SITE_TEMPLATE_FIELD = 'here';

/**
 * A document written against the template's root field `here`, pointed at the site `siteKey`. With
 * `keepResponseKey` the field is aliased (`here: boston`), so the answer still comes back under
 * `here`; without it, under the key.
 * @throws ProtectorError BAD_USER_INPUT when the key is malformed or reserved.
 */
export function documentForSite(
  document: DocumentNode,
  siteKey: string,
  opts: { keepResponseKey: boolean },
): DocumentNode {
  assertSiteKey(siteKey);
  return visit(document, {
    OperationDefinition: (op) => ({
      ...op,
      selectionSet: {
        ...op.selectionSet,
        selections: op.selectionSet.selections.map((sel) =>
          sel.kind === Kind.FIELD && sel.name.value === SITE_TEMPLATE_FIELD
            ? {
                ...sel,
                ...(opts.keepResponseKey ? { alias: { kind: Kind.NAME, value: SITE_TEMPLATE_FIELD } } : {}),
                name: { kind: Kind.NAME, value: siteKey },
              }
            : sel,
        ),
      },
    }),
  });
}
