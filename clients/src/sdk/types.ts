/**
 * Result and input types of the SDK, by the names the SDK and CLI use. Each one is (part of) a type
 * GraphQL Code Generator derives from the SDK's documents (`documents/*.graphql`) and the public API
 * SDL (`generated/operations.ts`), so a selection and its type cannot drift: renaming a field in the
 * SDL fails the build. Enum types are the same unions as `@protector/schema`'s.
 */
import type {
  AddMemberInput as AddMemberInputType,
  AddMembersInput as AddMembersInputType,
  CancelOperationInput as CancelOperationInputType,
  CreateProtectionGroupInput as CreateProtectionGroupInputType,
  CreateReplicationPolicyInput as CreateReplicationPolicyInputType,
  DeleteProtectionGroupInput as DeleteProtectionGroupInputType,
  DeleteProtectionGroupMutation,
  ErrorFieldsFragment,
  FailbackInput as FailbackInputType,
  FailoverInput as FailoverInputType,
  OperationEventFieldsFragment,
  OperationFieldsFragment,
  OperationFilterInput as OperationFilterInputType,
  OperationSummaryFieldsFragment,
  ProtectionGroupFieldsFragment,
  ProtectionGroupFilterInput as ProtectionGroupFilterInputType,
  ProtectionGroupSummaryFieldsFragment,
  ProtectionGroupSyncStateQuery,
  ProtectionGroupsQuery,
  RecoveryPointsQuery,
  RegisterSiteInput as RegisterSiteInputType,
  RemoveMemberInput as RemoveMemberInputType,
  ReplicationPolicyInput as ReplicationPolicyInputType,
  ResourceMappingInput as ResourceMappingInputType,
  ResumeOperationInput as ResumeOperationInputType,
  ServiceCredentialsInput as ServiceCredentialsInputType,
  SetResourceMappingsInput as SetResourceMappingsInputType,
  SiteFieldsFragment,
  SiteHealthFieldsFragment,
  SitesHealthQuery,
  SiteVolumeTypesQuery,
  StepFieldsFragment,
  SyncProtectionGroupInput as SyncProtectionGroupInputType,
  TestCleanupInput as TestCleanupInputType,
  TestFailoverInput as TestFailoverInputType,
  ValidateSiteMutation,
} from './generated/operations.js';

/** RFC 3339 date-time string in UTC (the contract's `DateTime`). */
export type DateTime = string;

/** A generated input type, read-only all the way down (so callers may pass read-only arrays). */
export type ReadonlyInput<T> = T extends readonly (infer E)[]
  ? readonly ReadonlyInput<E>[]
  : T extends object
    ? { readonly [K in keyof T]: ReadonlyInput<T[K]> }
    : T;

// Results: the fragments of documents/fragments.graphql, and parts of them.

export type Site = SiteFieldsFragment;
export type SiteHealth = SiteHealthFieldsFragment;
export type HealthIssue = SiteHealth['issues'][number];
export type SiteWithHealth = SitesHealthQuery['sites'][number];
export type SiteValidation = ValidateSiteMutation['validateSite'];
export type SiteValidationCheck = SiteValidation['checks'][number];
/** A Cinder volume type of one site (`<siteKey> { volumeTypes }`). */
export type VolumeType = SiteVolumeTypesQuery['here']['volumeTypes'][number];

export type ErrorDetail = ErrorFieldsFragment;

/** What `protectionGroups` lists. */
export type ProtectionGroupSummary = ProtectionGroupSummaryFieldsFragment;
export type ProtectionGroup = ProtectionGroupFieldsFragment;
/** A reference to a site by name (what nested `Site` selections fetch). */
export type SiteRef = ProtectionGroup['currentPrimarySite'];
/** Replication policy; array tokens are write-only, only whether one is set is returned. */
export type ReplicationPolicy = NonNullable<ProtectionGroup['policy']>;
export type ProtectionGroupMember = ProtectionGroup['members'][number];
export type MemberVolume = ProtectionGroupMember['volumes'][number];
export type ResourceMapping = ProtectionGroup['resourceMappings'][number];
export type ProtectionGroupSyncState = NonNullable<ProtectionGroupSyncStateQuery['protectionGroup']>;
/** One site's copy of a group, as `sync-status` shows it. */
export type ProtectionGroupReplicaState = ProtectionGroupSyncState['replicas'][number];
export type DeletedProtectionGroup = DeleteProtectionGroupMutation['deleteProtectionGroup'];
export type RecoveryPoint = RecoveryPointsQuery['recoveryPoints'][number];

/** An operation as nested in other results (a group's active operation, an event). */
export type OperationSummary = OperationSummaryFieldsFragment;
export type Operation = OperationFieldsFragment;
export type OperationStep = StepFieldsFragment;
export type MemberOperationResult = Operation['members'][number];
/** One `operationProgress` / `operationEvents` event. */
export type OperationEvent = OperationEventFieldsFragment;

export type PageInfo = ProtectionGroupsQuery['protectionGroups']['pageInfo'];

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

// Inputs: the contract's input types (fields with server defaults are optional).

export type ProtectionGroupFilterInput = ReadonlyInput<ProtectionGroupFilterInputType>;
export type OperationFilterInput = ReadonlyInput<OperationFilterInputType>;
export type ServiceCredentialsInput = ReadonlyInput<ServiceCredentialsInputType>;
export type RegisterSiteInput = ReadonlyInput<RegisterSiteInputType>;
export type CreateProtectionGroupInput = ReadonlyInput<CreateProtectionGroupInputType>;
export type DeleteProtectionGroupInput = ReadonlyInput<DeleteProtectionGroupInputType>;
export type AddMemberInput = ReadonlyInput<AddMemberInputType>;
export type AddMembersInput = ReadonlyInput<AddMembersInputType>;
export type RemoveMemberInput = ReadonlyInput<RemoveMemberInputType>;
export type ReplicationPolicyInput = ReadonlyInput<ReplicationPolicyInputType>;
export type CreateReplicationPolicyInput = ReadonlyInput<CreateReplicationPolicyInputType>;
export type ResourceMappingInput = ReadonlyInput<ResourceMappingInputType>;
export type SetResourceMappingsInput = ReadonlyInput<SetResourceMappingsInputType>;
export type SyncProtectionGroupInput = ReadonlyInput<SyncProtectionGroupInputType>;
export type FailoverInput = ReadonlyInput<FailoverInputType>;
export type TestFailoverInput = ReadonlyInput<TestFailoverInputType>;
export type TestCleanupInput = ReadonlyInput<TestCleanupInputType>;
export type FailbackInput = ReadonlyInput<FailbackInputType>;
export type CancelOperationInput = ReadonlyInput<CancelOperationInputType>;
export type ResumeOperationInput = ReadonlyInput<ResumeOperationInputType>;
