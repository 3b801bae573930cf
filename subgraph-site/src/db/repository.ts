/**
 * The site's persistence facade: `SiteRepository`, one method per operation, each delegating to the
 * module that owns it (sites, replica reads and writes, members, policies, mappings, step audit).
 */
import { parseSecretKey, type SecretKey } from '@protector/platform/db';
import type { DataSource } from 'typeorm';
import * as members from './members.js';
import * as policies from './policies.js';
import * as reads from './replica-reads.js';
import * as writes from './replica-writes.js';
import * as resourceMappings from './resource-mappings.js';
import { SiteDb } from './site-db.js';
import * as sites from './sites.js';
import { StepAudit } from './step-audit.js';
import * as tenantMappings from './tenant-mappings.js';
import type {
  Page,
  ProtectionGroupFilter,
  ProtectionGroupMember,
  ProtectionGroupMetadata,
  ProtectionGroupReplica,
  ReplicationPolicyInput,
  ReplicationPolicyRecord,
  ReplicationPolicyTokens,
  ResourceMappingInput,
  ResourceMappingRecord,
  SiteRecord,
  SiteStatus,
  StepAttempt,
  StepAuditRecord,
  SyncStatus,
  TenantMappingRecord,
} from './types.js';

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './replica-reads.js';
export type { ApplyMetadataOptions } from './replica-writes.js';

export interface SiteRepositoryOptions {
  /** Key that encrypts array tokens at rest: a `SecretKey`, 32 raw bytes, or 64 hex / base64 text. */
  readonly secretKey: SecretKey | Buffer | string;
}

/** Opens the repository layer over an initialized site data source. */
export const createSiteRepository = (
  dataSource: DataSource,
  options: SiteRepositoryOptions,
): SiteRepository => new SiteRepository(dataSource, options);

/**
 * The site service's persistence API: explicit methods over the site database, each in its own
 * transaction. Reads return plain records; array tokens are only ever returned by `decryptTokens`.
 * Each method's contract is documented on the function it delegates to.
 */
export class SiteRepository {
  readonly #db: SiteDb;
  readonly #steps: StepAudit;

  constructor(dataSource: DataSource, options: SiteRepositoryOptions) {
    const { secretKey } = options;
    const key = typeof secretKey === 'object' && 'keyId' in secretKey ? secretKey : parseSecretKey(secretKey);
    this.#db = new SiteDb(dataSource, key);
    this.#steps = new StepAudit(this.#db);
  }

  /** Fingerprint of the encryption key in use (safe to log). */
  get keyId(): string {
    return this.#db.key.keyId;
  }

  // ---------------------------------------------------------------- sites (sites.ts)

