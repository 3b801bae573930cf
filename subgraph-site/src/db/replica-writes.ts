/**
 * Protection Group replica writes: metadata with compare-and-set on `metadataVersion` (create, merge,
 * delete), and the site-local bookkeeping that does not bump the version.
 */
import { ProtectorError } from '@protector/schema';
import type { EntityManager } from 'typeorm';
import { ENTITY, type ProtectionGroupRow } from './entities.js';
import { replaceMembers, validateMembers } from './members.js';
import { putPolicy, validatePolicy } from './policies.js';
import { toProtectionGroup } from './replica-reads.js';
import type { SiteDb } from './site-db.js';
import {
  PROTECTION_GROUP_STATUSES,
  type ProtectionGroupMetadata,
  type ProtectionGroupReplica,
  REPLICATION_TYPES,
  SYNC_STATUSES,
  type SyncStatus,
} from './types.js';
import {
  badInput,
  isUniqueViolation,
  oneOf,
  pgNotFound,
  requireCount,
  requireFlashArrayName,
  requireText,
  requireUuid,
} from './validation.js';

/** Options of `applyProtectionGroupMetadata`. */
export interface ApplyMetadataOptions {
  /**
   * Version to store instead of `expectedVersion + 1`. Metadata sync uses it to bring a stale
   * replica level with the peer's version; it must be greater than `expectedVersion`.
   */
  readonly newVersion?: number;
}

/**
 * Writes Protection Group metadata with compare-and-set, in one transaction: the stored
 * `metadataVersion` must equal `expectedVersion` (0 when the PG does not exist here yet), and
 * becomes `expectedVersion + 1` (or `options.newVersion`). `members`, when given, replaces the
 * member list; `replicationPolicy`, when given, replaces the policy.
 * @throws VERSION_CONFLICT with `details.current` when the versions differ.
 */
export async function applyProtectionGroupMetadata(
  db: SiteDb,
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
  return db.tx(async (m) => {
    const repo = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup);
    const current = await repo.findOne({ where: { id: metadata.id }, ...db.forUpdate() });
    const now = new Date();
    let row: ProtectionGroupRow;
    if (!current) {
      if (expectedVersion !== 0) throw versionConflict(metadata.name ?? metadata.id, 0, expectedVersion);
      row = newProtectionGroupRow(metadata, newVersion, now);
      await assertNameFree(m, row.projectId, row.name, row.id);
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
      if (row.name !== current.name) await assertNameFree(m, row.projectId, row.name, row.id);
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
    if (metadata.replicationPolicy) await putPolicy(m, db.key, row.id, metadata.replicationPolicy, now);
    return toProtectionGroup(row);
  });
}

/**
 * Deletes a PG and, by cascade, its members, volumes, policy and PG-scoped mappings,
 * if its version is still `expectedVersion`.
 */
export async function deleteProtectionGroup(db: SiteDb, id: string, expectedVersion: number): Promise<void> {
  requireCount('expectedVersion', expectedVersion);
  await db.tx(async (m) => {
    const repo = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup);
    const current = await repo.findOne({ where: { id }, ...db.forUpdate() });
    if (!current) throw pgNotFound(id);
    if (current.metadataVersion !== expectedVersion) {
      throw versionConflict(current.name, current.metadataVersion, expectedVersion);
    }
    const result = await repo.delete({ id, metadataVersion: expectedVersion });
    if (!result.affected) throw versionConflict(current.name, null, expectedVersion);
  });
}

/**
 * Records the outcome of a metadata sync as seen by the coordinator. Site-local bookkeeping:
 * does not change `metadataVersion`.
 */
export async function recordSyncStatus(
  db: SiteDb,
  id: string,
  outcome: { syncStatus: SyncStatus; error?: string | null; at?: Date },
): Promise<void> {
  oneOf('syncStatus', outcome.syncStatus, SYNC_STATUSES);
  const at = outcome.at ?? new Date();
  await updatePg(db, id, {
    syncStatus: outcome.syncStatus,
    lastSyncError: outcome.error ?? null,
    ...(outcome.syncStatus === 'IN_SYNC' ? { lastSyncedAt: at } : {}),
  });
}

/** Records this site's Cinder consistency group of a group. Site-local: no version bump. */
export async function recordConsistencyGroup(
  db: SiteDb,
  id: string,
  consistencyGroupId: string | null,
): Promise<void> {
  await updatePg(db, id, { consistencyGroupId });
}

/**
 * Records the time of the latest replicated recovery point of each PG, all in one transaction (the
 * replication monitor records every point a poll saw at once). Site-local: no version bump. A PG that
 * no longer exists has nothing to record: skipped. Returns how many were recorded.
 */
export async function recordReplications(
  db: SiteDb,
  points: readonly { readonly id: string; readonly at: Date }[],
): Promise<number> {
  if (!points.length) return 0;
  return db.tx(async (m) => {
    // One statement text for every point, its values bound as the entity would persist them: a poll
    // records hundreds of points, and a query builder per row cost more than the writes. The PG's
    // `updatedAt` stays: a point landing changes no metadata (`protectionGroupsMark` stays too).
    const meta = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup).metadata;
    const driver = m.connection.driver;
    const column = (property: keyof ProtectionGroupRow) => meta.findColumnWithPropertyName(property)!;
    const [at, id] = [column('lastReplicationAt'), column('id')];
    const sql = `UPDATE ${driver.escape(meta.tablePath)} SET ${driver.escape(at.databaseName)} = :at WHERE ${driver.escape(id.databaseName)} = :id`;
    let recorded = 0;
    for (const point of points) {
      const [query, parameters] = driver.escapeQueryWithParameters(sql, {
        at: driver.preparePersistentValue(point.at, at),
        id: point.id,
      });
      recorded += (await m.queryRunner!.query(query, parameters, true)).affected ?? 0;
    }
    return recorded;
  });
}

async function updatePg(db: SiteDb, id: string, changes: Partial<ProtectionGroupRow>): Promise<void> {
  const result = await db.tx((m) =>
    m
      .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
      .update({ id }, { ...changes, updatedAt: new Date() }),
  );
  if (!result.affected) throw pgNotFound(id);
}

async function assertNameFree(m: EntityManager, projectId: string, name: string, id: string): Promise<void> {
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

// ------------------------------------------------------------------ metadata -> row

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

// ------------------------------------------------------------------ checks and errors

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
  if (md.members) validateMembers(md.members);
  if (md.replicationPolicy) validatePolicy(md.replicationPolicy);
}

function fixedAtCreation(field: string, stored: string, given: string | undefined, name: string): void {
  if (given !== undefined && given !== stored) {
    throw badInput(field, `of Protection Group '${name}' is fixed at creation ('${stored}'), got '${given}'`);
  }
}

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
