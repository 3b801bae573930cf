/** Tenant mappings: which project on the peer site stands for a project on this site, one to one. */
import { randomUUID } from 'node:crypto';
import { ProtectorError } from '@protector/schema';
import { ENTITY, type TenantMappingRow } from './entities.js';
import type { SiteDb } from './site-db.js';
import type { TenantMappingRecord } from './types.js';
import { requireText } from './validation.js';

/** What `putTenantMapping` stores. */
export interface TenantMappingInput {
  localSite: string;
  localProjectId: string;
  peerSite: string;
  peerProjectId: string;
}

/** Maps a project on this site to one on the peer, replacing this project's previous mapping. */
export async function putTenantMapping(db: SiteDb, input: TenantMappingInput): Promise<TenantMappingRecord> {
  requireText('localSite', input.localSite, 64);
  requireText('localProjectId', input.localProjectId, 64);
  requireText('peerSite', input.peerSite, 64);
  requireText('peerProjectId', input.peerProjectId, 64);
  return db.tx(async (m) => {
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
export async function peerProjectFor(
  db: SiteDb,
  localProjectId: string,
): Promise<TenantMappingRecord | null> {
  const row = await db.read((m) =>
    m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).findOneBy({ localProjectId }),
  );
  return row ? { ...row } : null;
}

/** The local project of a peer project, or null. */
export async function localProjectFor(
  db: SiteDb,
  peerProjectId: string,
): Promise<TenantMappingRecord | null> {
  const row = await db.read((m) =>
    m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).findOneBy({ peerProjectId }),
  );
  return row ? { ...row } : null;
}

export async function listTenantMappings(db: SiteDb): Promise<TenantMappingRecord[]> {
  const rows = await db.read((m) =>
    m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).find({ order: { localProjectId: 'ASC' } }),
  );
  return rows.map((row) => ({ ...row }));
}

export async function deleteTenantMapping(db: SiteDb, localProjectId: string): Promise<void> {
  const result = await db.tx((m) =>
    m.getRepository<TenantMappingRow>(ENTITY.tenantMapping).delete({ localProjectId }),
  );
  if (!result.affected) {
    throw new ProtectorError('NOT_FOUND', `Project ${localProjectId} has no tenant mapping`, {
      localProjectId,
    });
  }
}
