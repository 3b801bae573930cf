import { randomUUID } from 'node:crypto';
import { decryptSecret, encryptSecret, parseSecretKey, type SecretKey } from '@protector/platform/db';
import {
  arrayUrlProblem,
  flashArrayNameProblem,
  isProtectorError,
  ProtectorError,
  redactSecrets,
  urlProblem,
} from '@protector/schema';
import {
  Brackets,
  type DataSource,
  type EntityManager,
  type FindOneOptions,
  type FindOptionsWhere,
} from 'typeorm';
import { runInSiteTransaction, runSiteRead, siteDialect } from './data-source.js';
import {
  ENTITY,
  GLOBAL_SCOPE,
  type JsonValue,
  type MemberRow,
  type MemberVolumeRow,
  type ProtectionGroupRow,
  type ReplicationPolicyRow,
  type ResourceMappingRow,
  type SiteRow,
  type StepAuditRow,
  type TenantMappingRow,
} from './entities.js';
import { REDACTED, toJsonValue } from './redact.js';
import {
  MEMBER_STATUSES,
  type MemberInput,
  type MemberStatus,
  type MemberVolumeRecord,
  type Page,
  PROTECTION_GROUP_STATUSES,
  type ProtectionGroupFilter,
  type ProtectionGroupMember,
  type ProtectionGroupMetadata,
  type ProtectionGroupReplica,
  type ProtectionGroupStatus,
  REPLICATION_POLICY_STATUSES,
  REPLICATION_TYPES,
  RESOURCE_KINDS,
  type ReplicationPolicyInput,
  type ReplicationPolicyRecord,
  type ReplicationPolicyTokens,
  type ReplicationType,
  type ResourceKind,
  type ResourceMappingInput,
  type ResourceMappingRecord,
  type SiteRecord,
  type SiteResourceIds,
  type SiteRole,
  type SiteStatus,
  type StepAttempt,
  type StepAuditRecord,
  type StepStatus,
  SYNC_STATUSES,
  type SyncStatus,
  type TenantMappingRecord,
} from './types.js';

/** Page size when `first` is not given. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page `listProtectionGroups` returns. */
export const MAX_PAGE_SIZE = 500;

export interface SiteRepositoryOptions {
  /** Key that encrypts array tokens at rest: a `SecretKey`, 32 raw bytes, or 64 hex / base64 text. */
  readonly secretKey: SecretKey | Buffer | string;
}

/** Options of `applyProtectionGroupMetadata`. */
export interface ApplyMetadataOptions {
  /**
   * Version to store instead of `expectedVersion + 1`. Metadata sync uses it to bring a stale
   * replica level with the peer's version; it must be greater than `expectedVersion`.
   */
  readonly newVersion?: number;
}

/** Opens the repository layer over an initialized site data source. */
export const createSiteRepository = (
  dataSource: DataSource,
  options: SiteRepositoryOptions,
): SiteRepository => new SiteRepository(dataSource, options);

/**
 * The site service's persistence API: explicit methods over the site database, each in its own
 * transaction. Reads return plain records; array tokens are only ever returned by `decryptTokens`.
 */
export class SiteRepository {
  readonly #dataSource: DataSource;
  readonly #key: SecretKey;
  readonly #postgres: boolean;
  /** Steps running in this process, so a concurrent duplicate call joins instead of running twice. */
  readonly #stepsInFlight = new Map<string, Promise<unknown>>();

  constructor(dataSource: DataSource, options: SiteRepositoryOptions) {
    this.#dataSource = dataSource;
    const { secretKey } = options;
    this.#key = typeof secretKey === 'object' && 'keyId' in secretKey ? secretKey : parseSecretKey(secretKey);
    this.#postgres = siteDialect(dataSource) === 'postgres';
  }

  /** Fingerprint of the encryption key in use (safe to log). */
  get keyId(): string {
    return this.#key.keyId;
  }

  // ---------------------------------------------------------------- sites

