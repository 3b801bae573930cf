import { Kind, parse } from 'graphql';
import { COORDINATOR_ENUMS, renderEnum } from './enums.js';
import { FEDERATION_LINK, SHARED_TYPES_SDL } from './shared.js';

/** Name of the coordinator subgraph in the supergraph (and in the gateway's service list). */
export const COORDINATOR_SUBGRAPH_NAME = 'coordinator';

const COORDINATOR_TYPES_SDL = /* GraphQL */ `
type Query {
  """Registered sites (exactly two in a deployment)."""
  sites: [Site!]!
  site(name: String!): Site
  """Protection Groups the caller may see, by name."""
  protectionGroups(filter: ProtectionGroupFilterInput, first: Int = 50, after: String): ProtectionGroupConnection!
  """One Protection Group by id or by name (names are unique per project). Give exactly one."""
  protectionGroup(id: ID, name: String): ProtectionGroup
  """Operations, newest first."""
  operations(filter: OperationFilterInput, first: Int = 50, after: String): OperationConnection!
  operation(id: ID!): Operation
  """
  Replicated recovery points of a group (id or name), newest first, complete or not. They are read from
  the group's secondary site unless site names another one.
  """
  recoveryPoints(protectionGroup: ID!, site: String): [RecoveryPoint!]!
  """Tenant mappings between the two sites."""
  tenantMappings: [TenantMapping!]!
}

type Mutation {
  """Register a site (admin). Its key becomes a field of the supergraph; the gateway recomposes."""
  registerSite(input: RegisterSiteInput!): Site!
  """Remove a site that holds no Protection Group (admin)."""
  unregisterSite(name: String!): Site!
  """Check a site: service, Keystone, cloud APIs, arrays, replication link."""
  validateSite(name: String!): SiteValidation!
  """Create a group on both sites (both must be reachable: PEER_SITE_UNREACHABLE otherwise)."""
  createProtectionGroup(input: CreateProtectionGroupInput!): ProtectionGroup!
  """Delete a group, its consistency groups and array groups on both sites."""
  deleteProtectionGroup(input: DeleteProtectionGroupInput!): DeletedProtectionGroup!
  """Add a VM; every volume must use a replication-enabled type matching the group (VOLUME_TYPE_NOT_REPLICATED)."""
  addMember(input: AddMemberInput!): ProtectionGroup!
  """
  Add many VMs in one change (one metadata version, one site step per site): all or nothing, each
  checked as addMember checks one. At most 1000 servers per call.
  """
  addMembers(input: AddMembersInput!): ProtectionGroup!
  removeMember(input: RemoveMemberInput!): ProtectionGroup!
  """Create or update the group's replication policy (the product documentation's policy-create)."""
  createReplicationPolicy(input: CreateReplicationPolicyInput!): ProtectionGroup!
  """Replace the group's network, flavor and image mappings."""
  setResourceMappings(input: SetResourceMappingsInput!): ProtectionGroup!
  """Replace the tenant mappings on both sites (admin)."""
  setTenantMappings(input: SetTenantMappingsInput!): [TenantMapping!]!
  """Bring both sites' metadata level (fencing VMs still running on the stale site)."""
  syncProtectionGroup(input: SyncProtectionGroupInput!): Operation!
  """Planned or unplanned (optionally point-in-time) failover to the secondary site."""
  failover(input: FailoverInput!): Operation!
  """DR drill on the secondary site on an isolated network; the primary is untouched."""
  testFailover(input: TestFailoverInput!): Operation!
  """Delete every resource the group's test failover created."""
  testCleanup(input: TestCleanupInput!): Operation!
  """Reprotect (reverse replication), then recover the group on its original site."""
  failback(input: FailbackInput!): Operation!
  """Stop a running operation after its current step; optionally roll back the steps done."""
  cancelOperation(input: CancelOperationInput!): Operation!
  """Resume a FAILED or interrupted operation from its first unfinished step."""
  resumeOperation(input: ResumeOperationInput!): Operation!
}

type Subscription {
  """Events of one operation until it finishes."""
  operationProgress(id: ID!): OperationEvent!
  """Events of every operation of a group (id or name), or of every visible group."""
  operationEvents(protectionGroup: ID): OperationEvent!
  """Health of the sites (or of one site), sent when it changes."""
  siteHealth(site: String): SiteHealthEvent!
}

"""
A Protection Group: VMs replicated together, 1:1:1 with a Cinder consistency group on each site and an
array protection group (async) or pod (sync). Each site subgraph adds a field named by its site key
holding that site's replica.
"""
type ProtectionGroup @key(fields: "id") {
  id: ID!
  name: String!
  description: String
  projectId: ID!
  replicationType: ReplicationType!
  status: ProtectionGroupStatus!
  syncStatus: SyncStatus!
  currentPrimarySite: Site!
  secondarySite: Site!
  metadataVersion: Int!
  lastSyncedAt: DateTime
  """Creation time of the newest complete replicated recovery point."""
  lastReplicationAt: DateTime
  volumeType: String!
  storageGroupName: String
  policy: ReplicationPolicy
  members: [ProtectionGroupMember!]!
  resourceMappings: [ResourceMapping!]!
  """Replication lag, RPO compliance and failover readiness."""
  health: ProtectionGroupHealth!
  """The replica on each registered site, for tooling that does not know the site keys."""
  replicas: [ProtectionGroupReplicaRef!]!
  """Operations of this group, newest first."""
  operations(first: Int = 20, after: String): OperationConnection!
  """The operation acting on the group now, if any."""
  activeOperation: Operation
  createdAt: DateTime!
  updatedAt: DateTime!
}

"""One site's replica of a group, as the coordinator read it."""
type ProtectionGroupReplicaRef {
  site: Site!
  role: ReplicaRole!
  """Whether the site answered."""
  reachable: Boolean!
  """The replica; null when the site is unreachable or holds no copy."""
  replica: ProtectionGroupReplica
  error: ErrorDetail
}

type ProtectionGroupConnection {
  edges: [ProtectionGroupEdge!]!
  nodes: [ProtectionGroup!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

type ProtectionGroupEdge {
  cursor: String!
  node: ProtectionGroup!
}

type DeletedProtectionGroup {
  id: ID!
  name: String!
}

"""Replication health of one group."""
type ProtectionGroupHealth {
  protectionGroup: ProtectionGroup!
  """
  Seconds since the newest recovery point that completed replication to the secondary site was taken
  (as that site's replication monitor recorded it); 0 for a sync group while the link is connected;
  null before the first point.
  """
  replicationLagSeconds: Int
  rpoMinutes: Int
  rpoCompliance: RpoCompliance!
  lastRecoveryPointAt: DateTime
  """When the last DR drill (test failover) of the group succeeded; null when it was never tested."""
  lastTestedAt: DateTime
  """The recovery point that drill recovered: a point known to boot."""
  lastTestedRecoveryPoint: String
  failoverReadiness: FailoverReadiness!
  issues: [HealthIssue!]!
}

"""A registered site."""
type Site @key(fields: "name") {
  name: String!
  """GraphQL-safe key: the name of this site's root fields and ProtectionGroup replica field."""
  key: String!
  description: String
  """GraphQL endpoint of the site service."""
  url: String!
  """Keystone endpoint of the site's cloud."""
  authUrl: String!
  status: SiteStatus!
  role: SiteRole!
  """Version of the site service, when reachable."""
  version: String
  storageDriver: StorageDriverKind
  registeredAt: DateTime!
  health: SiteHealth!
}

"""Health of a site: reachability, replication lag, RPO compliance, failover readiness."""
type SiteHealth {
  reachable: Boolean!
  checkedAt: DateTime
  """Round trip of the last health check."""
  latencyMs: Int
  storageReachable: Boolean
  replicationLinkState: ReplicationLinkState!
  """Worst replication lag over the caller's groups replicating to this site."""
  maxReplicationLagSeconds: Int
  """VIOLATED when any of the caller's groups replicating to this site violates its RPO; UNKNOWN with none known."""
  rpoCompliance: RpoCompliance!
  """Whether the groups for which this site is secondary could fail over to it now."""
  failoverReadiness: FailoverReadiness!
  """The caller's groups for which this site is secondary."""
  protectionGroups: [ProtectionGroupHealth!]!
  """The site's own issues (link, storage, reachability) and the RPO violations of the caller's groups."""
  issues: [HealthIssue!]!
}

type HealthIssue {
  """Stable code, one of schema/docs/health-issues.md: e.g. RPO_VIOLATED, REPLICATION_LINK_DOWN, SITE_UNREACHABLE, NEVER_TESTED."""
  code: String!
  severity: IssueSeverity!
  message: String!
  protectionGroup: ProtectionGroup
}

type SiteValidation {
  site: Site!
  """True when no check FAILED."""
  valid: Boolean!
  checkedAt: DateTime!
  checks: [SiteValidationCheck!]!
}

type SiteValidationCheck {
  """What was checked, e.g. service, keystone, nova, cinder, neutron, storage.local_array, storage.replication_link."""
  name: String!
  status: CheckStatus!
  message: String!
  durationMs: Int
}

"""
A cross-site operation: a durable journal of idempotent steps. Long mutations return it at once;
progress comes by operationProgress / operationEvents.
"""
type Operation @key(fields: "id") {
  id: ID!
  type: OperationType!
  status: OperationStatus!
  protectionGroup: ProtectionGroup!
  sourceSite: Site
  targetSite: Site
  """The recovery point used (failover, test failover), once chosen."""
  recoveryPoint: RecoveryPoint
  """0 to 100."""
  percentComplete: Int!
  currentStep: OperationStep
  steps: [OperationStep!]!
  stepsCompleted: Int!
  stepsFailed: Int!
  stepsTotal: Int!
  """Per-member results (failover, test failover, failback)."""
  members: [MemberOperationResult!]!
  """Why the operation failed, naming the failing step."""
  error: ErrorDetail
  """User who started it."""
  requestedBy: String
  createdAt: DateTime!
  startedAt: DateTime
  finishedAt: DateTime
}

"""One step of an operation's journal."""
type OperationStep {
  """Step key, unique within the operation (the idempotency key sent to the site)."""
  key: String!
  """What the step does, e.g. stopServers, replicateNow, materializeRecoveryPoint, swapRoles."""
  name: String!
  """Site it acts on; null for coordinator-only steps."""
  site: Site
  status: StepStatus!
  attempt: Int!
  startedAt: DateTime
  finishedAt: DateTime
  error: ErrorDetail
}

"""Outcome of an operation for one member."""
type MemberOperationResult {
  memberId: ID!
  memberName: String!
  status: StepStatus!
  """Site where the member was recovered or acted on."""
  site: Site
  serverId: ID
  error: ErrorDetail
}

type OperationConnection {
  edges: [OperationEdge!]!
  nodes: [Operation!]!
  pageInfo: PageInfo!
  totalCount: Int!
}

type OperationEdge {
  cursor: String!
  node: Operation!
}

"""An event of an operation; select any field of operation to have it refetched with the event."""
type OperationEvent {
  """Increases by one per event of the operation (gaps mean missed events: refetch the operation)."""
  sequence: Int!
  kind: OperationEventKind!
  occurredAt: DateTime!
  operation: Operation!
  status: OperationStatus!
  percentComplete: Int!
  """The step concerned (STEP_STARTED, STEP_FINISHED)."""
  step: OperationStep
  """The member concerned (MEMBER_UPDATED)."""
  member: MemberOperationResult
  message: String
}

type SiteHealthEvent {
  occurredAt: DateTime!
  site: Site!
  status: SiteStatus!
  previousStatus: SiteStatus
  health: SiteHealth!
}

input ProtectionGroupFilterInput {
  status: [ProtectionGroupStatus!]
  syncStatus: [SyncStatus!]
  """Exact name."""
  name: String
  projectId: ID
  """Site name of the current primary."""
  primarySite: String
}

input OperationFilterInput {
  """Id or name."""
  protectionGroup: ID
  type: [OperationType!]
  status: [OperationStatus!]
  since: DateTime
}

"""Credentials the coordinator uses for background work on a site (health checks, resuming operations)."""
input ServiceCredentialsInput {
  username: String!
  """Secret: stored encrypted, never returned."""
  password: String!
  projectName: String!
  userDomainName: String! = "Default"
  projectDomainName: String! = "Default"
}

input RegisterSiteInput {
  name: String!
  """GraphQL-safe key: ^[a-z][a-z0-9_]{0,30}$, not a coordinator field name."""
  key: String!
  description: String
  """GraphQL endpoint of the site service, e.g. https://protector.boston.example.com:8788/graphql."""
  url: String!
  """Keystone endpoint, e.g. https://keystone.boston.example.com:5000/v3."""
  authUrl: String!
  serviceCredentials: ServiceCredentialsInput
}

input CreateProtectionGroupInput {
  name: String!
  description: String
  replicationType: ReplicationType!
  """Site name."""
  primarySite: String!
  """Site name."""
  secondarySite: String!
  """Cinder volume type (replication-enabled, matching replicationType) on both sites."""
  volumeType: String!
  """Default: the caller's project."""
  projectId: ID
}

input DeleteProtectionGroupInput {
  """Id or name."""
  protectionGroup: ID!
  """Delete members' protection too (default: refuse while the group has members)."""
  force: Boolean! = false
}

input AddMemberInput {
  """Id or name."""
  protectionGroup: ID!
  """Nova server id or name on the primary site."""
  server: ID!
  """Recovery order, 1 (first) to 5; VMs of one priority come up together. Default 3."""
  bootPriority: Int = 3
}

input AddMembersInput {
  """Id or name."""
  protectionGroup: ID!
  """Nova server ids or names on the primary site, each at most once."""
  servers: [ID!]!
  """Recovery order of all of them, 1 (first) to 5. Default 3."""
  bootPriority: Int = 3
}

input RemoveMemberInput {
  """Id or name."""
  protectionGroup: ID!
  """Member id, or the server's id or name."""
  member: ID!
}

input CreateReplicationPolicyInput {
  """Id or name."""
  protectionGroup: ID!
  policy: ReplicationPolicyInput!
}

input SetResourceMappingsInput {
  """Id or name."""
  protectionGroup: ID!
  mappings: [ResourceMappingInput!]!
}

input SetTenantMappingsInput {
  mappings: [TenantMappingInput!]!
}

input SyncProtectionGroupInput {
  """Id or name."""
  protectionGroup: ID!
  """Sync even when the versions are equal (rewrite both copies from the primary's)."""
  force: Boolean! = false
}

input FailoverInput {
  """Id or name."""
  protectionGroup: ID!
  type: FailoverType!
  """Recovery point name for a point-in-time failover (UNPLANNED only); default: the newest complete one."""
  recoveryPoint: String
  """Mappings for this operation only; default: the group's."""
  resourceMappings: [ResourceMappingInput!]
}

input TestFailoverInput {
  """Id or name."""
  protectionGroup: ID!
  """Default: the newest complete recovery point."""
  recoveryPoint: String
  """Mappings for this drill only; networks are replaced by the isolated test network unless mapped here."""
  resourceMappings: [ResourceMappingInput!]
  """
  CIDR of the isolated test network, with room for every member (a /24 holds 252). Default:
  192.168.250.0/24, or the smallest network around it that holds the group (a /22 for 1000 members).
  """
  testNetworkCidr: String
}

input TestCleanupInput {
  """Id or name."""
  protectionGroup: ID!
  """Clean up even if the group is not in TEST_FAILED_OVER (force cleanup after a failed drill)."""
  force: Boolean! = false
}

input FailbackInput {
  """Id or name."""
  protectionGroup: ID!
  """Mappings for this operation; default: the reverse of the group's."""
  resourceMappings: [ResourceMappingInput!]
  """Run a metadata sync first when the sites are out of sync (default: refuse)."""
  forceSync: Boolean! = false
}

input CancelOperationInput {
  operation: ID!
  """Undo the steps already done (status ROLLING_BACK, then ROLLED_BACK)."""
  rollback: Boolean! = false
}

input ResumeOperationInput {
  operation: ID!
}`;

