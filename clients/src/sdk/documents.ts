/**
 * The GraphQL documents behind the SDK's typed helpers. Their selections are what `types.ts` describes;
 * the contract test validates every one of them against the coordinator + site SDL.
 */

const SITE_FIELDS = /* GraphQL */ `
fragment SiteFields on Site {
  name
  key
  description
  url
  authUrl
  status
  role
  version
  storageDriver
  registeredAt
}`;

const SITE_HEALTH_FIELDS = /* GraphQL */ `
fragment SiteHealthFields on SiteHealth {
  reachable
  checkedAt
  latencyMs
  storageReachable
  replicationLinkState
  maxReplicationLagSeconds
  rpoCompliance
  failoverReadiness
  issues { code severity message protectionGroup { id name } }
}`;

const ERROR_FIELDS = /* GraphQL */ `
fragment ErrorFields on ErrorDetail {
  code
  message
  retryable
}`;

const OPERATION_SUMMARY_FIELDS = /* GraphQL */ `
fragment OperationSummaryFields on Operation {
  id
  type
  status
  protectionGroup { id name }
  percentComplete
  stepsCompleted
  stepsTotal
  error { ...ErrorFields }
  createdAt
  finishedAt
}`;

const STEP_FIELDS = /* GraphQL */ `
fragment StepFields on OperationStep {
  key
  name
  site { name }
  status
  attempt
  startedAt
  finishedAt
  error { ...ErrorFields }
}`;

const OPERATION_FIELDS = /* GraphQL */ `
fragment OperationFields on Operation {
  ...OperationSummaryFields
  sourceSite { name }
  targetSite { name }
  recoveryPoint { name createdAt }
  currentStep { ...StepFields }
  steps { ...StepFields }
  stepsFailed
  members { memberId memberName status site { name } serverId error { ...ErrorFields } }
  requestedBy
  startedAt
}
${OPERATION_SUMMARY_FIELDS}
${STEP_FIELDS}
${ERROR_FIELDS}`;

const PROTECTION_GROUP_SUMMARY_FIELDS = /* GraphQL */ `
fragment ProtectionGroupSummaryFields on ProtectionGroup {
  id
  name
  status
  syncStatus
  replicationType
  currentPrimarySite { name }
  secondarySite { name }
  volumeType
  members { id }
}`;

const PROTECTION_GROUP_FIELDS = /* GraphQL */ `
fragment ProtectionGroupFields on ProtectionGroup {
  id
  name
  description
  projectId
  replicationType
  status
  syncStatus
  currentPrimarySite { name }
  secondarySite { name }
  metadataVersion
  lastSyncedAt
  lastReplicationAt
  volumeType
  storageGroupName
  policy {
    primaryArrayUrl
    secondaryArrayUrl
    primaryArrayTokenSet
    secondaryArrayTokenSet
    purePgName
    replicationIntervalSeconds
    rpoMinutes
    updatedAt
  }
  members { id name status volumes { id name sizeGb volumeType bootable } addedAt }
  resourceMappings { kind sourceSite { name } sourceId targetSite { name } targetId }
  activeOperation { ...OperationSummaryFields }
  createdAt
  updatedAt
}
${OPERATION_SUMMARY_FIELDS}
${ERROR_FIELDS}`;

const OPERATION_EVENT_FIELDS = /* GraphQL */ `
fragment OperationEventFields on OperationEvent {
  sequence
  kind
  occurredAt
  status
  percentComplete
  message
  step { ...StepFields }
  member { memberId memberName status }
  operation { ...OperationSummaryFields }
}
${OPERATION_SUMMARY_FIELDS}
${STEP_FIELDS}
${ERROR_FIELDS}`;

/** An operation mutation: `mutation Name($input: XInput!) { field(input: $input) { ...OperationFields } }`. */
const operationMutation = (name: string, field: string, inputType: string): string => /* GraphQL */ `
mutation ${name}($input: ${inputType}!) {
  ${field}(input: $input) { ...OperationFields }
}
${OPERATION_FIELDS}`;

/** A group mutation returning the changed group. */
const groupMutation = (name: string, field: string, inputType: string): string => /* GraphQL */ `
mutation ${name}($input: ${inputType}!) {
  ${field}(input: $input) { ...ProtectionGroupFields }
}
${PROTECTION_GROUP_FIELDS}`;

