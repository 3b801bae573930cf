import { EntitySchema, type EntitySchemaColumnOptions } from 'typeorm';

/**
 * Row shapes and TypeORM `EntitySchema`s of the site database. Rows stay inside `db/`; the repository
 * maps them to the records in `types.ts`. Schemas are built per dialect because SQLite has no
 * `timestamptz`; everything else is the same on both. Names of tables, indices and foreign keys
 * are fixed here and reused by the migrations so the two never drift (a test checks it).
 */

/** The two database families the site service runs on. */
export type SiteDatabaseDialect = 'sqlite' | 'postgres';

/** Entity names, used as repository targets. */
export const ENTITY = {
  site: 'Site',
  protectionGroup: 'ProtectionGroupReplica',
  member: 'Member',
  memberVolume: 'MemberVolume',
  replicationPolicy: 'ReplicationPolicy',
  resourceMapping: 'ResourceMapping',
  tenantMapping: 'TenantMapping',
  stepAudit: 'StepAudit',
} as const;

/** Table names. */
export const TABLE = {
  site: 'site',
  protectionGroup: 'protection_group_replica',
  member: 'member',
  memberVolume: 'member_volume',
  replicationPolicy: 'replication_policy',
  resourceMapping: 'resource_mapping',
  tenantMapping: 'tenant_mapping',
  stepAudit: 'step_audit',
} as const;

/** Index and foreign-key names shared by entities and migrations. */
export const CONSTRAINT = {
  siteRoleUnique: 'uq_site_role',
  pgProjectNameUnique: 'uq_pg_project_name',
  pgStatusIndex: 'ix_pg_status',
  pgNameOrderIndex: 'ix_pg_name_order',
  memberPgFk: 'fk_member_pg',
  memberPgIndex: 'ix_member_pg',
  memberPgServerUnique: 'uq_member_pg_server',
  volumeMemberFk: 'fk_member_volume_member',
  volumeMemberIndex: 'ix_member_volume_member',
  policyPgFk: 'fk_replication_policy_pg',
  mappingPgFk: 'fk_resource_mapping_pg',
  mappingSourceUnique: 'uq_resource_mapping_source',
  mappingTargetIndex: 'ix_resource_mapping_target',
  tenantLocalUnique: 'uq_tenant_mapping_local',
  tenantPeerUnique: 'uq_tenant_mapping_peer',
  stepOperationKeyUnique: 'uq_step_audit_operation_key',
} as const;

/** Column type of timestamps on each dialect. */
export const timestampType = (dialect: SiteDatabaseDialect): 'timestamptz' | 'datetime' =>
  dialect === 'postgres' ? 'timestamptz' : 'datetime';

export interface SiteRow {
  name: string;
  role: string;
  authUrl: string;
  status: string;
  registeredAt: Date;
  updatedAt: Date;
}

