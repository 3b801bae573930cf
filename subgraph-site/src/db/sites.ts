/** The site registry: this site (`local`) and its `peer`, with their Keystone URLs and status. */
import { ProtectorError } from '@protector/schema';
import { ENTITY, type SiteRow } from './entities.js';
import type { SiteDb } from './site-db.js';
import type { SiteRecord, SiteRole, SiteStatus } from './types.js';
import { oneOf, requireText, requireUrl } from './validation.js';

/** What `upsertSite` registers. */
export interface SiteInput {
  name: string;
  role: SiteRole;
  authUrl: string;
  status?: SiteStatus;
}

/** Registers or updates a site. Only one `local` and one `peer` site may exist. */
export async function upsertSite(db: SiteDb, input: SiteInput): Promise<SiteRecord> {
  requireText('name', input.name, 64);
  oneOf('role', input.role, ['local', 'peer'] as const);
  requireUrl('authUrl', input.authUrl);
  if (input.status !== undefined) oneOf('status', input.status, ['active', 'unreachable', 'error'] as const);
  return db.tx(async (m) => {
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
export async function listSites(db: SiteDb): Promise<SiteRecord[]> {
  const rows = await db.read((m) => m.getRepository<SiteRow>(ENTITY.site).find({ order: { role: 'ASC' } }));
  return rows.map(toSite);
}

export async function getSite(db: SiteDb, name: string): Promise<SiteRecord | null> {
  const row = await db.read((m) => m.getRepository<SiteRow>(ENTITY.site).findOneBy({ name }));
  return row ? toSite(row) : null;
}

/** The site this service runs on, once registered. */
export async function getLocalSite(db: SiteDb): Promise<SiteRecord | null> {
  const row = await db.read((m) => m.getRepository<SiteRow>(ENTITY.site).findOneBy({ role: 'local' }));
  return row ? toSite(row) : null;
}

export async function setSiteStatus(db: SiteDb, name: string, status: SiteStatus): Promise<void> {
  oneOf('status', status, ['active', 'unreachable', 'error'] as const);
  const result = await db.tx((m) =>
    m.getRepository<SiteRow>(ENTITY.site).update({ name }, { status, updatedAt: new Date() }),
  );
  if (!result.affected)
    throw new ProtectorError('NOT_FOUND', `Site '${name}' is not registered`, { site: name });
}

export async function deleteSite(db: SiteDb, name: string): Promise<void> {
  const result = await db.tx((m) => m.getRepository<SiteRow>(ENTITY.site).delete({ name }));
  if (!result.affected)
    throw new ProtectorError('NOT_FOUND', `Site '${name}' is not registered`, { site: name });
}

const toSite = (row: SiteRow): SiteRecord => ({
  name: row.name,
  role: row.role as SiteRole,
  authUrl: row.authUrl,
  status: row.status as SiteStatus,
  registeredAt: row.registeredAt,
  updatedAt: row.updatedAt,
});
