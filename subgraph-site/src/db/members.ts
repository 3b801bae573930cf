/**
 * Members of a Protection Group and their volumes: reads in name order, site-local member state, the
 * wholesale replacement a metadata write makes, and the checks on member input.
 */
import { randomUUID } from 'node:crypto';
import { ProtectorError } from '@protector/schema';
import { type EntityManager, In } from 'typeorm';
import { ENTITY, type MemberRow, type MemberVolumeRow } from './entities.js';
import type { SiteDb } from './site-db.js';
import {
  MEMBER_STATUSES,
  type MemberInput,
  type MemberStatus,
  type MemberVolumeRecord,
  type ProtectionGroupMember,
  type SiteResourceIds,
} from './types.js';
import { badInput, oneOf, requireText, requireUuid } from './validation.js';

/** The site-local state of a member that `updateMemberState` may change. */
export interface MemberState {
  status?: MemberStatus;
  errorReason?: string | null;
  serverId?: string | null;
  siteServerIds?: SiteResourceIds;
}

/** Members of a PG with their volumes, in name order. */
export async function listMembers(db: SiteDb, protectionGroupId: string): Promise<ProtectionGroupMember[]> {
  return (await listMembersOf(db, [protectionGroupId])).get(protectionGroupId) ?? [];
}

/**
 * Members (with their volumes, in name order) of several PGs at once: two queries whatever their
 * number. Every id asked for is in the map, with `[]` for a PG without members.
 */
export async function listMembersOf(
  db: SiteDb,
  protectionGroupIds: readonly string[],
): Promise<Map<string, ProtectionGroupMember[]>> {
  const out = new Map<string, ProtectionGroupMember[]>(protectionGroupIds.map((id) => [id, []]));
  if (protectionGroupIds.length === 0) return out;
  return db.read(async (m) => {
    const members = await m
      .getRepository<MemberRow>(ENTITY.member)
      .createQueryBuilder('mb')
      .where('mb.protectionGroupId IN (:...ids)', { ids: [...new Set(protectionGroupIds)] })
      .orderBy('mb.name', 'ASC')
      .addOrderBy('mb.id', 'ASC')
      .getMany();
    if (members.length === 0) return out;
    const volumes = await m
      .getRepository<MemberVolumeRow>(ENTITY.memberVolume)
      .createQueryBuilder('v')
      .where('v.memberId IN (:...ids)', { ids: members.map((row) => row.id) })
      .orderBy('v.position', 'ASC')
      .addOrderBy('v.id', 'ASC')
      .getMany();
    const byMember = new Map<string, MemberVolumeRecord[]>();
    for (const v of volumes) byMember.set(v.memberId, [...(byMember.get(v.memberId) ?? []), toVolume(v)]);
    for (const row of members)
      out.get(row.protectionGroupId)!.push(toMember(row, byMember.get(row.id) ?? []));
    return out;
  });
}

/**
 * Records site-local state of one member during an operation (its server here, its status, the
 * error). Does not change the PG's `metadataVersion`: the coordinator writes the final metadata.
 */
export async function updateMemberState(db: SiteDb, memberId: string, state: MemberState): Promise<void> {
  if (state.status !== undefined) oneOf('status', state.status, MEMBER_STATUSES);
  const changes: Partial<MemberRow> = { updatedAt: new Date() };
  if (state.status !== undefined) changes.status = state.status;
  if (state.errorReason !== undefined) changes.errorReason = state.errorReason;
  if (state.serverId !== undefined) changes.serverId = state.serverId;
  if (state.siteServerIds !== undefined) changes.siteServerIds = { ...state.siteServerIds };
  const result = await db.tx((m) =>
    m.getRepository<MemberRow>(ENTITY.member).update({ id: memberId }, changes),
  );
  if (!result.affected)
    throw new ProtectorError('NOT_FOUND', `Member ${memberId} does not exist`, { memberId });
}

/**
 * Makes the PG's members (and their volumes) `members`, inside the caller's metadata transaction:
 * members no longer listed are deleted, new ones inserted, and only those whose row or volumes differ
 * are rewritten (keeping when they were added). A write of one member costs the same whatever the
 * group's size.
 */
