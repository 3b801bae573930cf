/** The site subgraph template: a site's state, storage and cloud types, and its key-named roots. */
import { renderEnum, SITE_ENUMS } from './enums.js';
import { FEDERATION_LINK, SHARED_TYPES_SDL } from './shared.js';
import { assertSiteKey } from './site-keys.js';
import { SITE_STEPS_SDL } from './site-steps.js';

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
  """
  The Cinder host recovered array volumes are managed into ([cinder] volume_host), checked against the
  cloud's volume services and pools (admin only; null with an error otherwise).
  """
  cinderBackend: CinderBackendState
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

"""The Cinder host ([cinder] volume_host) that manages this site's array volumes, as the site's cloud knows it."""
type CinderBackendState @shareable {
  """The configured host, host@backend#pool."""
  host: String!
  """The cinder-volume service (host@backend) that runs it, when the cloud has one."""
  service: String
  """True when the cloud runs that service, enabled and up, and has the pool."""
  valid: Boolean!
  """What is wrong, and how to fix it."""
  error: ErrorDetail
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
  """
  Seconds between now and the creation of the newest complete recovery point on this site's array, as
  the site's replication monitor last saw it. Null on the group's source site (recovery points land on
  the target) and until the monitor has read the group (a poll or two after the site starts).
  """
  lagSeconds: Int
  """The newest complete recovery point on this site's array, as the replication monitor last saw it; null as for lagSeconds."""
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
}`,
  SITE_STEPS_SDL,
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