  /** Registers or updates a site. Only one `local` and one `peer` site may exist. */
  async upsertSite(input: {
    name: string;
    role: SiteRole;
    authUrl: string;
    status?: SiteStatus;
  }): Promise<SiteRecord> {
    requireText('name', input.name, 64);
    oneOf('role', input.role, ['local', 'peer'] as const);
    requireUrl('authUrl', input.authUrl);
    if (input.status !== undefined)
      oneOf('status', input.status, ['active', 'unreachable', 'error'] as const);
    return this.#tx(async (m) => {
      const repo = m.getRepository<SiteRow>(ENTITY.site);
      const sameRole = await repo.findOneBy({ role: input.role });
      if (sameRole && sameRole.name !== input.name) {
        throw new ProtectorError(
          'ALREADY_EXISTS',
          `A ${input.role} site is already registered ('${sameRole.name}'); delete it before registering '${input.name}'`,
          { site: sameRole.name },
        );
      }
      const now = new Date();
      const existing = await repo.findOneBy({ name: input.name });
      const row: SiteRow = {
        name: input.name,
        role: input.role,
        authUrl: input.authUrl,
        status: input.status ?? existing?.status ?? 'active',
        registeredAt: existing?.registeredAt ?? now,
        updatedAt: now,
      };
      if (existing) await repo.update({ name: input.name }, row);
      else await repo.insert(row);
      return toSite(row);
    });
  }

  /** Every registered site, local first. */
  async listSites(): Promise<SiteRecord[]> {
    const rows = await this.#read((m) =>
      m.getRepository<SiteRow>(ENTITY.site).find({ order: { role: 'ASC' } }),
    );
    return rows.map(toSite);
  }

  async getSite(name: string): Promise<SiteRecord | null> {
    const row = await this.#read((m) => m.getRepository<SiteRow>(ENTITY.site).findOneBy({ name }));
    return row ? toSite(row) : null;
  }

  /** The site this service runs on, once registered. */
  async getLocalSite(): Promise<SiteRecord | null> {
    const row = await this.#read((m) => m.getRepository<SiteRow>(ENTITY.site).findOneBy({ role: 'local' }));
    return row ? toSite(row) : null;
  }

  async setSiteStatus(name: string, status: SiteStatus): Promise<void> {
    oneOf('status', status, ['active', 'unreachable', 'error'] as const);
    const result = await this.#tx((m) =>
      m.getRepository<SiteRow>(ENTITY.site).update({ name }, { status, updatedAt: new Date() }),
    );
    if (!result.affected)
      throw new ProtectorError('NOT_FOUND', `Site '${name}' is not registered`, { site: name });
  }

  async deleteSite(name: string): Promise<void> {
    const result = await this.#tx((m) => m.getRepository<SiteRow>(ENTITY.site).delete({ name }));
    if (!result.affected)
      throw new ProtectorError('NOT_FOUND', `Site '${name}' is not registered`, { site: name });
  }

  // ---------------------------------------------------------------- protection groups

  /**
   * Writes Protection Group metadata with compare-and-set, in one transaction: the stored
   * `metadataVersion` must equal `expectedVersion` (0 when the PG does not exist here yet), and
   * becomes `expectedVersion + 1` (or `options.newVersion`). `members`, when given, replaces the
   * member list; `replicationPolicy`, when given, replaces the policy.
   * @throws VERSION_CONFLICT with `details.current` when the versions differ.
   */
  async applyProtectionGroupMetadata(
    metadata: ProtectionGroupMetadata,
    expectedVersion: number,
    options: ApplyMetadataOptions = {},
  ): Promise<ProtectionGroupReplica> {
    requireCount('expectedVersion', expectedVersion);
    const newVersion = options.newVersion ?? expectedVersion + 1;
    requireCount('newVersion', newVersion);
    if (newVersion <= expectedVersion) {
      throw badInput(
        'newVersion',
        `must be greater than expectedVersion ${expectedVersion}, got ${newVersion}`,
      );
    }
    validateMetadata(metadata);
    return this.#tx(async (m) => {
      const repo = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup);
      const current = await repo.findOne({ where: { id: metadata.id }, ...this.#forUpdate() });
      const now = new Date();
      let row: ProtectionGroupRow;
      if (!current) {
        if (expectedVersion !== 0) throw versionConflict(metadata.name ?? metadata.id, 0, expectedVersion);
        row = newProtectionGroupRow(metadata, newVersion, now);
        await this.#assertNameFree(m, row.projectId, row.name, row.id);
        try {
          await repo.insert(row);
        } catch (err) {
          // Lost a race with a concurrent writer (another process on the same PostgreSQL).
          if (isUniqueViolation(err)) throw versionConflict(row.name, null, expectedVersion, err);
          throw err;
        }
      } else {
        if (current.metadataVersion !== expectedVersion) {
          throw versionConflict(current.name, current.metadataVersion, expectedVersion);
        }
        fixedAtCreation('replicationType', current.replicationType, metadata.replicationType, current.name);
        fixedAtCreation('projectId', current.projectId, metadata.projectId, current.name);
        row = mergeProtectionGroupRow(current, metadata, newVersion, now);
        if (row.name !== current.name) await this.#assertNameFree(m, row.projectId, row.name, row.id);
        const { id: _id, createdAt: _createdAt, ...changes } = row;
        const result = await repo
          .createQueryBuilder()
          .update()
          .set(changes)
          .where('id = :id AND metadata_version = :expectedVersion', { id: row.id, expectedVersion })
          .execute();
        if (!result.affected) throw versionConflict(current.name, null, expectedVersion);
      }
      if (metadata.members) await replaceMembers(m, row.id, metadata.members, now);
      if (metadata.replicationPolicy) await this.#putPolicy(m, row.id, metadata.replicationPolicy, now);
      return toProtectionGroup(row);
    });
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

  /**
   * Deletes a PG and, by cascade, its members, volumes, policy and PG-scoped mappings,
   * if its version is still `expectedVersion`.
   */
  async deleteProtectionGroup(id: string, expectedVersion: number): Promise<void> {
    requireCount('expectedVersion', expectedVersion);
    await this.#tx(async (m) => {
      const repo = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup);
      const current = await repo.findOne({ where: { id }, ...this.#forUpdate() });
      if (!current) throw pgNotFound(id);
      if (current.metadataVersion !== expectedVersion) {
        throw versionConflict(current.name, current.metadataVersion, expectedVersion);
      }
      const result = await repo.delete({ id, metadataVersion: expectedVersion });
      if (!result.affected) throw versionConflict(current.name, null, expectedVersion);
    });
  }

  async getProtectionGroup(id: string): Promise<ProtectionGroupReplica | null> {
    const row = await this.#read((m) =>
      m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup).findOneBy({ id }),
    );
    return row ? toProtectionGroup(row) : null;
  }

  /** Like `getProtectionGroup`, but a missing PG is a `NOT_FOUND` error. */
  async requireProtectionGroup(id: string): Promise<ProtectionGroupReplica> {
    const pg = await this.getProtectionGroup(id);
    if (!pg) throw pgNotFound(id);
    return pg;
  }

  async getProtectionGroupByName(projectId: string, name: string): Promise<ProtectionGroupReplica | null> {
    const row = await this.#read((m) =>
      m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup).findOneBy({ projectId, name }),
    );
    return row ? toProtectionGroup(row) : null;
  }

  /**
   * Lists PGs ordered by name (then id), `first` at a time after the opaque cursor `after`
   * (the `endCursor` of the previous page).
   */
  async listProtectionGroups(
    filter: ProtectionGroupFilter = {},
    paging: { first?: number; after?: string | null } = {},
  ): Promise<Page<ProtectionGroupReplica>> {
    const first = paging.first ?? DEFAULT_PAGE_SIZE;
    requireCount('first', first);
    if (first > MAX_PAGE_SIZE) throw badInput('first', `must be at most ${MAX_PAGE_SIZE}, got ${first}`);
    const cursor = paging.after ? decodeCursor(paging.after) : null;
    const projectIds = asList(filter.projectId);
    const statuses = asList(filter.status);
    for (const status of statuses ?? []) oneOf('filter.status', status, PROTECTION_GROUP_STATUSES);
    if (projectIds?.length === 0 || statuses?.length === 0) {
      return { nodes: [], totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null } };
    }
    return this.#read(async (m) => {
      const qb = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup).createQueryBuilder('pg');
      if (projectIds) qb.andWhere('pg.projectId IN (:...projectIds)', { projectIds });
      if (statuses) qb.andWhere('pg.status IN (:...statuses)', { statuses });
      if (filter.name !== undefined) qb.andWhere('pg.name = :name', { name: filter.name });
      const totalCount = await qb.getCount();
      if (cursor) {
        qb.andWhere(
          new Brackets((w) => {
            w.where('pg.name > :cursorName', { cursorName: cursor.name }).orWhere(
              'pg.name = :cursorName AND pg.id > :cursorId',
              { cursorId: cursor.id },
            );
          }),
        );
      }
      const rows = await qb
        .orderBy('pg.name', 'ASC')
        .addOrderBy('pg.id', 'ASC')
        .limit(first + 1)
        .getMany();
      const nodes = rows.slice(0, first).map(toProtectionGroup);
      const last = nodes.at(-1);
      return {
        nodes,
        totalCount,
        pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor(last) : null },
      };
    });
  }

  /**
   * Records the outcome of a metadata sync as seen by the coordinator. Site-local bookkeeping:
   * does not change `metadataVersion`.
   */
  async recordSyncStatus(
    id: string,
    outcome: { syncStatus: SyncStatus; error?: string | null; at?: Date },
  ): Promise<void> {
    oneOf('syncStatus', outcome.syncStatus, SYNC_STATUSES);
    const at = outcome.at ?? new Date();
    await this.#updatePg(id, {
      syncStatus: outcome.syncStatus,
      lastSyncError: outcome.error ?? null,
      ...(outcome.syncStatus === 'IN_SYNC' ? { lastSyncedAt: at } : {}),
    });
  }

  /** Records this site's Cinder consistency group of a group. Site-local: no version bump. */
  async recordConsistencyGroup(id: string, consistencyGroupId: string | null): Promise<void> {
    await this.#updatePg(id, { consistencyGroupId });
  }

  /** Records the time of the latest replicated recovery point. Site-local: no version bump. */
  async recordReplication(id: string, at: Date): Promise<void> {
    await this.#updatePg(id, { lastReplicationAt: at });
  }

  async #updatePg(id: string, changes: Partial<ProtectionGroupRow>): Promise<void> {
    const result = await this.#tx((m) =>
      m
        .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
        .update({ id }, { ...changes, updatedAt: new Date() }),
    );
    if (!result.affected) throw pgNotFound(id);
  }

  async #assertNameFree(m: EntityManager, projectId: string, name: string, id: string): Promise<void> {
    const other = await m
      .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
      .findOneBy({ projectId, name });
    if (other && other.id !== id) {
      throw new ProtectorError(
        'ALREADY_EXISTS',
        `Protection Group '${name}' already exists in project ${projectId}; choose another name`,
        { id: other.id },
      );
    }
  }

  // ---------------------------------------------------------------- members

  /** Members of a PG with their volumes, in name order. */
  async listMembers(protectionGroupId: string): Promise<ProtectionGroupMember[]> {
    return this.#read(async (m) => {
      const members = await m
        .getRepository<MemberRow>(ENTITY.member)
        .find({ where: { protectionGroupId }, order: { name: 'ASC', id: 'ASC' } });
      if (members.length === 0) return [];
      const volumes = await m
        .getRepository<MemberVolumeRow>(ENTITY.memberVolume)
        .createQueryBuilder('v')
        .where('v.memberId IN (:...ids)', { ids: members.map((row) => row.id) })
        .orderBy('v.position', 'ASC')
        .addOrderBy('v.id', 'ASC')
        .getMany();
      return members.map((row) => toMember(row, volumes.filter((v) => v.memberId === row.id).map(toVolume)));
    });
  }

  /**
   * Records site-local state of one member during an operation (its server here, its status, the
   * error). Does not change the PG's `metadataVersion`: the coordinator writes the final metadata.
   */
  async updateMemberState(
    memberId: string,
    state: {
      status?: MemberStatus;
      errorReason?: string | null;
      serverId?: string | null;
      siteServerIds?: SiteResourceIds;
    },
  ): Promise<void> {
    if (state.status !== undefined) oneOf('status', state.status, MEMBER_STATUSES);
    const changes: Partial<MemberRow> = { updatedAt: new Date() };
    if (state.status !== undefined) changes.status = state.status;
    if (state.errorReason !== undefined) changes.errorReason = state.errorReason;
    if (state.serverId !== undefined) changes.serverId = state.serverId;
    if (state.siteServerIds !== undefined) changes.siteServerIds = { ...state.siteServerIds };
    const result = await this.#tx((m) =>
      m.getRepository<MemberRow>(ENTITY.member).update({ id: memberId }, changes),
    );
    if (!result.affected)
      throw new ProtectorError('NOT_FOUND', `Member ${memberId} does not exist`, { memberId });
  }

  // ---------------------------------------------------------------- replication policy

  /** The policy of a PG without its tokens (only `hasPrimaryToken` / `hasSecondaryToken`). */
  async getReplicationPolicy(protectionGroupId: string): Promise<ReplicationPolicyRecord | null> {
    const row = await this.#read((m) => this.#loadPolicy(m, protectionGroupId));
    return row ? toPolicy(row) : null;
  }

  /**
   * Decrypts the array tokens of a PG's policy. For the engine's storage calls only: never pass
   * the result to a resolver or a logger.
   */
  async decryptTokens(protectionGroupId: string): Promise<ReplicationPolicyTokens> {
    const row = await this.#read((m) => this.#loadPolicy(m, protectionGroupId));
    if (!row) {
      throw new ProtectorError(
        'NOT_FOUND',
        `Protection Group ${protectionGroupId} has no replication policy; create one with createReplicationPolicy`,
        { protectionGroupId },
      );
    }
    const open = (cipher: string | null, which: 'primary' | 'secondary') =>
      cipher === null ? null : decryptSecret(this.#key, cipher, tokenContext(protectionGroupId, which));
    return {
      primaryArrayToken: open(row.primaryTokenCipher, 'primary'),
      secondaryArrayToken: open(row.secondaryTokenCipher, 'secondary'),
    };
  }

  #loadPolicy(m: EntityManager, protectionGroupId: string): Promise<ReplicationPolicyRow | null> {
    return m
      .getRepository<ReplicationPolicyRow>(ENTITY.replicationPolicy)
      .createQueryBuilder('p')
      .addSelect(['p.primaryTokenCipher', 'p.secondaryTokenCipher'])
      .where('p.protectionGroupId = :protectionGroupId', { protectionGroupId })
      .getOne();
  }

  async #putPolicy(m: EntityManager, pgId: string, input: ReplicationPolicyInput, now: Date): Promise<void> {
    const existing = await this.#loadPolicy(m, pgId);
    const seal = (
      token: string | null | undefined,
      previous: string | null,
      which: 'primary' | 'secondary',
    ) =>
      token === undefined
        ? previous
        : token === null
          ? null
          : encryptSecret(this.#key, token, tokenContext(pgId, which));
    const row: ReplicationPolicyRow = {
      protectionGroupId: pgId,
      primaryArrayUrl: input.primaryArrayUrl,
      secondaryArrayUrl: input.secondaryArrayUrl,
      primaryTokenCipher: seal(input.primaryArrayToken, existing?.primaryTokenCipher ?? null, 'primary'),
      secondaryTokenCipher: seal(
        input.secondaryArrayToken,
        existing?.secondaryTokenCipher ?? null,
        'secondary',
      ),
      purePgName: input.purePgName === undefined ? (existing?.purePgName ?? null) : input.purePgName,
      replicationIntervalSeconds: input.replicationIntervalSeconds,
      rpoMinutes: input.rpoMinutes,
      status: input.status ?? existing?.status ?? 'active',
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    const repo = m.getRepository<ReplicationPolicyRow>(ENTITY.replicationPolicy);
    if (existing) await repo.update({ protectionGroupId: pgId }, row);
    else await repo.insert(row);
  }

  // ---------------------------------------------------------------- resource mappings

  /**
   * Replaces every mapping of one scope: a PG's (`protectionGroupId`) or the global ones (`null`).
   */
  async replaceResourceMappings(
    protectionGroupId: string | null,
    mappings: readonly ResourceMappingInput[],
  ): Promise<ResourceMappingRecord[]> {
    for (const [i, mapping] of mappings.entries()) validateMapping(mapping, `mappings[${i}]`);
    const scope = protectionGroupId ?? GLOBAL_SCOPE;
    return this.#tx(async (m) => {
      if (protectionGroupId !== null) {
        const pg = await m
          .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
          .findOneBy({ id: protectionGroupId });
        if (!pg) throw pgNotFound(protectionGroupId);
      }
      const repo = m.getRepository<ResourceMappingRow>(ENTITY.resourceMapping);
      await repo.delete({ scope });
      const rows = mappings.map(
        (mapping): ResourceMappingRow => ({
          id: randomUUID(),
          scope,
          protectionGroupId,
          ...pickMapping(mapping),
        }),
      );
      const seen = new Set<string>();
      for (const row of rows) {
        const key = [row.kind, row.sourceSite, row.sourceId, row.targetSite].join('\u0000');
        if (seen.has(key)) {
          throw badInput(
            'mappings',
            `map ${row.kind} ${row.sourceId} on ${row.sourceSite} to ${row.targetSite} only once`,
          );
        }
        seen.add(key);
      }
      if (rows.length > 0) await repo.insert(rows);
      return rows.map(toMapping);
    });
  }

  /** Mappings of one scope (a PG's, or the global ones for `null`). */
  async listResourceMappings(protectionGroupId: string | null): Promise<ResourceMappingRecord[]> {
    const rows = await this.#read((m) =>
      m.getRepository<ResourceMappingRow>(ENTITY.resourceMapping).find({
        where: { scope: protectionGroupId ?? GLOBAL_SCOPE },
        order: { kind: 'ASC', sourceSite: 'ASC', sourceId: 'ASC' },
      }),
    );
    return rows.map(toMapping);
  }

  /**
   * Forward lookup: the id on `targetSite` of resource `sourceId` on `sourceSite`. A PG's own
   * mapping wins over a global one; `null` when neither exists.
   */
  async resolveResourceMapping(query: {
    protectionGroupId?: string | null;
    kind: ResourceKind;
    sourceSite: string;
    sourceId: string;
    targetSite: string;
  }): Promise<string | null> {
    const { protectionGroupId, ...where } = query;
    const row = await this.#findScoped(protectionGroupId ?? null, where);
    return row?.targetId ?? null;
  }

  /**
   * Reverse lookup (failback): the id on `sourceSite` of the resource that maps to `targetId` on
   * `targetSite`. A PG's own mapping wins over a global one; `null` when neither exists.
   */
  async reverseResourceMapping(query: {
    protectionGroupId?: string | null;
    kind: ResourceKind;
    targetSite: string;
    targetId: string;
    sourceSite: string;
  }): Promise<string | null> {
    const { protectionGroupId, ...where } = query;
    const row = await this.#findScoped(protectionGroupId ?? null, where);
    return row?.sourceId ?? null;
  }

  #findScoped(protectionGroupId: string | null, where: FindOptionsWhere<ResourceMappingRow>) {
    const scopes = protectionGroupId === null ? [GLOBAL_SCOPE] : [protectionGroupId, GLOBAL_SCOPE];
    return this.#read(async (m) => {
      const repo = m.getRepository<ResourceMappingRow>(ENTITY.resourceMapping);
      for (const scope of scopes) {
        // ordered so the answer is stable if one target id was mapped from two sources
        const row = await repo.findOne({
          where: { ...where, scope },
          order: { sourceId: 'ASC', targetId: 'ASC' },
        });
        if (row) return row;
      }
      return null;
    });
  }

  // ---------------------------------------------------------------- tenant mappings

  /** Maps a project on this site to one on the peer, replacing this project's previous mapping. */
  async putTenantMapping(input: {
    localSite: string;
    localProjectId: string;
    peerSite: string;
    peerProjectId: string;
  }): Promise<TenantMappingRecord> {
    requireText('localSite', input.localSite, 64);
    requireText('localProjectId', input.localProjectId, 64);
    requireText('peerSite', input.peerSite, 64);
    requireText('peerProjectId', input.peerProjectId, 64);
    return this.#tx(async (m) => {
      const repo = m.getRepository<TenantMappingRow>(ENTITY.tenantMapping);
      const taken = await repo.findOneBy({ peerSite: input.peerSite, peerProjectId: input.peerProjectId });
      if (taken && !(taken.localSite === input.localSite && taken.localProjectId === input.localProjectId)) {
        throw new ProtectorError(
          'ALREADY_EXISTS',
          `Project ${input.peerProjectId} on ${input.peerSite} is already mapped to project ${taken.localProjectId}; remove that mapping first`,
        );
      }
      const existing = await repo.findOneBy({
        localSite: input.localSite,
        localProjectId: input.localProjectId,
      });
      const row: TenantMappingRow = {
        id: existing?.id ?? randomUUID(),
        ...input,
        createdAt: existing?.createdAt ?? new Date(),
      };
      if (existing) await repo.update({ id: row.id }, row);
      else await repo.insert(row);
      return { ...row };
    });
  }

  /** The peer project of a local project, or null. */
  async peerProjectFor(localProjectId: string): Promise<TenantMappingRecord | null> {
    const row = await this.#read((m) =>
      m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).findOneBy({ localProjectId }),
    );
    return row ? { ...row } : null;
  }

  /** The local project of a peer project, or null. */
  async localProjectFor(peerProjectId: string): Promise<TenantMappingRecord | null> {
    const row = await this.#read((m) =>
      m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).findOneBy({ peerProjectId }),
    );
    return row ? { ...row } : null;
  }

  async listTenantMappings(): Promise<TenantMappingRecord[]> {
    const rows = await this.#read((m) =>
      m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).find({ order: { localProjectId: 'ASC' } }),
    );
    return rows.map((row) => ({ ...row }));
  }

  async deleteTenantMapping(localProjectId: string): Promise<void> {
    const result = await this.#tx((m) =>
      m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).delete({ localProjectId }),
    );
    if (!result.affected) {
      throw new ProtectorError('NOT_FOUND', `Project ${localProjectId} has no tenant mapping`, {
        localProjectId,
      });
    }
  }

  // ---------------------------------------------------------------- step audit / idempotency

  /**
   * Runs one operation step at most once to success. The `(operationId, stepKey)` audit row is the
   * idempotency record:
   * - succeeded before: returns the stored result without calling `fn`;
   * - `running` (an earlier attempt crashed) or `failed`: calls `fn` again with `attempt + 1`
   *   (steps are idempotent, so a re-run after a crash is safe);
   * - `fn` throws: records the error code and message, then rethrows the original error.
   * Concurrent calls with the same key in this process share one run. The result must be JSON data:
   * it is returned as it reads back from the database (dates as ISO strings), on the first run too,
   * and must not contain secrets. `request` is stored with secrets redacted.
   */
  runStepOnce<T>(
    operationId: string,
    stepKey: string,
    name: string,
    request: unknown,
    fn: (attempt: StepAttempt) => Promise<T>,
  ): Promise<T> {
    requireText('operationId', operationId, 64);
    requireText('stepKey', stepKey, 255);
    requireText('name', name, 255);
    const key = `${operationId}\u0000${stepKey}`;
    const inFlight = this.#stepsInFlight.get(key);
    if (inFlight) return inFlight as Promise<T>;
    const run = this.#runStep(operationId, stepKey, name, request, fn).finally(() =>
      this.#stepsInFlight.delete(key),
    );
    this.#stepsInFlight.set(key, run);
    return run;
  }

  async #runStep<T>(
    operationId: string,
    stepKey: string,
    name: string,
    request: unknown,
    fn: (attempt: StepAttempt) => Promise<T>,
  ): Promise<T> {
    const claim = await this.#claimStep(
      operationId,
      stepKey,
      name,
      redactSecrets(toJsonValue(request), REDACTED),
    );
    if (claim.kind === 'done') return claim.result as T;
    let stored: JsonValue;
    try {
      stored = toJsonValue(await fn(claim.attempt));
    } catch (err) {
      await this.#finishStep(claim.id, claim.attempt.attempt, {
        status: 'failed',
        errorCode: isProtectorError(err) ? err.code : 'INTERNAL',
        errorMessage: (err instanceof Error ? err.message : String(err)).slice(0, 4000),
      }).catch(() => undefined); // the step's own error matters more than a failed audit write
      throw err;
    }
    await this.#finishStep(claim.id, claim.attempt.attempt, { status: 'succeeded', result: stored });
    return stored as T;
  }

  async #claimStep(
    operationId: string,
    stepKey: string,
    name: string,
    request: JsonValue,
  ): Promise<{ kind: 'done'; result: unknown } | { kind: 'run'; id: string; attempt: StepAttempt }> {
    for (let tries = 0; ; tries += 1) {
      try {
        return await this.#tx(async (m) => {
          const repo = m.getRepository<StepAuditRow>(ENTITY.stepAudit);
          const row = await repo.findOne({ where: { operationId, stepKey }, ...this.#forUpdate() });
          const now = new Date();
          if (row?.status === 'succeeded') return { kind: 'done' as const, result: row.result };
          if (row) {
            const attempt = row.attempt + 1;
            await repo.update(
              { id: row.id },
              {
                name,
                status: 'running',
                attempt,
                request,
                result: null,
                errorCode: null,
                errorMessage: null,
                startedAt: now,
                finishedAt: null,
              },
            );
            return {
              kind: 'run' as const,
              id: row.id,
              attempt: { attempt, previousStatus: row.status as StepStatus },
            };
          }
          const id = randomUUID();
          await repo.insert({
            id,
            operationId,
            stepKey,
            name,
            status: 'running',
            attempt: 1,
            request,
            result: null,
            errorCode: null,
            errorMessage: null,
            startedAt: now,
            finishedAt: null,
          });
          return { kind: 'run' as const, id, attempt: { attempt: 1, previousStatus: null } };
        });
      } catch (err) {
        // another process inserted the same step between our read and insert: read it again
        if (tries === 0 && isUniqueViolation(err)) continue;
        throw err;
      }
    }
  }

  async #finishStep(id: string, attempt: number, outcome: Partial<StepAuditRow>): Promise<void> {
    // Only the attempt that claimed the row may close it; a newer attempt elsewhere owns it now.
    await this.#tx((m) =>
      m
        .getRepository<StepAuditRow>(ENTITY.stepAudit)
        .update({ id, attempt }, { ...outcome, finishedAt: new Date() }),
    );
  }

  async getStepAudit(operationId: string, stepKey: string): Promise<StepAuditRecord | null> {
    const row = await this.#read((m) =>
      m.getRepository<StepAuditRow>(ENTITY.stepAudit).findOneBy({ operationId, stepKey }),
    );
    return row ? toStepAudit(row) : null;
  }

  /** The newest steps run on this site, optionally of one operation, newest first. */
  async listRecentStepAudits(
    filter: { operationId?: string; limit?: number } = {},
  ): Promise<StepAuditRecord[]> {
    const rows = await this.#read((m) =>
      m.getRepository<StepAuditRow>(ENTITY.stepAudit).find({
        where: filter.operationId ? { operationId: filter.operationId } : {},
        order: { startedAt: 'DESC', stepKey: 'DESC' },
        take: Math.min(Math.max(filter.limit ?? 100, 1), 1000),
      }),
    );
    return rows.map(toStepAudit);
  }

  /** Every step of an operation run on this site, in start order. */
  async listStepAudits(operationId: string): Promise<StepAuditRecord[]> {
    const rows = await this.#read((m) =>
      m
        .getRepository<StepAuditRow>(ENTITY.stepAudit)
        .find({ where: { operationId }, order: { startedAt: 'ASC', stepKey: 'ASC' } }),
    );
    return rows.map(toStepAudit);
  }

  // ---------------------------------------------------------------- plumbing

  #tx<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return runInSiteTransaction(this.#dataSource, work);
  }

  #read<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return runSiteRead(this.#dataSource, work);
  }

  /** Row lock for read-then-write in a transaction; SQLite needs none (one writer, queued). */
  #forUpdate(): Pick<FindOneOptions, 'lock'> {
    return this.#postgres ? { lock: { mode: 'pessimistic_write' } } : {};
  }
}

