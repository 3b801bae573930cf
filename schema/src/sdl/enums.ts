/**
 * Enums of the GraphQL contract as TypeScript constants. The SDL enums are rendered from these tables,
 * so servers, clients and the schema share one definition and a value cannot drift between them.
 */

/** How the arrays replicate a Protection Group's volumes; fixed when the group is created. */
export const REPLICATION_TYPES = ['ASYNC', 'SYNC'] as const;
export type ReplicationType = (typeof REPLICATION_TYPES)[number];

/** Lifecycle status of a Protection Group (the same value on both sites when in sync). */
export const PROTECTION_GROUP_STATUSES = [
  'ACTIVE',
  'FAILING_OVER',
  'FAILED_OVER',
  'FAILED_OVER_PARTIAL',
  'FAILING_BACK',
  'TEST_FAILING_OVER',
  'TEST_FAILED_OVER',
  'TEST_CLEANING_UP',
  'DELETING',
  'ERROR',
] as const;
export type ProtectionGroupStatus = (typeof PROTECTION_GROUP_STATUSES)[number];

/** Whether the two sites hold the same metadata for a Protection Group. */
export const SYNC_STATUSES = ['IN_SYNC', 'OUT_OF_SYNC', 'UNREACHABLE', 'FAILED'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** Protection state of one member (VM) of a Protection Group. */
export const MEMBER_STATUSES = [
  'PROTECTING',
  'PROTECTED',
  'FAILED_OVER',
  'FAILOVER_FAILED',
  'REMOVING',
  'ERROR',
] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/** The role a site plays for one Protection Group (workload-relative: swaps on failover). */
export const REPLICA_ROLES = ['PRIMARY', 'SECONDARY'] as const;
export type ReplicaRole = (typeof REPLICA_ROLES)[number];

/** The role a site plays across all its Protection Groups. */
export const SITE_ROLES = ['PRIMARY', 'SECONDARY', 'MIXED', 'IDLE'] as const;
export type SiteRole = (typeof SITE_ROLES)[number];

/** Status of a site service as seen by the coordinator (or by the site itself). */
export const SITE_STATUSES = ['ACTIVE', 'DEGRADED', 'UNREACHABLE', 'UNKNOWN'] as const;
export type SiteStatus = (typeof SITE_STATUSES)[number];

/** Storage driver a site runs (`use_mock_storage`). */
export const STORAGE_DRIVER_KINDS = ['MOCK', 'PURE'] as const;
export type StorageDriverKind = (typeof STORAGE_DRIVER_KINDS)[number];

/** Which array an entry of a site's storage state is, from that site's point of view. */
export const STORAGE_ARRAY_ROLES = ['LOCAL', 'PEER'] as const;
export type StorageArrayRole = (typeof STORAGE_ARRAY_ROLES)[number];

/** State of the array-to-array replication connection (FlashArray `array-connections` status). */
export const REPLICATION_LINK_STATES = [
  'CONNECTED',
  'PARTIALLY_CONNECTED',
  'CONNECTING',
  'DISCONNECTED',
  'UNKNOWN',
] as const;
export type ReplicationLinkState = (typeof REPLICATION_LINK_STATES)[number];

/** The array object that replicates a Protection Group. */
export const STORAGE_GROUP_KINDS = ['PROTECTION_GROUP', 'POD'] as const;
export type StorageGroupKind = (typeof STORAGE_GROUP_KINDS)[number];

/** Whether the newest complete recovery point is within the policy's RPO. */
export const RPO_COMPLIANCES = ['COMPLIANT', 'VIOLATED', 'UNKNOWN'] as const;
export type RpoCompliance = (typeof RPO_COMPLIANCES)[number];

/** Kind of cloud resource a resource mapping translates between sites. */
export const RESOURCE_KINDS = ['NETWORK', 'FLAVOR', 'IMAGE'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** Status of one step (of an operation, or executed on a site), or of one member within a step. */
export const STEP_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** Kind of cross-site operation in the coordinator's journal. */
export const OPERATION_TYPES = [
  'PLANNED_FAILOVER',
  'UNPLANNED_FAILOVER',
  'TEST_FAILOVER',
  'TEST_CLEANUP',
  'FAILBACK',
  'SYNC',
] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

/** Status of a cross-site operation. */
export const OPERATION_STATUSES = [
  'PENDING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'PARTIAL',
  'CANCELLING',
  'CANCELLED',
  'ROLLING_BACK',
  'ROLLED_BACK',
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

/** Kind of failover asked for by `failover(input: { type })`. */
export const FAILOVER_TYPES = ['PLANNED', 'UNPLANNED'] as const;
export type FailoverType = (typeof FAILOVER_TYPES)[number];

/** Whether a site or Protection Group could be failed over now. */
export const FAILOVER_READINESS_STATES = ['READY', 'DEGRADED', 'NOT_READY', 'UNKNOWN'] as const;
export type FailoverReadiness = (typeof FAILOVER_READINESS_STATES)[number];

/** Kind of a site-local event (site subscription). */
export const SITE_EVENT_KINDS = [
  'REPLICATION_COMPLETED',
  'RPO_VIOLATED',
  'RPO_RESTORED',
  'LINK_STATE_CHANGED',
] as const;
export type SiteEventKind = (typeof SITE_EVENT_KINDS)[number];

/** Kind of an operation event (`operationProgress`, `operationEvents`). */
export const OPERATION_EVENT_KINDS = [
  'CREATED',
  'STATUS_CHANGED',
  'STEP_STARTED',
  'STEP_FINISHED',
  'MEMBER_UPDATED',
] as const;
export type OperationEventKind = (typeof OPERATION_EVENT_KINDS)[number];

/** Outcome of one check of `validateSite`. */
export const CHECK_STATUSES = ['PASSED', 'WARNING', 'FAILED', 'SKIPPED'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** Severity of a health issue. */
export const ISSUE_SEVERITIES = ['INFO', 'WARNING', 'CRITICAL'] as const;
export type IssueSeverity = (typeof ISSUE_SEVERITIES)[number];

/** Guard: is `value` one of `values` (an enum table above)? Narrows to the enum's type. */
export const isEnumValue = <const V extends string>(values: readonly V[], value: unknown): value is V =>
  typeof value === 'string' && (values as readonly string[]).includes(value);

/** A GraphQL enum rendered from one of the tables above, with its documentation. */
export interface EnumDefinition {
  readonly name: string;
  readonly description: string;
  readonly values: Readonly<Record<string, string>>;
}

const defineEnum = <V extends string>(
  name: string,
  description: string,
  values: readonly V[],
  docs: Readonly<Record<V, string>>,
): EnumDefinition => ({
  name,
  description,
  // Order follows the tuple, so the SDL lists values in lifecycle order.
  values: Object.fromEntries(values.map((v) => [v, docs[v]])),
});

/** Enums used by the coordinator and by every site (identical everywhere, as federation requires). */
export const SHARED_ENUMS: readonly EnumDefinition[] = [
  defineEnum(
    'ReplicationType',
    'How the arrays replicate the volumes; fixed at creation.',
    REPLICATION_TYPES,
    {
      ASYNC: 'Asynchronous: FlashArray protection group with a replication schedule (snapshots).',
      SYNC: 'Synchronous: ActiveCluster pod stretched over both arrays.',
    },
  ),
  defineEnum('ProtectionGroupStatus', 'Lifecycle status of a Protection Group.', PROTECTION_GROUP_STATUSES, {
    ACTIVE: 'Running on its primary site and replicating to the secondary.',
    FAILING_OVER: 'A planned or unplanned failover is running.',
    FAILED_OVER: 'Every member runs on the former secondary site, now the primary.',
    FAILED_OVER_PARTIAL: 'The failover finished but some members did not recover; see the operation.',
    FAILING_BACK: 'A failback (reprotect, then recovery on the original site) is running.',
    TEST_FAILING_OVER: 'A test failover (DR drill) is creating its resources on the secondary site.',
    TEST_FAILED_OVER: 'The drill resources are up on the secondary site; run testCleanup when done.',
    TEST_CLEANING_UP: 'Test cleanup is deleting the drill resources.',
    DELETING: 'The group and its storage objects are being deleted on both sites.',
    ERROR: 'An operation failed and left the group needing attention; see its last operation.',
  }),
  defineEnum('SyncStatus', 'Whether both sites hold the same metadata for a group.', SYNC_STATUSES, {
    IN_SYNC: 'Both sites hold the same metadata version.',
    OUT_OF_SYNC: 'The sites hold different versions; run syncProtectionGroup.',
    UNREACHABLE: 'The peer site did not answer; modifications are blocked.',
    FAILED: 'The last sync attempt failed; see its operation.',
  }),
  defineEnum('MemberStatus', 'Protection state of a member VM.', MEMBER_STATUSES, {
    PROTECTING: 'Being added: its volumes are joining the consistency group and the array group.',
    PROTECTED: 'Its volumes replicate with the group; ready for failover.',
    FAILED_OVER: 'Recovered and running on the current primary site after a failover.',
    FAILOVER_FAILED: 'The last failover could not recover this member.',
    REMOVING: 'Being removed from the group.',
    ERROR: 'Needs attention: its volumes are not (or no longer) protected.',
  }),
  defineEnum('ReplicaRole', "A site's role for one Protection Group.", REPLICA_ROLES, {
    PRIMARY: 'The workload runs here and replicates away from here.',
    SECONDARY: 'The DR site: receives the replicated data.',
  }),
  defineEnum('SiteRole', "A site's role across its Protection Groups.", SITE_ROLES, {
    PRIMARY: 'Primary for every Protection Group it holds.',
    SECONDARY: 'Secondary for every Protection Group it holds.',
    MIXED: 'Primary for some groups and secondary for others.',
    IDLE: 'Holds no Protection Group.',
  }),
  defineEnum('SiteStatus', 'Status of a site service.', SITE_STATUSES, {
    ACTIVE: 'Reachable and healthy.',
    DEGRADED: 'Reachable, but its storage, cloud or replication link reports a problem.',
    UNREACHABLE: 'The site service did not answer.',
    UNKNOWN: 'Not checked yet.',
  }),
  defineEnum('StorageDriverKind', 'Storage driver of a site.', STORAGE_DRIVER_KINDS, {
    MOCK: 'SQLite-backed simulation of FlashArray (labs and CI).',
    PURE: 'Pure Storage FlashArray over REST 2.x.',
  }),
  defineEnum('ReplicationLinkState', 'State of the array replication connection.', REPLICATION_LINK_STATES, {
    CONNECTED: 'The arrays are connected for replication.',
    PARTIALLY_CONNECTED: 'Some replication paths are down.',
    CONNECTING: 'The connection is being established.',
    DISCONNECTED: 'No replication is possible.',
    UNKNOWN: 'The array could not be asked.',
  }),
  defineEnum('RpoCompliance', 'Whether replication meets the recovery point objective.', RPO_COMPLIANCES, {
    COMPLIANT: 'The newest complete recovery point is younger than the RPO.',
    VIOLATED: 'The newest complete recovery point is older than the RPO (or there is none).',
    UNKNOWN: 'Replication state could not be read, or no policy is set.',
  }),
  defineEnum('ResourceKind', 'Kind of resource a mapping translates.', RESOURCE_KINDS, {
    NETWORK: 'Neutron network.',
    FLAVOR: 'Nova flavor.',
    IMAGE: 'Glance image.',
  }),
  defineEnum('StepStatus', 'Status of a step, or of one member within a step.', STEP_STATUSES, {
    PENDING: 'Not started.',
    RUNNING: 'Started and not finished.',
    SUCCEEDED: 'Finished without error.',
    FAILED: 'Finished with an error.',
    SKIPPED: 'Not needed (already done, or not applicable).',
    CANCELLED: 'Not run because the operation was cancelled.',
  }),
];

/** Enums served only by the coordinator subgraph. */
export const COORDINATOR_ENUMS: readonly EnumDefinition[] = [
  defineEnum('OperationType', 'Kind of cross-site operation.', OPERATION_TYPES, {
    PLANNED_FAILOVER:
      'Both sites up: stop, final replication, recover on the secondary, swap roles. No data loss.',
    UNPLANNED_FAILOVER: 'Primary lost: recover on the secondary from a replicated recovery point.',
    TEST_FAILOVER: 'DR drill: recover copies on an isolated test network; the primary is untouched.',
    TEST_CLEANUP: 'Delete every resource a test failover created.',
    FAILBACK: 'Reverse replication, then recover on the original site.',
    SYNC: 'Bring the metadata of both sites level (fencing VMs that still run on the stale site).',
  }),
  defineEnum('OperationStatus', 'Status of a cross-site operation.', OPERATION_STATUSES, {
    PENDING: 'Accepted, not started.',
    RUNNING: 'Steps are running.',
    SUCCEEDED: 'Every step succeeded.',
    FAILED: 'A step failed; the operation names it and its error.',
    PARTIAL: 'Finished, but some members did not recover (group FAILED_OVER_PARTIAL).',
    CANCELLING: 'Cancellation requested; the running step is finishing.',
    CANCELLED: 'Stopped on request before completion.',
    ROLLING_BACK: 'Undoing the steps already done.',
    ROLLED_BACK: 'The steps already done were undone.',
  }),
  defineEnum('FailoverType', 'Kind of failover.', FAILOVER_TYPES, {
    PLANNED: 'Both sites reachable; zero data loss.',
    UNPLANNED: 'Against the secondary only; data loss up to the RPO (or to the chosen recovery point).',
  }),
  defineEnum('FailoverReadiness', 'Whether a failover could run now.', FAILOVER_READINESS_STATES, {
    READY: 'Every precondition holds.',
    DEGRADED: 'A failover would run, with warnings (for example an RPO violation).',
    NOT_READY: 'A precondition fails; see the issues.',
    UNKNOWN: 'Not checked yet, or the site is unreachable.',
  }),
  defineEnum('OperationEventKind', 'Kind of operation event.', OPERATION_EVENT_KINDS, {
    CREATED: 'The operation was accepted.',
    STATUS_CHANGED: 'The operation status changed.',
    STEP_STARTED: 'A step started.',
    STEP_FINISHED: 'A step finished (see its status).',
    MEMBER_UPDATED: 'The result of one member changed.',
  }),
  defineEnum('CheckStatus', 'Outcome of one site validation check.', CHECK_STATUSES, {
    PASSED: 'The check passed.',
    WARNING: 'The check passed with a warning.',
    FAILED: 'The check failed; the message says what to fix.',
    SKIPPED: 'Not applicable (for example array checks on the mock driver).',
  }),
  defineEnum('IssueSeverity', 'Severity of a health issue.', ISSUE_SEVERITIES, {
    INFO: 'For information.',
    WARNING: 'Degrades protection; act soon.',
    CRITICAL: 'Failover or replication is impossible until fixed.',
  }),
];

/** Enums served only by site subgraphs. */
export const SITE_ENUMS: readonly EnumDefinition[] = [
  defineEnum('StorageArrayRole', 'Which array, from the site point of view.', STORAGE_ARRAY_ROLES, {
    LOCAL: "The site's own array.",
    PEER: "The other site's array (the replication partner).",
  }),
  defineEnum('StorageGroupKind', 'Array object replicating a Protection Group.', STORAGE_GROUP_KINDS, {
    PROTECTION_GROUP: 'FlashArray protection group (async).',
    POD: 'ActiveCluster pod (sync).',
  }),
  defineEnum('SiteEventKind', 'Kind of site-local event.', SITE_EVENT_KINDS, {
    REPLICATION_COMPLETED: 'A recovery point finished transferring to the target array.',
    RPO_VIOLATED: "A group's newest complete recovery point became older than its RPO.",
    RPO_RESTORED: 'A group that violated its RPO is compliant again.',
    LINK_STATE_CHANGED: 'The replication connection between the arrays changed state.',
  }),
];

/** Renders an enum as SDL (block-string descriptions). */
export function renderEnum(definition: EnumDefinition): string {
  const values = Object.entries(definition.values).map(([value, doc]) => `  """${doc}"""\n  ${value}`);
  return `"""${definition.description}"""\nenum ${definition.name} {\n${values.join('\n')}\n}`;
}
