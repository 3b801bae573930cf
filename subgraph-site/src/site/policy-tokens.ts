/**
 * The array API tokens of each group's replication policy, by array endpoint, so a group's array calls
 * log in with its own tokens (the `[storage]` ones are the defaults). Decrypted once per policy change
 * and kept in memory only, as the `[storage]` tokens are; the mock driver has no tokens.
 */
import type { StorageDriver } from '@protector/storage-drivers';
import type { SiteRepository } from '../db/index.js';

export class PolicyTokens {
  readonly #byGroup = new Map<string, ReadonlyMap<string, string>>();

  constructor(
    private readonly repo: SiteRepository,
    private readonly driver: StorageDriver,
    /** The endpoints of `[storage]` primary_array_url and secondary_array_url (a policy's defaults). */
    private readonly configured: { readonly primary: string; readonly secondary: string } | null,
  ) {}

  /** Reads (again) the tokens of one group's policy. */
  async refresh(protectionGroupId: string): Promise<void> {
    this.#byGroup.delete(protectionGroupId);
    if (this.driver.name === 'mock' || !this.configured) return;
    const policy = await this.repo.getReplicationPolicy(protectionGroupId);
    if (!policy || (!policy.hasPrimaryToken && !policy.hasSecondaryToken)) return;
    const tokens = await this.repo.decryptTokens(protectionGroupId);
    const { primary, secondary } = this.configured;
    const byEndpoint = new Map<string, string>();
    const put = (url: string, token: string | null, fallback: string) => {
      // A policy URL names its array (checked against [storage] when set); none: the [storage] one in that role.
      if (token) byEndpoint.set(url ? new URL(url).origin : fallback, token);
    };
    put(policy.primaryArrayUrl, tokens.primaryArrayToken, primary);
    put(policy.secondaryArrayUrl, tokens.secondaryArrayToken, secondary);
    this.#byGroup.set(protectionGroupId, byEndpoint);
  }

  /** Reads the tokens of every group's policy (at start). */
  async loadAll(): Promise<void> {
    for (let after: string | null = null; ; ) {
      const page = await this.repo.listProtectionGroups({}, { first: 500, after });
      for (const pg of page.nodes) await this.refresh(pg.id);
      if (!page.pageInfo.hasNextPage) return;
      after = page.pageInfo.endCursor;
    }
  }

  /** The group's tokens by array name (as the driver names its arrays now), or undefined. */
  forGroup(protectionGroupId: string): Readonly<Record<string, string>> | undefined {
    const byEndpoint = this.#byGroup.get(protectionGroupId);
    if (!byEndpoint) return undefined;
    const out: Record<string, string> = {};
    for (const a of this.driver.arrays()) {
      const token = byEndpoint.get(a.endpoint);
      if (token) out[a.name] = token;
    }
    return out;
  }
}