// ------------------------------------------------------------------ metadata helpers

function newProtectionGroupRow(md: ProtectionGroupMetadata, version: number, now: Date): ProtectionGroupRow {
  const missing = (
    ['name', 'projectId', 'replicationType', 'currentPrimarySite', 'secondarySite'] as const
  ).filter((field) => md[field] === undefined);
  if (missing.length > 0) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Protection Group ${md.id} does not exist on this site; creating it needs ${missing.join(', ')}`,
      { missing },
    );
  }
  return {
    id: md.id,
    name: md.name!,
    description: md.description ?? null,
    projectId: md.projectId!,
    replicationType: md.replicationType!,
    status: md.status ?? 'active',
    statusReason: md.statusReason ?? null,
    currentPrimarySite: md.currentPrimarySite!,
    secondarySite: md.secondarySite!,
    metadataVersion: version,
    syncStatus: md.syncStatus ?? 'IN_SYNC',
    lastSyncedAt: null,
    lastSyncError: null,
    lastReplicationAt: md.lastReplicationAt ?? null,
    storageGroupName: md.storageGroupName ?? null,
    consistencyGroupId: md.consistencyGroupId ?? null,
    volumeType: md.volumeType ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

function mergeProtectionGroupRow(
  current: ProtectionGroupRow,
  md: ProtectionGroupMetadata,
  version: number,
  now: Date,
): ProtectionGroupRow {
  const pick = <K extends keyof ProtectionGroupMetadata & keyof ProtectionGroupRow>(field: K) =>
    (md[field] === undefined ? current[field] : md[field]) as ProtectionGroupRow[K];
  return {
    ...current,
    name: pick('name'),
    description: pick('description'),
    status: pick('status'),
    statusReason: pick('statusReason'),
    currentPrimarySite: pick('currentPrimarySite'),
    secondarySite: pick('secondarySite'),
    syncStatus: pick('syncStatus'),
    lastReplicationAt: pick('lastReplicationAt'),
    storageGroupName: pick('storageGroupName'),
    consistencyGroupId: pick('consistencyGroupId'),
    volumeType: pick('volumeType'),
    metadataVersion: version,
    updatedAt: now,
  };
}

async function replaceMembers(m: EntityManager, pgId: string, members: readonly MemberInput[], now: Date) {
  const memberRepo = m.getRepository<MemberRow>(ENTITY.member);
  // volumes go with their members (ON DELETE CASCADE)
  await memberRepo.delete({ protectionGroupId: pgId });
  const memberRows: MemberRow[] = [];
  const volumeRows: MemberVolumeRow[] = [];
  for (const member of members) {
    const memberId = member.id ?? randomUUID();
    memberRows.push({
      id: memberId,
      protectionGroupId: pgId,
      serverId: member.serverId ?? null,
      name: member.name,
      status: member.status ?? 'protected',
      siteServerIds: { ...member.siteServerIds },
      sitePlacements: member.sitePlacements ? { ...member.sitePlacements } : null,
      bootPriority: member.bootPriority ?? 3,
      errorReason: member.errorReason ?? null,
      createdAt: now,
      updatedAt: now,
    });
    for (const [position, volume] of (member.volumes ?? []).entries()) {
      volumeRows.push({
        id: volume.id ?? randomUUID(),
        memberId,
        position,
        volumeId: volume.volumeId ?? null,
        arrayVolumeName: volume.arrayVolumeName ?? null,
        sizeGb: volume.sizeGb,
        bootIndex: volume.bootIndex ?? null,
        deviceName: volume.deviceName ?? null,
        volumeType: volume.volumeType ?? null,
        siteVolumeIds: { ...volume.siteVolumeIds },
      });
    }
  }
  if (memberRows.length > 0) await memberRepo.insert(memberRows);
  if (volumeRows.length > 0) await m.getRepository<MemberVolumeRow>(ENTITY.memberVolume).insert(volumeRows);
}

function validateMetadata(md: ProtectionGroupMetadata): void {
  requireUuid('id', md.id);
  if (md.name !== undefined) requireText('name', md.name, 255);
  if (md.projectId !== undefined) requireText('projectId', md.projectId, 64);
  if (md.replicationType !== undefined) oneOf('replicationType', md.replicationType, REPLICATION_TYPES);
  if (md.status !== undefined) oneOf('status', md.status, PROTECTION_GROUP_STATUSES);
  if (md.syncStatus !== undefined) oneOf('syncStatus', md.syncStatus, SYNC_STATUSES);
  if (md.currentPrimarySite !== undefined) requireText('currentPrimarySite', md.currentPrimarySite, 64);
  if (md.secondarySite !== undefined) requireText('secondarySite', md.secondarySite, 64);
  const primary = md.currentPrimarySite;
  if (primary !== undefined && primary === md.secondarySite) {
    throw badInput('secondarySite', `must differ from currentPrimarySite '${primary}'`);
  }
  if (md.storageGroupName != null) requireFlashArrayName('storageGroupName', md.storageGroupName);
  if (md.lastReplicationAt != null && Number.isNaN(new Date(md.lastReplicationAt).getTime())) {
    throw badInput('lastReplicationAt', 'must be a valid date');
  }
  const serverIds = new Set<string>();
  md.members?.forEach((member, i) => {
    const at = `members[${i}]`;
    if (member.id !== undefined) requireUuid(`${at}.id`, member.id);
    requireText(`${at}.name`, member.name, 255);
    if (member.status !== undefined) oneOf(`${at}.status`, member.status, MEMBER_STATUSES);
    if (
      member.bootPriority !== undefined &&
      !(Number.isInteger(member.bootPriority) && member.bootPriority >= 1 && member.bootPriority <= 5)
    ) {
      throw badInput(`${at}.bootPriority`, `must be a whole number from 1 to 5, got ${member.bootPriority}`);
    }
    if (member.serverId != null) {
      if (serverIds.has(member.serverId))
        throw badInput(`${at}.serverId`, `server ${member.serverId} is listed twice`);
      serverIds.add(member.serverId);
    }
    member.volumes?.forEach((volume, j) => {
      if (volume.id !== undefined) requireUuid(`${at}.volumes[${j}].id`, volume.id);
      if (!Number.isInteger(volume.sizeGb) || volume.sizeGb <= 0) {
        throw badInput(
          `${at}.volumes[${j}].sizeGb`,
          `must be a positive whole number of GiB, got ${volume.sizeGb}`,
        );
      }
    });
  });
  if (md.replicationPolicy) validatePolicy(md.replicationPolicy);
}

function validatePolicy(policy: ReplicationPolicyInput): void {
  requireUrl('replicationPolicy.primaryArrayUrl', policy.primaryArrayUrl, arrayUrlProblem);
  requireUrl('replicationPolicy.secondaryArrayUrl', policy.secondaryArrayUrl, arrayUrlProblem);
  for (const field of ['primaryArrayToken', 'secondaryArrayToken'] as const) {
    const token = policy[field];
    if (typeof token === 'string' && token.trim() === '') {
      throw badInput(`replicationPolicy.${field}`, 'must not be empty; pass null to remove the token');
    }
  }
  if (policy.purePgName != null) requireFlashArrayName('replicationPolicy.purePgName', policy.purePgName);
  for (const field of ['replicationIntervalSeconds', 'rpoMinutes'] as const) {
    const value = policy[field];
    if (!Number.isInteger(value) || value <= 0) {
      throw badInput(`replicationPolicy.${field}`, `must be a positive whole number, got ${value}`);
    }
  }
  if (policy.status !== undefined)
    oneOf('replicationPolicy.status', policy.status, REPLICATION_POLICY_STATUSES);
}

function validateMapping(mapping: ResourceMappingInput, at: string): void {
  oneOf(`${at}.kind`, mapping.kind, RESOURCE_KINDS);
  requireText(`${at}.sourceSite`, mapping.sourceSite, 64);
  requireText(`${at}.sourceId`, mapping.sourceId, 255);
  requireText(`${at}.targetSite`, mapping.targetSite, 64);
  requireText(`${at}.targetId`, mapping.targetId, 255);
  if (mapping.sourceSite === mapping.targetSite) {
    throw badInput(`${at}.targetSite`, `must differ from sourceSite '${mapping.sourceSite}'`);
  }
}

const pickMapping = (mapping: ResourceMappingInput) => ({
  kind: mapping.kind,
  sourceSite: mapping.sourceSite,
  sourceId: mapping.sourceId,
  targetSite: mapping.targetSite,
  targetId: mapping.targetId,
});

const tokenContext = (pgId: string, which: 'primary' | 'secondary') => `replication_policy:${pgId}:${which}`;

// ------------------------------------------------------------------ errors and validation

const badInput = (field: string, problem: string): ProtectorError =>
  new ProtectorError('BAD_USER_INPUT', `${field} ${problem}`, { field });

const pgNotFound = (id: string): ProtectorError =>
  new ProtectorError('NOT_FOUND', `Protection Group ${id} does not exist on this site`, { id });

/** `current` is null when a concurrent writer changed the row after we read it. */
function versionConflict(
  name: string,
  current: number | null,
  expected: number,
  cause?: unknown,
): ProtectorError {
  const message =
    current === null
      ? `Protection Group '${name}' was changed concurrently while expecting metadata version ${expected}; re-read it and retry`
      : current === 0
        ? `Protection Group '${name}' does not exist on this site (metadata version 0), expected ${expected}`
        : `Protection Group '${name}' is at metadata version ${current}, expected ${expected}`;
  return new ProtectorError('VERSION_CONFLICT', message, { current, expected }, { cause });
}

function fixedAtCreation(field: string, stored: string, given: string | undefined, name: string): void {
  if (given !== undefined && given !== stored) {
    throw badInput(field, `of Protection Group '${name}' is fixed at creation ('${stored}'), got '${given}'`);
  }
}

function requireText(field: string, value: unknown, maxLength: number): void {
  if (typeof value !== 'string' || value.trim() === '') throw badInput(field, 'must be a non-empty string');
  if (value.length > maxLength)
    throw badInput(field, `must be at most ${maxLength} characters, got ${value.length}`);
}

function requireCount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw badInput(field, `must be a whole number >= 0, got ${value}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function requireUuid(field: string, value: string): void {
  if (typeof value !== 'string' || !UUID.test(value)) throw badInput(field, `must be a UUID, got '${value}'`);
}

function requireUrl(field: string, value: string, rule: (url: string) => string | null = urlProblem): void {
  const problem = rule(value);
  if (problem) throw badInput(field, `'${value}' ${problem}`);
}

function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): asserts value is T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw badInput(field, `must be one of ${allowed.join(', ')}, got '${value}'`);
  }
}