/** The documents, by helper name. Exported so tooling can reuse (or extend) the selections. */
export const documents = {
  sites: /* GraphQL */ `
query Sites {
  sites { ...SiteFields }
}
${SITE_FIELDS}`,

  site: /* GraphQL */ `
query Site($name: String!) {
  site(name: $name) { ...SiteFields }
}
${SITE_FIELDS}`,

  sitesHealth: /* GraphQL */ `
query SitesHealth {
  sites { ...SiteFields health { ...SiteHealthFields } }
}
${SITE_FIELDS}
${SITE_HEALTH_FIELDS}`,

  protectionGroups: /* GraphQL */ `
query ProtectionGroups($filter: ProtectionGroupFilterInput, $first: Int, $after: String) {
  protectionGroups(filter: $filter, first: $first, after: $after) {
    nodes { ...ProtectionGroupSummaryFields }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
${PROTECTION_GROUP_SUMMARY_FIELDS}`,

  protectionGroup: /* GraphQL */ `
query ProtectionGroup($id: ID, $name: String) {
  protectionGroup(id: $id, name: $name) { ...ProtectionGroupFields }
}
${PROTECTION_GROUP_FIELDS}`,

  /** Looks a group up by id and by name in one round trip (the CLI takes either). */
  findProtectionGroup: /* GraphQL */ `
query FindProtectionGroup($ref: ID!, $name: String!) {
  byId: protectionGroup(id: $ref) { ...ProtectionGroupFields }
  byName: protectionGroup(name: $name) { ...ProtectionGroupFields }
}
${PROTECTION_GROUP_FIELDS}`,

  protectionGroupSyncState: /* GraphQL */ `
query ProtectionGroupSyncState($id: ID, $name: String) {
  protectionGroup(id: $id, name: $name) {
    id
    name
    syncStatus
    metadataVersion
    lastSyncedAt
    replicas {
      site { name }
      role
      reachable
      replica { metadataVersion syncStatus status lastSyncedAt }
      error { ...ErrorFields }
    }
  }
}
${ERROR_FIELDS}`,

  operations: /* GraphQL */ `
query Operations($filter: OperationFilterInput, $first: Int, $after: String) {
  operations(filter: $filter, first: $first, after: $after) {
    nodes { ...OperationSummaryFields }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
${OPERATION_SUMMARY_FIELDS}
${ERROR_FIELDS}`,

  operation: /* GraphQL */ `
query Operation($id: ID!) {
  operation(id: $id) { ...OperationFields }
}
${OPERATION_FIELDS}`,

  recoveryPoints: /* GraphQL */ `
query RecoveryPoints($protectionGroup: ID!, $site: String) {
  recoveryPoints(protectionGroup: $protectionGroup, site: $site) { name createdAt completedAt progress complete }
}`,

  registerSite: /* GraphQL */ `
mutation RegisterSite($input: RegisterSiteInput!) {
  registerSite(input: $input) { ...SiteFields }
}
${SITE_FIELDS}`,

  unregisterSite: /* GraphQL */ `
mutation UnregisterSite($name: String!) {
  unregisterSite(name: $name) { ...SiteFields }
}
${SITE_FIELDS}`,

  validateSite: /* GraphQL */ `
mutation ValidateSite($name: String!) {
  validateSite(name: $name) {
    site { name }
    valid
    checkedAt
    checks { name status message durationMs }
  }
}`,

  createProtectionGroup: groupMutation(
    'CreateProtectionGroup',
    'createProtectionGroup',
    'CreateProtectionGroupInput',
  ),
  deleteProtectionGroup: /* GraphQL */ `
mutation DeleteProtectionGroup($input: DeleteProtectionGroupInput!) {
  deleteProtectionGroup(input: $input) { id name }
}`,
  addMember: groupMutation('AddMember', 'addMember', 'AddMemberInput'),
  removeMember: groupMutation('RemoveMember', 'removeMember', 'RemoveMemberInput'),
  createReplicationPolicy: groupMutation(
    'CreateReplicationPolicy',
    'createReplicationPolicy',
    'CreateReplicationPolicyInput',
  ),
  setResourceMappings: groupMutation(
    'SetResourceMappings',
    'setResourceMappings',
    'SetResourceMappingsInput',
  ),

  syncProtectionGroup: operationMutation(
    'SyncProtectionGroup',
    'syncProtectionGroup',
    'SyncProtectionGroupInput',
  ),
  failover: operationMutation('Failover', 'failover', 'FailoverInput'),
  testFailover: operationMutation('TestFailover', 'testFailover', 'TestFailoverInput'),
  testCleanup: operationMutation('TestCleanup', 'testCleanup', 'TestCleanupInput'),
  failback: operationMutation('Failback', 'failback', 'FailbackInput'),
  cancelOperation: operationMutation('CancelOperation', 'cancelOperation', 'CancelOperationInput'),
  resumeOperation: operationMutation('ResumeOperation', 'resumeOperation', 'ResumeOperationInput'),

  operationProgress: /* GraphQL */ `
subscription OperationProgress($id: ID!) {
  operationProgress(id: $id) { ...OperationEventFields }
}
${OPERATION_EVENT_FIELDS}`,

  operationEvents: /* GraphQL */ `
subscription OperationEvents($protectionGroup: ID) {
  operationEvents(protectionGroup: $protectionGroup) { ...OperationEventFields }
}
${OPERATION_EVENT_FIELDS}`,
} as const;

/**
 * The volume types of one site, read from the site's own root field (named by its key). The key is
 * checked against the contract's pattern before it becomes part of the document.
 */
export function siteVolumeTypesDocument(siteKey: string): string {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(siteKey)) {
    throw new TypeError(`Site key ${JSON.stringify(siteKey)} is not a valid site key (e.g. "boston")`);
  }
  return /* GraphQL */ `
query SiteVolumeTypes {
  ${siteKey} { volumeTypes { id name description replicationEnabled replicationType isPublic } }
}`;
}