/**
 * The SDL of the coordinator subgraph (served in-process by the gateway): the site-independent API,
 * every cross-site mutation and the subscriptions. Owns the `ProtectionGroup`, `Site` and `Operation` entities.
 */
export const coordinatorSubgraphSdl: string =
  [
    FEDERATION_LINK,
    COORDINATOR_TYPES_SDL.trim(),
    SHARED_TYPES_SDL,
    ...COORDINATOR_ENUMS.map(renderEnum),
  ].join('\n\n') + '\n';

const fieldNamesOf = (sdl: string, typeNames: readonly string[]): string[] =>
  parse(sdl).definitions.flatMap((def) =>
    (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) &&
    typeNames.includes(def.name.value)
      ? (def.fields ?? []).map((field) => field.name.value)
      : [],
  );

/**
 * Names a site key may not take: the coordinator's root fields and `ProtectionGroup` fields (a site key
 * becomes a root field and a `ProtectionGroup` field), and the coordinator's subgraph name.
 */
export const RESERVED_SITE_KEYS: ReadonlySet<string> = new Set([
  COORDINATOR_SUBGRAPH_NAME,
  ...fieldNamesOf(coordinatorSubgraphSdl, ['Query', 'Mutation', 'Subscription', 'ProtectionGroup']),
]);
