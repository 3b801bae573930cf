import { renderEnum, SHARED_ENUMS } from './enums.js';

/**
 * The federation spec every Protector subgraph links. One version for all subgraphs keeps
 * composition hints quiet; 2.7 is the newest version the gateway's planner has long supported.
 */
export const FEDERATION_LINK = /* GraphQL */ `extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@inaccessible"])`;

/**
 * Types served identically by the coordinator and by every site. Federation accepts a value type in
 * several subgraphs only when each copy is `@shareable` and the copies agree, so they are written once,
 * here, and included in every subgraph. `Site` and `ProtectionGroup` are entities of the coordinator;
 * the site template adds its own stubs / fields for them.
 */
export const SHARED_TYPES_SDL: string = [
  /* GraphQL */ `"""An instant as an RFC 3339 / ISO-8601 date-time string in UTC, e.g. 2025-01-31T12:00:00.000Z."""
scalar DateTime @specifiedBy(url: "https://scalars.graphql.org/andimarek/date-time")`,
  ...SHARED_ENUMS.map(renderEnum),
  /* GraphQL */ `
"""Cursor paging state of a connection (pass endCursor as after to get the next page)."""
type PageInfo @shareable {
  hasNextPage: Boolean!
  endCursor: String
}

"""A failure as recorded in a result: code from the error registry (docs/errors.md) and message."""
type ErrorDetail @shareable {
  code: String!
  message: String!
  """Whether retrying later may succeed without any change."""
  retryable: Boolean!
}

"""A replicated snapshot of a Protection Group's volumes on the target array, complete or still transferring."""
type RecoveryPoint @shareable {
  """Snapshot name on the target array, e.g. array-a:pg-prod-web-app.4711 (the name to pass back)."""
  name: String!
  """When the source array took the snapshot: the data is as of this instant."""
  createdAt: DateTime!
  """When the transfer to the target array finished; null while transferring."""
  completedAt: DateTime
  """Transfer progress, 0.0 to 1.0."""
  progress: Float!
  """Whether the transfer finished, so the point can be used for recovery."""
  complete: Boolean!
}

"""Replication policy of a Protection Group. Array API tokens are write-only: only whether one is set is shown."""
type ReplicationPolicy @shareable {
  primaryArrayUrl: String
  secondaryArrayUrl: String
  """Whether an API token is stored for the primary array (the token itself is never returned)."""
  primaryArrayTokenSet: Boolean!
  """Whether an API token is stored for the secondary array (the token itself is never returned)."""
  secondaryArrayTokenSet: Boolean!
  """FlashArray protection group (async) or pod (sync) name: the product documentation's pure_pg_name."""
  purePgName: String!
  """Seconds between replicated snapshots (async)."""
  replicationIntervalSeconds: Int!
  """Recovery point objective in minutes."""
  rpoMinutes: Int!
  updatedAt: DateTime!
}

"""Which resource on one site stands for which on the other. The reverse direction is used for failback."""
type ResourceMapping @shareable {
  kind: ResourceKind!
  sourceSite: Site!
  """Resource id (or name) on the source site."""
  sourceId: String!
  targetSite: Site!
  """Resource id (or name) on the target site."""
  targetId: String!
}

"""Which project on one site is which project on the other."""
type TenantMapping @shareable {
  sourceSite: Site!
  sourceProjectId: ID!
  targetSite: Site!
  targetProjectId: ID!
}

"""A protected volume of a member, as protected (its ids on each site are in the member's placements)."""
type MemberVolume @shareable {
  """Stable id of this protected volume, the same on both sites."""
  id: ID!
  name: String!
  sizeGb: Int!
  """Cinder volume type name (replication-enabled, matching the group's replication type)."""
  volumeType: String!
  bootable: Boolean!
  """Boot index in the block device mapping; null for data volumes."""
  bootIndex: Int
  """Device name in the guest, e.g. /dev/vdb."""
  deviceName: String
  """Name of the replicated volume on the array."""
  storageVolumeName: String
}

"""Where a protected volume lives on one site."""
type VolumePlacement @shareable {
  memberVolumeId: ID!
  """Cinder volume id on that site."""
  volumeId: ID!
}

"""A member's resources on one site (absent on a site until the member has been recovered there)."""
type MemberPlacement @shareable {
  site: Site!
  """Nova server id on that site; null when no server exists there."""
  serverId: ID
  flavorId: ID
  networkIds: [ID!]!
  volumes: [VolumePlacement!]!
}

"""A VM protected by a Protection Group, with its volumes and its resource ids on each site."""
type ProtectionGroupMember @shareable {
  """Stable member id, the same on both sites."""
  id: ID!
  """Name of the Nova server."""
  name: String!
  status: MemberStatus!
  """
  Recovery order, as a recovery plan's priority groups: every VM of priority 1 is recovered and ACTIVE
  before any of priority 2 starts, and so on; VMs of one priority come up together.
  """
  bootPriority: Int!
  volumes: [MemberVolume!]!
  placements: [MemberPlacement!]!
  addedAt: DateTime!
}

"""
One site's copy of a Protection Group: every field of the group as that site stores it.
The two copies are kept equal by the coordinator (compare metadataVersion, or syncStatus).
"""
type ProtectionGroupReplica @shareable {
  """The Protection Group id (the same on both sites)."""
  id: ID!
  """The group this replica belongs to: walk from here to the other site's replica."""
  protectionGroup: ProtectionGroup!
  """The site holding this replica."""
  site: Site!
  """This site's role for the group."""
  role: ReplicaRole!
  name: String!
  description: String
  projectId: ID!
  replicationType: ReplicationType!
  status: ProtectionGroupStatus!
  currentPrimarySite: Site!
  secondarySite: Site!
  """Incremented by every metadata change; equal on both sites when in sync."""
  metadataVersion: Int!
  """When the coordinator last brought this replica level with its peer."""
  lastSyncedAt: DateTime
  syncStatus: SyncStatus!
  """Creation time of the newest complete replicated recovery point."""
  lastReplicationAt: DateTime
  """Array protection group or pod replicating the volumes, on this site's array."""
  storageGroupName: String
  """Cinder consistency group (group) id on this site."""
  consistencyGroupId: ID
  """Cinder volume type of the group's volumes."""
  volumeType: String!
  members: [ProtectionGroupMember!]!
  policy: ReplicationPolicy
  resourceMappings: [ResourceMapping!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}

"""
Replication policy settings. Omitted fields keep their current value. On a group without a policy the
URLs, tokens and purePgName are required (on mock storage the URLs and tokens are accepted and ignored);
interval and RPO default to [storage] default_replication_interval / default_rpo_minutes.
"""
input ReplicationPolicyInput {
  primaryArrayUrl: String
  """Secret: stored encrypted, never returned."""
  primaryArrayToken: String
  secondaryArrayUrl: String
  """Secret: stored encrypted, never returned."""
  secondaryArrayToken: String
  purePgName: String
  replicationIntervalSeconds: Int
  rpoMinutes: Int
}

"""A resource mapping: sourceId on sourceSite corresponds to targetId on targetSite."""
input ResourceMappingInput {
  kind: ResourceKind!
  """Site name."""
  sourceSite: String!
  sourceId: String!
  """Site name."""
  targetSite: String!
  targetId: String!
}

"""A tenant mapping: sourceProjectId on sourceSite corresponds to targetProjectId on targetSite."""
input TenantMappingInput {
  sourceSite: String!
  sourceProjectId: ID!
  targetSite: String!
  targetProjectId: ID!
}`,
].join('\n\n');
