/**
 * Protection Group replica reads: by id or by name, and pages ordered by name with opaque cursors;
 * plus the row → `ProtectionGroupReplica` mapping the writes return too.
 */
import { Brackets } from 'typeorm';
import { ENTITY, type ProtectionGroupRow } from './entities.js';
import type { SiteDb } from './site-db.js';
import {
  type Page,
  PROTECTION_GROUP_STATUSES,
  type ProtectionGroupFilter,
  type ProtectionGroupReplica,
  type ProtectionGroupStatus,
  type ReplicationType,
  type SyncStatus,
} from './types.js';
import { badInput, oneOf, pgNotFound, requireCount } from './validation.js';

/** Page size when `first` is not given. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page `listProtectionGroups` returns. */
export const MAX_PAGE_SIZE = 500;

export async function getProtectionGroup(db: SiteDb, id: string): Promise<ProtectionGroupReplica | null> {
  return (await getProtectionGroups(db, [id])).get(id) ?? null;
}

/** Several PGs by id at once (one query); an id that does not exist is absent from the map. */
export async function getProtectionGroups(
  db: SiteDb,
  ids: readonly string[],
): Promise<Map<string, ProtectionGroupReplica>> {
  if (ids.length === 0) return new Map();
  const rows = await db.read((m) =>
    m
      .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
      .createQueryBuilder('pg')
      .where('pg.id IN (:...ids)', { ids: [...new Set(ids)] })
      .getMany(),
  );
  return new Map(rows.map((row) => [row.id, toProtectionGroup(row)]));
}

/** Like `getProtectionGroup`, but a missing PG is a `NOT_FOUND` error. */
export async function requireProtectionGroup(db: SiteDb, id: string): Promise<ProtectionGroupReplica> {
  const pg = await getProtectionGroup(db, id);
  if (!pg) throw pgNotFound(id);
  return pg;
}

export async function getProtectionGroupByName(
  db: SiteDb,
  projectId: string,
  name: string,
): Promise<ProtectionGroupReplica | null> {
  const row = await db.read((m) =>
    m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup).findOneBy({ projectId, name }),
  );
  return row ? toProtectionGroup(row) : null;
}

/**
 * Lists PGs ordered by name (by its bytes, then id), `first` at a time after the opaque cursor `after`
 * (the `endCursor` of the previous page).
 */
export async function listProtectionGroups(
  db: SiteDb,
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
  return db.read(async (m) => {
    const qb = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup).createQueryBuilder('pg');
    if (projectIds) qb.andWhere('pg.projectId IN (:...projectIds)', { projectIds });
    if (statuses) qb.andWhere('pg.status IN (:...statuses)', { statuses });
    if (filter.name !== undefined) qb.andWhere('pg.name = :name', { name: filter.name });
    const totalCount = await qb.getCount();
    const name = db.bytewise('pg.name');
    if (cursor) {
      qb.andWhere(
        new Brackets((w) => {
          w.where(`${name} > :cursorName`, { cursorName: cursor.name }).orWhere(
            `pg.name = :cursorName AND ${db.bytewise('pg.id')} > :cursorId`,
            { cursorId: cursor.id },
          );
        }),
      );
    }
    const rows = await qb
      .orderBy(name, 'ASC')
      .addOrderBy(db.bytewise('pg.id'), 'ASC')
      .limit(first + 1)
      .getMany();
    const nodes = rows.slice(0, first).map(toProtectionGroup);
    const last = nodes.at(-1);
    return {
      nodes,
      totalCount,
      pageInfo: { hasNextPage: rows.length > first, endCursor: last ? protectionGroupCursor(last) : null },
    };
  });
}

/**
 * A mark of every PG's metadata and policy: it changes whenever a PG is created, changed (a metadata
 * write bumps its version; policies change only with one) or deleted, and when site-local bookkeeping
 * other than `lastReplicationAt` is recorded. One aggregate query: a sweep lists every head only when
 * this changed.
 */
export async function protectionGroupsMark(db: SiteDb): Promise<string> {
  return db.read(async (m) => {
    const row = await m
      .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
      .createQueryBuilder('pg')
      .select('COUNT(*)', 'n')
      .addSelect('SUM(pg.metadataVersion)', 'v')
      .addSelect('MAX(pg.updatedAt)', 'u')
      .getRawOne<{ n: unknown; v: unknown; u: unknown }>();
    return `${row?.n}/${row?.v}/${row?.u instanceof Date ? row.u.toISOString() : row?.u}`;
  });
}

/** What background sweeps (replication monitor, storage state) need of a PG. */
export type ProtectionGroupHead = Pick<
  ProtectionGroupReplica,
  'id' | 'name' | 'projectId' | 'replicationType' | 'storageGroupName' | 'lastReplicationAt'
>;

/**
 * Every PG's head, in one query: no count, no order, only the columns a sweep reads, as raw rows (a
 * site's replication monitor reads them every few seconds; at 10,000 groups, pages of entities cost
 * it 100 ms a poll).
 */
export async function listProtectionGroupHeads(db: SiteDb): Promise<ProtectionGroupHead[]> {
  return db.read(async (m) => {
    const repo = m.getRepository<ProtectionGroupRow>(ENTITY.protectionGroup);
    const rows = await repo
      .createQueryBuilder('pg')
      .select('pg.id', 'id')
      .addSelect('pg.name', 'name')
      .addSelect('pg.projectId', 'projectId')
      .addSelect('pg.replicationType', 'replicationType')
      .addSelect('pg.storageGroupName', 'storageGroupName')
      .addSelect('pg.lastReplicationAt', 'lastReplicationAt')
      .getRawMany<Record<keyof ProtectionGroupHead, string | null>>();
    // The one date column, as the entity would read it on this database.
    const at = repo.metadata.findColumnWithPropertyName('lastReplicationAt')!;
    return rows.map((r) => ({
      id: r.id!,
      name: r.name!,
      projectId: r.projectId!,
      replicationType: r.replicationType as ReplicationType,
      storageGroupName: r.storageGroupName,
      lastReplicationAt:
        r.lastReplicationAt === null
          ? null
          : new Date(m.connection.driver.prepareHydratedValue(r.lastReplicationAt, at)),
    }));
  });
}

/** How many PGs (of `filter`) each site is the current primary of: one query, whatever their number. */
export async function countProtectionGroupsByPrimarySite(
  db: SiteDb,
  filter: Pick<ProtectionGroupFilter, 'projectId'> = {},
): Promise<Map<string, number>> {
  const projectIds = asList(filter.projectId);
  if (projectIds?.length === 0) return new Map();
  const rows = await db.read((m) => {
    const qb = m
      .getRepository<ProtectionGroupRow>(ENTITY.protectionGroup)
      .createQueryBuilder('pg')
      .select('pg.currentPrimarySite', 'site')
      .addSelect('COUNT(*)', 'count')
      .groupBy('pg.currentPrimarySite');
    if (projectIds) qb.where('pg.projectId IN (:...projectIds)', { projectIds });
    return qb.getRawMany<{ site: string; count: number | string }>();
  });
  return new Map(rows.map((r) => [r.site, Number(r.count)]));
}

export const toProtectionGroup = (row: ProtectionGroupRow): ProtectionGroupReplica => ({
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

const asList = <T>(value: T | readonly T[] | undefined): readonly T[] | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value as T];

// ------------------------------------------------------------------ cursors

const CURSOR_PREFIX = 'pg1';

/** The opaque cursor of a group's position in the list (its name, then id). */
export function protectionGroupCursor(pg: Pick<ProtectionGroupReplica, 'name' | 'id'>): string {
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
