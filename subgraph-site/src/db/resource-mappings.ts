/**
 * Resource mappings (which network, flavor or image on one site stands for one on the other), scoped
 * to a Protection Group or global: replace a scope, list it, and look up forward or in reverse.
 */
import { randomUUID } from 'node:crypto';
import type { FindOptionsWhere } from 'typeorm';
import { ENTITY, GLOBAL_SCOPE, type ProtectionGroupRow, type ResourceMappingRow } from './entities.js';
import type { SiteDb } from './site-db.js';
import {
  RESOURCE_KINDS,
  type ResourceKind,
  type ResourceMappingInput,
  type ResourceMappingRecord,
} from './types.js';
import { badInput, oneOf, pgNotFound, requireText } from './validation.js';

/** What `resolveResourceMapping` looks up: the id on `targetSite` of `sourceId` on `sourceSite`. */
export interface ForwardMappingQuery {
  protectionGroupId?: string | null;
  kind: ResourceKind;
  sourceSite: string;
  sourceId: string;
  targetSite: string;
}

/** What `reverseResourceMapping` looks up: the id on `sourceSite` that maps to `targetId` on `targetSite`. */
export interface ReverseMappingQuery {
  protectionGroupId?: string | null;
  kind: ResourceKind;
  targetSite: string;
  targetId: string;
  sourceSite: string;
}

/**
 * Replaces every mapping of one scope: a PG's (`protectionGroupId`) or the global ones (`null`).
 */
export async function replaceResourceMappings(
  db: SiteDb,
  protectionGroupId: string | null,
  mappings: readonly ResourceMappingInput[],
): Promise<ResourceMappingRecord[]> {
  for (const [i, mapping] of mappings.entries()) validateMapping(mapping, `mappings[${i}]`);
  const scope = protectionGroupId ?? GLOBAL_SCOPE;
  return db.tx(async (m) => {
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
export async function listResourceMappings(
  db: SiteDb,
  protectionGroupId: string | null,
): Promise<ResourceMappingRecord[]> {
  const scope = protectionGroupId ?? GLOBAL_SCOPE;
  return (await listResourceMappingsOf(db, [scope])).get(scope) ?? [];
}

/** Mappings of several scopes at once (one query): scope (a PG id, or `GLOBAL_SCOPE`) -> its mappings. */
export async function listResourceMappingsOf(
  db: SiteDb,
  scopes: readonly string[],
): Promise<Map<string, ResourceMappingRecord[]>> {
  const out = new Map<string, ResourceMappingRecord[]>(scopes.map((s) => [s, []]));
  if (scopes.length === 0) return out;
  const rows = await db.read((m) =>
    m
      .getRepository<ResourceMappingRow>(ENTITY.resourceMapping)
      .createQueryBuilder('r')
      .where('r.scope IN (:...scopes)', { scopes: [...new Set(scopes)] })
      .orderBy('r.kind', 'ASC')
      .addOrderBy('r.sourceSite', 'ASC')
      .addOrderBy('r.sourceId', 'ASC')
      .getMany(),
  );
  for (const row of rows) out.get(row.scope)!.push(toMapping(row));
  return out;
}

/**
 * Forward lookup: the id on `targetSite` of resource `sourceId` on `sourceSite`. A PG's own
 * mapping wins over a global one; `null` when neither exists.
 */
export async function resolveResourceMapping(db: SiteDb, query: ForwardMappingQuery): Promise<string | null> {
  const { protectionGroupId, ...where } = query;
  const row = await findScoped(db, protectionGroupId ?? null, where);
  return row?.targetId ?? null;
}

/**
 * Reverse lookup (failback): the id on `sourceSite` of the resource that maps to `targetId` on
 * `targetSite`. A PG's own mapping wins over a global one; `null` when neither exists.
 */
export async function reverseResourceMapping(db: SiteDb, query: ReverseMappingQuery): Promise<string | null> {
  const { protectionGroupId, ...where } = query;
  const row = await findScoped(db, protectionGroupId ?? null, where);
  return row?.sourceId ?? null;
}

function findScoped(
  db: SiteDb,
  protectionGroupId: string | null,
  where: FindOptionsWhere<ResourceMappingRow>,
) {
  const scopes = protectionGroupId === null ? [GLOBAL_SCOPE] : [protectionGroupId, GLOBAL_SCOPE];
  return db.read(async (m) => {
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

const toMapping = (row: ResourceMappingRow): ResourceMappingRecord => ({
  id: row.id,
  protectionGroupId: row.protectionGroupId,
  kind: row.kind as ResourceKind,
  sourceSite: row.sourceSite,
  sourceId: row.sourceId,
  targetSite: row.targetSite,
  targetId: row.targetId,
});