export async function replaceMembers(
  m: EntityManager,
  pgId: string,
  members: readonly MemberInput[],
  now: Date,
) {
  const memberRepo = m.getRepository<MemberRow>(ENTITY.member);
  const volumeRepo = m.getRepository<MemberVolumeRow>(ENTITY.memberVolume);
  const before = new Map((await memberRepo.findBy({ protectionGroupId: pgId })).map((r) => [r.id, r]));
  const volumesBefore = new Map<string, MemberVolumeRow[]>();
  for (const ids of chunks([...before.keys()])) {
    for (const v of await volumeRepo.findBy({ memberId: In(ids) }))
      volumesBefore.set(v.memberId, [...(volumesBefore.get(v.memberId) ?? []), v]);
  }
  const memberRows: MemberRow[] = [];
  const volumeRows: MemberVolumeRow[] = [];
  const kept = new Set<string>();
  for (const member of members) {
    const memberId = member.id ?? randomUUID();
    const old = before.get(memberId);
    const row: MemberRow = {
      id: memberId,
      protectionGroupId: pgId,
      serverId: member.serverId ?? null,
      name: member.name,
      status: member.status ?? 'protected',
      siteServerIds: { ...member.siteServerIds },
      sitePlacements: member.sitePlacements ? { ...member.sitePlacements } : null,
      bootPriority: member.bootPriority ?? 3,
      errorReason: member.errorReason ?? null,
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
    };
    const oldVolumes = (volumesBefore.get(memberId) ?? []).sort((a, b) => a.position - b.position);
    const volumes = (member.volumes ?? []).map(
      (volume, position): MemberVolumeRow => ({
        // A volume given without id keeps the one it had at its position.
        id: volume.id ?? oldVolumes[position]?.id ?? randomUUID(),
        memberId,
        position,
        volumeId: volume.volumeId ?? null,
        arrayVolumeName: volume.arrayVolumeName ?? null,
        sizeGb: volume.sizeGb,
        bootIndex: volume.bootIndex ?? null,
        deviceName: volume.deviceName ?? null,
        volumeType: volume.volumeType ?? null,
        siteVolumeIds: { ...volume.siteVolumeIds },
      }),
    );
    if (old && sameMember(old, row) && sameVolumes(oldVolumes, volumes)) {
      kept.add(memberId);
      continue;
    }
    memberRows.push(row);
    volumeRows.push(...volumes);
  }
  // Changed members are written afresh; volumes go with their members (ON DELETE CASCADE).
  const gone = [...before.keys()].filter((id) => !kept.has(id));
  for (const ids of chunks(gone)) await memberRepo.delete({ id: In(ids) });
  for (const rows of chunks(memberRows)) await memberRepo.insert(rows);
  for (const rows of chunks(volumeRows)) await volumeRepo.insert(rows);
}

/** Rows per statement: well under the bound parameters SQLite and PostgreSQL take in one statement. */
const chunks = <T>(items: readonly T[], size = 500): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

const MEMBER_FIELDS = [
  'serverId',
  'name',
  'status',
  'siteServerIds',
  'sitePlacements',
  'bootPriority',
  'errorReason',
] as const;
const VOLUME_FIELDS = [
  'id',
  'position',
  'volumeId',
  'arrayVolumeName',
  'sizeGb',
  'bootIndex',
  'deviceName',
  'volumeType',
  'siteVolumeIds',
] as const;
const sameFields = <T>(fields: readonly (keyof T)[], a: T, b: T) =>
  fields.every((f) => canonical(a[f]) === canonical(b[f]));
const sameMember = (a: MemberRow, b: MemberRow) => sameFields(MEMBER_FIELDS, a, b);
const sameVolumes = (a: readonly MemberVolumeRow[], b: readonly MemberVolumeRow[]) =>
  a.length === b.length && a.every((v, i) => sameFields(VOLUME_FIELDS, v, b[i]!));
/** JSON with object keys in order, so `{a, b}` read back from a JSON column equals `{b, a}`. */
const canonical = (value: unknown): string =>
  JSON.stringify(value ?? null, (_, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y)))
      : v,
  );

/** Checks the `members` of a metadata write: ids, names, statuses, boot priorities, one entry per server. */
export function validateMembers(members: readonly MemberInput[]): void {
  const serverIds = new Set<string>();
  members.forEach((member, i) => {
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
}

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