  /** Registers or updates a site. Only one `local` and one `peer` site may exist. */
  upsertSite(input: sites.SiteInput): Promise<SiteRecord> {
    return sites.upsertSite(this.#db, input);
  }

  /** Every registered site, local first. */
  listSites(): Promise<SiteRecord[]> {
    return sites.listSites(this.#db);
  }

  getSite(name: string): Promise<SiteRecord | null> {
    return sites.getSite(this.#db, name);
  }

  /** The site this service runs on, once registered. */
  getLocalSite(): Promise<SiteRecord | null> {
    return sites.getLocalSite(this.#db);
  }

  setSiteStatus(name: string, status: SiteStatus): Promise<void> {
    return sites.setSiteStatus(this.#db, name, status);
  }

  deleteSite(name: string): Promise<void> {
    return sites.deleteSite(this.#db, name);
  }

  // ---------------------------------------------------------------- replica writes (replica-writes.ts)

  /** Writes PG metadata with compare-and-set on `metadataVersion`; VERSION_CONFLICT when it moved. */
  applyProtectionGroupMetadata(
    metadata: ProtectionGroupMetadata,
    expectedVersion: number,
    options: writes.ApplyMetadataOptions = {},
  ): Promise<ProtectionGroupReplica> {
    return writes.applyProtectionGroupMetadata(this.#db, metadata, expectedVersion, options);
  }

  /** Sets the replication policy of a PG (a metadata change: compare-and-set, bumps the version). */
  setReplicationPolicy(
    protectionGroupId: string,
    policy: ReplicationPolicyInput,
    expectedVersion: number,
  ): Promise<ProtectionGroupReplica> {
    return this.applyProtectionGroupMetadata(
      { id: protectionGroupId, replicationPolicy: policy },
      expectedVersion,
    );
  }

  /** Deletes a PG with everything it owns, if its version is still `expectedVersion`. */
  deleteProtectionGroup(id: string, expectedVersion: number): Promise<void> {
    return writes.deleteProtectionGroup(this.#db, id, expectedVersion);
  }

  /** Records the outcome of a metadata sync. Site-local: no version bump. */
  recordSyncStatus(
    id: string,
    outcome: { syncStatus: SyncStatus; error?: string | null; at?: Date },
  ): Promise<void> {
    return writes.recordSyncStatus(this.#db, id, outcome);
  }

  /** Records this site's Cinder consistency group of a group. Site-local: no version bump. */
  recordConsistencyGroup(id: string, consistencyGroupId: string | null): Promise<void> {
    return writes.recordConsistencyGroup(this.#db, id, consistencyGroupId);
  }

  /**
   * Records the time of the latest replicated recovery point of each PG, in one transaction.
   * Site-local: no version bump. A PG that no longer exists is skipped; returns how many were recorded.
   */
  recordReplications(points: readonly { readonly id: string; readonly at: Date }[]): Promise<number> {
    return writes.recordReplications(this.#db, points);
  }

  // ---------------------------------------------------------------- replica reads (replica-reads.ts)

  getProtectionGroup(id: string): Promise<ProtectionGroupReplica | null> {
    return reads.getProtectionGroup(this.#db, id);
  }

  /** Like `getProtectionGroup`, but a missing PG is a `NOT_FOUND` error. */
  requireProtectionGroup(id: string): Promise<ProtectionGroupReplica> {
    return reads.requireProtectionGroup(this.#db, id);
  }

  /** Several PGs by id at once (one query); missing ids are absent. */
  getProtectionGroups(ids: readonly string[]): Promise<Map<string, ProtectionGroupReplica>> {
    return reads.getProtectionGroups(this.#db, ids);
  }

  getProtectionGroupByName(projectId: string, name: string): Promise<ProtectionGroupReplica | null> {
    return reads.getProtectionGroupByName(this.#db, projectId, name);
  }

  /** PGs by name (then id), `first` at a time after the opaque cursor `after`. */
  listProtectionGroups(
    filter: ProtectionGroupFilter = {},
    paging: { first?: number; after?: string | null } = {},
  ): Promise<Page<ProtectionGroupReplica>> {
    return reads.listProtectionGroups(this.#db, filter, paging);
  }

  /** A mark that changes whenever any PG's metadata or policy does (`protectionGroupsMark`). */
  protectionGroupsMark(): Promise<string> {
    return reads.protectionGroupsMark(this.#db);
  }

  /** Every PG's head (what background sweeps read), in one query. */
  listProtectionGroupHeads(): Promise<reads.ProtectionGroupHead[]> {
    return reads.listProtectionGroupHeads(this.#db);
  }

  /** How many PGs (of `filter`) each site is the current primary of. */
  countProtectionGroupsByPrimarySite(
    filter: Pick<ProtectionGroupFilter, 'projectId'> = {},
  ): Promise<Map<string, number>> {
    return reads.countProtectionGroupsByPrimarySite(this.#db, filter);
  }

  // ---------------------------------------------------------------- members (members.ts)

  /** Members of a PG with their volumes, in name order. */
  listMembers(protectionGroupId: string): Promise<ProtectionGroupMember[]> {
    return members.listMembers(this.#db, protectionGroupId);
  }

  /** Members of several PGs at once (two queries): PG id -> members, `[]` for none. */
  listMembersOf(protectionGroupIds: readonly string[]): Promise<Map<string, ProtectionGroupMember[]>> {
    return members.listMembersOf(this.#db, protectionGroupIds);
  }

  /** Records site-local state of one member during an operation. No version bump. */
  updateMemberState(memberId: string, state: members.MemberState): Promise<void> {
    return members.updateMemberState(this.#db, memberId, state);
  }

  // ---------------------------------------------------------------- replication policy (policies.ts)

  /** The policy of a PG without its tokens (only `hasPrimaryToken` / `hasSecondaryToken`). */
  getReplicationPolicy(protectionGroupId: string): Promise<ReplicationPolicyRecord | null> {
    return policies.getReplicationPolicy(this.#db, protectionGroupId);
  }

  /** The policies of several PGs at once (one query), without tokens; a PG without one is absent. */
  getReplicationPolicies(
    protectionGroupIds: readonly string[],
  ): Promise<Map<string, ReplicationPolicyRecord>> {
    return policies.getReplicationPolicies(this.#db, protectionGroupIds);
  }

  /** Every policy's schedule and RPO by PG id (what background sweeps read), in one query. */
  getReplicationSchedules(): Promise<Map<string, policies.ReplicationSchedule>> {
    return policies.getReplicationSchedules(this.#db);
  }

  /** The array tokens of a PG's policy, for storage calls only: never to a resolver or a logger. */
  decryptTokens(protectionGroupId: string): Promise<ReplicationPolicyTokens> {
    return policies.decryptTokens(this.#db, protectionGroupId);
  }

  // ---------------------------------------------------------------- resource mappings (resource-mappings.ts)

  /** Replaces every mapping of one scope: a PG's (`protectionGroupId`) or the global ones (`null`). */
  replaceResourceMappings(
    protectionGroupId: string | null,
    mappings: readonly ResourceMappingInput[],
  ): Promise<ResourceMappingRecord[]> {
    return resourceMappings.replaceResourceMappings(this.#db, protectionGroupId, mappings);
  }

  /** Mappings of one scope (a PG's, or the global ones for `null`). */
  listResourceMappings(protectionGroupId: string | null): Promise<ResourceMappingRecord[]> {
    return resourceMappings.listResourceMappings(this.#db, protectionGroupId);
  }

  /** The mappings of several PGs at once (one query): PG id -> its own mappings. */
  listResourceMappingsOf(
    protectionGroupIds: readonly string[],
  ): Promise<Map<string, ResourceMappingRecord[]>> {
    return resourceMappings.listResourceMappingsOf(this.#db, protectionGroupIds);
  }

  /** Forward lookup; a PG's own mapping wins over a global one. */
  resolveResourceMapping(query: resourceMappings.ForwardMappingQuery): Promise<string | null> {
    return resourceMappings.resolveResourceMapping(this.#db, query);
  }

  /** Reverse lookup (failback); a PG's own mapping wins over a global one. */
  reverseResourceMapping(query: resourceMappings.ReverseMappingQuery): Promise<string | null> {
    return resourceMappings.reverseResourceMapping(this.#db, query);
  }

  // ---------------------------------------------------------------- tenant mappings (tenant-mappings.ts)

  /** Maps a project on this site to one on the peer, replacing this project's previous mapping. */
  putTenantMapping(input: tenantMappings.TenantMappingInput): Promise<TenantMappingRecord> {
    return tenantMappings.putTenantMapping(this.#db, input);
  }

  /** The peer project of a local project, or null. */
  peerProjectFor(localProjectId: string): Promise<TenantMappingRecord | null> {
    return tenantMappings.peerProjectFor(this.#db, localProjectId);
  }

  /** The local project of a peer project, or null. */
  localProjectFor(peerProjectId: string): Promise<TenantMappingRecord | null> {
    return tenantMappings.localProjectFor(this.#db, peerProjectId);
  }

  listTenantMappings(): Promise<TenantMappingRecord[]> {
    return tenantMappings.listTenantMappings(this.#db);
  }

  deleteTenantMapping(localProjectId: string): Promise<void> {
    return tenantMappings.deleteTenantMapping(this.#db, localProjectId);
  }

  // ---------------------------------------------------------------- step audit / idempotency (step-audit.ts)

  /** Runs one operation step at most once to success; the audit row is the idempotency record. */
  runStepOnce<T>(
    operationId: string,
    stepKey: string,
    name: string,
    request: unknown,
    fn: (attempt: StepAttempt) => Promise<T>,
  ): Promise<T> {
    return this.#steps.runStepOnce(operationId, stepKey, name, request, fn);
  }

  getStepAudit(operationId: string, stepKey: string): Promise<StepAuditRecord | null> {
    return this.#steps.getStepAudit(operationId, stepKey);
  }

  /** The newest steps run on this site, optionally of one operation, newest first. */
  listRecentStepAudits(filter: { operationId?: string; limit?: number } = {}): Promise<StepAuditRecord[]> {
    return this.#steps.listRecentStepAudits(filter);
  }

  /** Every step of an operation run on this site, in start order. */
  listStepAudits(operationId: string): Promise<StepAuditRecord[]> {
    return this.#steps.listStepAudits(operationId);
  }
}
