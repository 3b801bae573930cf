/**
 * The site registry's table: registered sites, with their service credentials encrypted at rest
 * (bound to the site's name) and decrypted only for the coordinator's own use.
 */
import type { Clock } from '@protector/platform';
import {
  decryptSecret,
  encryptSecret,
  runInTransaction,
  runRead,
  type SecretKey,
} from '@protector/platform/db';
import { ProtectorError } from '@protector/schema';
import type { DataSource } from 'typeorm';
import type { ServiceCredentials, SiteRecord } from './store-records.js';
import type { SiteRow } from './store-tables.js';

/** A site to register (or re-register); without credentials, the stored ones are kept. */
export type SiteRegistration = Omit<SiteRecord, 'registeredAt' | 'hasServiceCredentials'> & {
  credentials?: ServiceCredentials | null;
};

export class SiteRecords {
  constructor(
    private readonly ds: DataSource,
    private readonly secretKey: SecretKey,
    private readonly clock: Clock,
  ) {}

  async listSites(): Promise<SiteRecord[]> {
    const rows = await runRead(this.ds, (m) =>
      m.getRepository<SiteRow>('site').find({ order: { registeredAt: 'ASC' } }),
    );
    return rows.map(toSite);
  }

  async getSite(name: string): Promise<SiteRecord | null> {
    const row = await runRead(this.ds, (m) => m.getRepository<SiteRow>('site').findOneBy({ name }));
    return row ? toSite(row) : null;
  }

  /** Registers a site or updates it; refuses a key another site uses (ALREADY_EXISTS). */
  async registerSite(input: SiteRegistration): Promise<SiteRecord> {
    return runInTransaction(this.ds, async (m) => {
      const repo = m.getRepository<SiteRow>('site');
      const existing = await repo.findOneBy({ name: input.name });
      const sameKey = await repo.findOneBy({ key: input.key });
      if (sameKey && sameKey.name !== input.name) {
        throw new ProtectorError(
          'ALREADY_EXISTS',
          `Site key '${input.key}' is already used by site '${sameKey.name}'; choose another key.`,
        );
      }
      const row: SiteRow = {
        name: input.name,
        key: input.key,
        description: input.description,
        url: input.url,
        authUrl: input.authUrl,
        credentials: input.credentials
          ? encryptSecret(this.secretKey, JSON.stringify(input.credentials), `site:${input.name}`)
          : (existing?.credentials ?? null),
        registeredAt: existing?.registeredAt ?? new Date(this.clock.now()).toISOString(),
      };
      await repo.save(row);
      return toSite(row);
    });
  }

  async deleteSite(name: string): Promise<void> {
    await runInTransaction(this.ds, (m) => m.getRepository<SiteRow>('site').delete({ name }));
  }

  /** The decrypted service credentials of a site (never returned by the API). */
  async serviceCredentials(name: string): Promise<ServiceCredentials | null> {
    const row = await runRead(this.ds, (m) => m.getRepository<SiteRow>('site').findOneBy({ name }));
    if (!row?.credentials) return null;
    return JSON.parse(decryptSecret(this.secretKey, row.credentials, `site:${name}`)) as ServiceCredentials;
  }
}

function toSite(r: SiteRow): SiteRecord {
  return {
    name: r.name,
    key: r.key,
    description: r.description,
    url: r.url,
    authUrl: r.authUrl,
    registeredAt: new Date(r.registeredAt),
    hasServiceCredentials: !!r.credentials,
  };
}
