/**
 * The GraphQL documents behind the SDK's typed helpers: `documents/*.graphql`, validated against the
 * public API and turned into typed document nodes by GraphQL Code Generator when the client builds
 * (`scripts/codegen.mjs` writes `generated/operations.ts`). Their result types are what `types.ts`
 * names.
 */
import { documentForSite } from '@protector/schema';
import { print } from 'graphql';
import {
  AddMemberDocument,
  AddMembersDocument,
  CancelOperationDocument,
  CreateProtectionGroupDocument,
  CreateReplicationPolicyDocument,
  DeleteProtectionGroupDocument,
  FailbackDocument,
  FailoverDocument,
  FindProtectionGroupDocument,
  OperationDocument,
  OperationEventsDocument,
  OperationProgressDocument,
  OperationsDocument,
  ProtectionGroupDocument,
  ProtectionGroupSyncStateDocument,
  ProtectionGroupsDocument,
  RecoveryPointsDocument,
  RegisterSiteDocument,
  RemoveMemberDocument,
  ResumeOperationDocument,
  SetResourceMappingsDocument,
  SiteDocument,
  SitesDocument,
  SitesHealthDocument,
  SiteVolumeTypesDocument,
  SyncProtectionGroupDocument,
  TestCleanupDocument,
  TestFailoverDocument,
  UnregisterSiteDocument,
  ValidateSiteDocument,
} from './generated/operations.js';

/** The documents, by helper name. Exported so tooling can reuse (or extend) the selections. */
export const documents = {
  sites: SitesDocument,
  site: SiteDocument,
  sitesHealth: SitesHealthDocument,
  protectionGroups: ProtectionGroupsDocument,
  protectionGroup: ProtectionGroupDocument,
  /** Looks a group up by id and by name in one round trip (the CLI takes either). */
  findProtectionGroup: FindProtectionGroupDocument,
  protectionGroupSyncState: ProtectionGroupSyncStateDocument,
  operations: OperationsDocument,
  operation: OperationDocument,
  recoveryPoints: RecoveryPointsDocument,

  registerSite: RegisterSiteDocument,
  unregisterSite: UnregisterSiteDocument,
  validateSite: ValidateSiteDocument,

  createProtectionGroup: CreateProtectionGroupDocument,
  deleteProtectionGroup: DeleteProtectionGroupDocument,
  addMember: AddMemberDocument,
  addMembers: AddMembersDocument,
  removeMember: RemoveMemberDocument,
  createReplicationPolicy: CreateReplicationPolicyDocument,
  setResourceMappings: SetResourceMappingsDocument,

  syncProtectionGroup: SyncProtectionGroupDocument,
  failover: FailoverDocument,
  testFailover: TestFailoverDocument,
  testCleanup: TestCleanupDocument,
  failback: FailbackDocument,
  cancelOperation: CancelOperationDocument,
  resumeOperation: ResumeOperationDocument,

  operationProgress: OperationProgressDocument,
  operationEvents: OperationEventsDocument,
} as const;

/**
 * The volume types of one site, read from the site's own root field (named by its key): the
 * `SiteVolumeTypes` document, written against the root field `here`, with that field renamed to the
 * key (so the data comes back under the key). The key is checked against the contract's pattern
 * before it becomes part of the document.
 */
export function siteVolumeTypesDocument(siteKey: string): string {
  return print(documentForSite(SiteVolumeTypesDocument, siteKey, { keepResponseKey: false }));
}