function requireFlashArrayName(field: string, value: string): void {
  const problem = flashArrayNameProblem(value);
  if (problem) throw new ProtectorError('INVALID_NAME', `${field}: ${problem}`, { field });
}

/** Unique-constraint violation on SQLite (`SQLITE_CONSTRAINT_*`) or PostgreSQL (23505). */
function isUniqueViolation(err: unknown): boolean {
  const driverError = (err as { driverError?: { code?: unknown } } | null)?.driverError;
  const code = driverError?.code ?? (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const asList = <T>(value: T | readonly T[] | undefined): readonly T[] | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value as T];

// ------------------------------------------------------------------ cursors

const CURSOR_PREFIX = 'pg1';

function encodeCursor(pg: ProtectionGroupReplica): string {
  return Buffer.from(JSON.stringify([CURSOR_PREFIX, pg.name, pg.id])).toString('base64url');
}

function decodeCursor(cursor: string): { name: string; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 3 && value[0] === CURSOR_PREFIX) {
      const [, name, id] = value as unknown[];
      if (typeof name === 'string' && typeof id === 'string') return { name, id };
    }
  } catch {
    // reported below
  }
  throw badInput('after', `'${cursor}' is not a cursor of this list; pass the endCursor of a previous page`);
}

// ------------------------------------------------------------------ row -> record