export interface ProtectionGroupRow {
  id: string;
  name: string;
  description: string | null;
  projectId: string;
  replicationType: string;
  status: string;
  statusReason: string | null;
  currentPrimarySite: string;
  secondarySite: string;
  metadataVersion: number;
  syncStatus: string;
  lastSyncedAt: Date | null;
  lastSyncError: string | null;
  lastReplicationAt: Date | null;
  storageGroupName: string | null;
  consistencyGroupId: string | null;
  volumeType: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberRow {
  id: string;
  protectionGroupId: string;
  serverId: string | null;
  name: string;
  status: string;
  siteServerIds: Record<string, string>;
  sitePlacements: Record<string, { flavorId: string | null; networkIds: readonly string[] }> | null;
  bootPriority: number;
  errorReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberVolumeRow {
  id: string;
  memberId: string;
  /** Order of the volume within its member, as given in metadata (attach order). */
  position: number;
  volumeId: string | null;
  arrayVolumeName: string | null;
  sizeGb: number;
  bootIndex: number | null;
  deviceName: string | null;
  volumeType: string | null;
  siteVolumeIds: Record<string, string>;
}

export interface ReplicationPolicyRow {
  protectionGroupId: string;
  primaryArrayUrl: string;
  secondaryArrayUrl: string;
  /** Envelope from `crypto.ts` (key id, iv, tag, ciphertext); never selected unless asked for. */
  primaryTokenCipher: string | null;
  secondaryTokenCipher: string | null;
  purePgName: string | null;
  replicationIntervalSeconds: number;
  rpoMinutes: number;
  status: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface ResourceMappingRow {
  id: string;
  /** The PG id, or `*` for a global mapping: lets one unique index cover both (NULLs are distinct). */
  scope: string;
  protectionGroupId: string | null;
  kind: string;
  sourceSite: string;
  sourceId: string;
  targetSite: string;
  targetId: string;
}

export interface TenantMappingRow {
  id: string;
  localSite: string;
  localProjectId: string;
  peerSite: string;
  peerProjectId: string;
  createdAt: Date;
}

export interface StepAuditRow {
  id: string;
  operationId: string;
  stepKey: string;
  name: string;
  status: string;
  attempt: number;
  request: StoredJson;
  result: StoredJson;
  errorCode: string | null;
  errorMessage: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** What a JSON column holds. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON column's value as TypeORM sees it (flat, so its deep-partial types stay finite). */
export type StoredJson = object | string | number | boolean | null;

/** Scope value of global resource mappings. */
export const GLOBAL_SCOPE = '*';

const str = (name: string, length: number, nullable = false): EntitySchemaColumnOptions => ({
  name,
  type: 'varchar',
  length,
  nullable,
});
const text = (name: string, nullable = true): EntitySchemaColumnOptions => ({ name, type: 'text', nullable });
const int = (name: string, nullable = false): EntitySchemaColumnOptions => ({
  name,
  type: 'integer',
  nullable,
});
const json = (name: string, nullable = false): EntitySchemaColumnOptions => ({
  name,
  type: 'json',
  nullable,
});

/** Builds the entity schemas for one dialect. */
export function buildSiteEntities(dialect: SiteDatabaseDialect): EntitySchema[] {
  const ts = (name: string, nullable = false): EntitySchemaColumnOptions => ({
    name,
    type: timestampType(dialect),
    nullable,
  });
  const uuid = (name: string): EntitySchemaColumnOptions => ({ ...str(name, 36), primary: true });

  const site = new EntitySchema<SiteRow>({
    name: ENTITY.site,
    tableName: TABLE.site,
    columns: {
      name: { ...str('name', 64), primary: true },
      role: str('role', 8),
      authUrl: str('auth_url', 512),
      status: str('status', 16),
      registeredAt: ts('registered_at'),
      updatedAt: ts('updated_at'),
    },
    indices: [{ name: CONSTRAINT.siteRoleUnique, columns: ['role'], unique: true }],
  });

  const protectionGroup = new EntitySchema<ProtectionGroupRow>({
    name: ENTITY.protectionGroup,
    tableName: TABLE.protectionGroup,
    columns: {
      id: uuid('id'),
      name: str('name', 255),
      description: text('description'),
      projectId: str('project_id', 64),
      replicationType: str('replication_type', 8),
      status: str('status', 32),
      statusReason: text('status_reason'),
      currentPrimarySite: str('current_primary_site', 64),
      secondarySite: str('secondary_site', 64),
      metadataVersion: int('metadata_version'),
      syncStatus: str('sync_status', 16),
      lastSyncedAt: ts('last_synced_at', true),
      lastSyncError: text('last_sync_error'),
      lastReplicationAt: ts('last_replication_at', true),
      storageGroupName: str('storage_group_name', 63, true),
      consistencyGroupId: str('consistency_group_id', 64, true),
      volumeType: str('volume_type', 255, true),
      createdAt: ts('created_at'),
      updatedAt: ts('updated_at'),
    },
    indices: [
      { name: CONSTRAINT.pgProjectNameUnique, columns: ['projectId', 'name'], unique: true },
      { name: CONSTRAINT.pgStatusIndex, columns: ['status'] },
      { name: CONSTRAINT.pgNameOrderIndex, columns: ['name', 'id'] },
    ],
  });

  const member = new EntitySchema<MemberRow>({
    name: ENTITY.member,
    tableName: TABLE.member,
    columns: {
      id: uuid('id'),
      protectionGroupId: str('protection_group_id', 36),
      serverId: str('server_id', 64, true),
      name: str('name', 255),
      status: str('status', 32),
      siteServerIds: json('site_server_ids'),
      sitePlacements: json('site_placements', true),
      bootPriority: { name: 'boot_priority', type: 'integer', default: 3 },
      errorReason: text('error_reason'),
      createdAt: ts('created_at'),
      updatedAt: ts('updated_at'),
    },
    indices: [
      { name: CONSTRAINT.memberPgIndex, columns: ['protectionGroupId'] },
      { name: CONSTRAINT.memberPgServerUnique, columns: ['protectionGroupId', 'serverId'], unique: true },
    ],
    foreignKeys: [
      {
        name: CONSTRAINT.memberPgFk,
        target: ENTITY.protectionGroup,
        columnNames: ['protectionGroupId'],
        referencedColumnNames: ['id'],
        onDelete: 'CASCADE',
      },
    ],
  });

  const memberVolume = new EntitySchema<MemberVolumeRow>({
    name: ENTITY.memberVolume,
    tableName: TABLE.memberVolume,
    columns: {
      id: uuid('id'),
      memberId: str('member_id', 36),
      position: int('position'),
      volumeId: str('volume_id', 64, true),
      arrayVolumeName: str('array_volume_name', 255, true),
      sizeGb: int('size_gb'),
      bootIndex: int('boot_index', true),
      deviceName: str('device_name', 64, true),
      volumeType: str('volume_type', 255, true),
      siteVolumeIds: json('site_volume_ids'),
    },
    indices: [{ name: CONSTRAINT.volumeMemberIndex, columns: ['memberId'] }],
    foreignKeys: [
      {
        name: CONSTRAINT.volumeMemberFk,
        target: ENTITY.member,
        columnNames: ['memberId'],
        referencedColumnNames: ['id'],
        onDelete: 'CASCADE',
      },
    ],
  });

  const replicationPolicy = new EntitySchema<ReplicationPolicyRow>({
    name: ENTITY.replicationPolicy,
    tableName: TABLE.replicationPolicy,
    columns: {
      protectionGroupId: { ...str('protection_group_id', 36), primary: true },
      primaryArrayUrl: str('primary_array_url', 512),
      secondaryArrayUrl: str('secondary_array_url', 512),
      primaryTokenCipher: { ...text('primary_token_cipher'), select: false },
      secondaryTokenCipher: { ...text('secondary_token_cipher'), select: false },
      purePgName: str('pure_pg_name', 63, true),
      replicationIntervalSeconds: int('replication_interval'),
      rpoMinutes: int('rpo_minutes'),
      status: str('status', 16),
      createdAt: ts('created_at'),
      updatedAt: ts('updated_at'),
    },
    foreignKeys: [
      {
        name: CONSTRAINT.policyPgFk,
        target: ENTITY.protectionGroup,
        columnNames: ['protectionGroupId'],
        referencedColumnNames: ['id'],
        onDelete: 'CASCADE',
      },
    ],
  });

  const resourceMapping = new EntitySchema<ResourceMappingRow>({
    name: ENTITY.resourceMapping,
    tableName: TABLE.resourceMapping,
    columns: {
      id: uuid('id'),
      scope: str('scope', 36),
      protectionGroupId: str('protection_group_id', 36, true),
      kind: str('kind', 16),
      sourceSite: str('source_site', 64),
      sourceId: str('source_id', 255),
      targetSite: str('target_site', 64),
      targetId: str('target_id', 255),
    },
    indices: [
      {
        name: CONSTRAINT.mappingSourceUnique,
        columns: ['scope', 'kind', 'sourceSite', 'sourceId', 'targetSite'],
        unique: true,
      },
      { name: CONSTRAINT.mappingTargetIndex, columns: ['kind', 'targetSite', 'targetId'] },
    ],
    foreignKeys: [
      {
        name: CONSTRAINT.mappingPgFk,
        target: ENTITY.protectionGroup,
        columnNames: ['protectionGroupId'],
        referencedColumnNames: ['id'],
        onDelete: 'CASCADE',
      },
    ],
  });

  const tenantMapping = new EntitySchema<TenantMappingRow>({
    name: ENTITY.tenantMapping,
    tableName: TABLE.tenantMapping,
    columns: {
      id: uuid('id'),
      localSite: str('local_site', 64),
      localProjectId: str('local_project_id', 64),
      peerSite: str('peer_site', 64),
      peerProjectId: str('peer_project_id', 64),
      createdAt: ts('created_at'),
    },
    indices: [
      { name: CONSTRAINT.tenantLocalUnique, columns: ['localSite', 'localProjectId'], unique: true },
      { name: CONSTRAINT.tenantPeerUnique, columns: ['peerSite', 'peerProjectId'], unique: true },
    ],
  });

  const stepAudit = new EntitySchema<StepAuditRow>({
    name: ENTITY.stepAudit,
    tableName: TABLE.stepAudit,
    columns: {
      id: uuid('id'),
      operationId: str('operation_id', 64),
      stepKey: str('step_key', 255),
      name: str('name', 255),
      status: str('status', 16),
      attempt: int('attempt'),
      request: json('request', true),
      result: json('result', true),
      errorCode: str('error_code', 64, true),
      errorMessage: text('error_message'),
      startedAt: ts('started_at'),
      finishedAt: ts('finished_at', true),
    },
    indices: [{ name: CONSTRAINT.stepOperationKeyUnique, columns: ['operationId', 'stepKey'], unique: true }],
  });

  return [
    site,
    protectionGroup,
    member,
    memberVolume,
    replicationPolicy,
    resourceMapping,
    tenantMapping,
    stepAudit,
  ] as EntitySchema[];
}