const toSite = (row: SiteRow): SiteRecord => ({
  name: row.name,
  role: row.role as SiteRole,
  authUrl: row.authUrl,
  status: row.status as SiteStatus,
  registeredAt: row.registeredAt,
  updatedAt: row.updatedAt,
});

const toProtectionGroup = (row: ProtectionGroupRow): ProtectionGroupReplica => ({
  id: row.id,
  name: row.name,
  description: row.description,
  projectId: row.projectId,
  replicationType: row.replicationType as ReplicationType,
  status: row.status as ProtectionGroupStatus,
  statusReason: row.statusReason,
  currentPrimarySite: row.currentPrimarySite,
  secondarySite: row.secondarySite,
  metadataVersion: row.metadataVersion,
  syncStatus: row.syncStatus as SyncStatus,
  lastSyncedAt: row.lastSyncedAt,
  lastSyncError: row.lastSyncError,
  lastReplicationAt: row.lastReplicationAt === null ? null : new Date(row.lastReplicationAt),
  storageGroupName: row.storageGroupName,
  consistencyGroupId: row.consistencyGroupId,
  volumeType: row.volumeType,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const toMember = (row: MemberRow, volumes: MemberVolumeRecord[]): ProtectionGroupMember => ({
  id: row.id,
  protectionGroupId: row.protectionGroupId,
  serverId: row.serverId,
  name: row.name,
  status: row.status as MemberStatus,
  siteServerIds: row.siteServerIds ?? {},
  sitePlacements: row.sitePlacements ?? {},
  bootPriority: row.bootPriority ?? 3,
  errorReason: row.errorReason,
  volumes,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const toVolume = (row: MemberVolumeRow): MemberVolumeRecord => ({
  id: row.id,
  memberId: row.memberId,
  volumeId: row.volumeId,
  arrayVolumeName: row.arrayVolumeName,
  sizeGb: row.sizeGb,
  bootIndex: row.bootIndex,
  deviceName: row.deviceName,
  volumeType: row.volumeType,
  siteVolumeIds: row.siteVolumeIds ?? {},
});

/** Deliberately lists fields one by one: the cipher columns must never be copied into a record. */
const toPolicy = (row: ReplicationPolicyRow): ReplicationPolicyRecord => ({
  protectionGroupId: row.protectionGroupId,
  primaryArrayUrl: row.primaryArrayUrl,
  secondaryArrayUrl: row.secondaryArrayUrl,
  hasPrimaryToken: row.primaryTokenCipher !== null,
  hasSecondaryToken: row.secondaryTokenCipher !== null,
  purePgName: row.purePgName,
  replicationIntervalSeconds: row.replicationIntervalSeconds,
  rpoMinutes: row.rpoMinutes,
  status: row.status as ReplicationPolicyRecord['status'],
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const toMapping = (row: ResourceMappingRow): ResourceMappingRecord => ({
  id: row.id,
  protectionGroupId: row.protectionGroupId,
  kind: row.kind as ResourceKind,
  sourceSite: row.sourceSite,
  sourceId: row.sourceId,
  targetSite: row.targetSite,
  targetId: row.targetId,
});

const toStepAudit = (row: StepAuditRow): StepAuditRecord => ({
  id: row.id,
  operationId: row.operationId,
  stepKey: row.stepKey,
  name: row.name,
  status: row.status as StepStatus,
  attempt: row.attempt,
  request: row.request,
  result: row.result,
  errorCode: row.errorCode,
  errorMessage: row.errorMessage,
  startedAt: row.startedAt,
  finishedAt: row.finishedAt,
});
