/**
 * Protection Groups across both sites: reading a group (each site's replica, the authoritative one,
 * sync state), who may act on it, and the preconditions every change checks first (both sites
 * answer, the copies agree, no operation is running). The changes themselves are in group-changes.ts.
 */
import { isProtectorError, type Json, ProtectorError } from '@protector/schema';
import {
  authoritative,
  listReplicas,
  peerUnreachable,
  type Replica,
  type ReplicaRead,
  readReplica,
  syncState,
} from './replicas.js';
import { type CallerCredential, SERVICE } from './site-client.js';
import { type CallerTokens, type GroupView, SiteRegistry } from './site-registry.js';
import type { OperationRecord } from './store.js';

export abstract class ProtectionGroups extends SiteRegistry {
  // ---- reading groups ----

  /** Every group the caller may see, merged by id across the sites. */
  async listGroups(ctx: CallerTokens, filter: Json = {}): Promise<GroupView[]> {
    const byId = new Map<string, ReplicaRead[]>();
    const failed = new Map<string, ProtectorError>();
    await Promise.all(
      this.sites().map(async (s) => {
        try {
          for (const r of await listReplicas(await this.client(s.name), this.credential(ctx, s), filter)) {
            byId.set(r.id, [...(byId.get(r.id) ?? []), { site: s.name, replica: r, error: null }]);
          }
        } catch (err) {
          if (!isProtectorError(err)) throw err;
          failed.set(s.name, err);
        }
      }),
    );
    // A caller who could not list at any site learns why instead of getting an empty list.
    const refused = [...failed.values()].find((e) => e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN');
    if (refused && failed.size === this.sites().length) throw refused;
    return this.views(byId, failed);
  }

  /**
   * Groups from what each site listed. A group's site that did not list it either lacks it, did not
   * answer, or refused the caller: its read says which (`failed` holds each site's listing error).
   */
  protected views(
    byId: Map<string, ReplicaRead[]>,
    failed: ReadonlyMap<string, ProtectorError>,
  ): GroupView[] {
    const out: GroupView[] = [];
    for (const [id, found] of byId) {
      const group = authoritative(found)!;
      // A site that did not list the group either lacks it or did not answer: say which.
      const reads = [group.currentPrimarySite.name, group.secondarySite.name].map(
        (site) =>
          found.find((f) => f.site === site) ?? {
            site,
            replica: null,
            error:
              failed.get(site) ??
              (this.siteHealth(site).status === 'UNREACHABLE'
                ? new ProtectorError('SITE_UNREACHABLE', `Site '${site}' is unreachable.`)
                : null),
          },
      );
      out.push({ id, group, reads });
    }
    return out.sort((a, b) => a.group.name.localeCompare(b.group.name));
  }

  /** One group by id or name, as the caller may see it; NOT_FOUND otherwise. */
  async getGroup(ctx: CallerTokens, idOrName: string): Promise<GroupView> {
    const reads = await Promise.all(
      this.sites().map(async (s): Promise<ReplicaRead> => {
        const client = await this.client(s.name);
        let as: CallerCredential;
        try {
          as = this.credential(ctx, s);
        } catch (err) {
          return { site: s.name, replica: null, error: err as ProtectorError };
        }
        const byId = await readReplica(client, idOrName, as);
        if (byId.replica || byId.error) return byId;
        try {
          const [byName] = await listReplicas(client, as, { name: idOrName });
          return { site: s.name, replica: byName ?? null, error: null };
        } catch (err) {
          if (isProtectorError(err)) return { site: s.name, replica: null, error: err };
          throw err;
        }
      }),
    );
    const group = authoritative(reads);
    if (!group) {
      const authError = reads.find(
        (r) => r.error && (r.error.code === 'UNAUTHENTICATED' || r.error.code === 'FORBIDDEN'),
      );
      if (authError?.error && reads.every((r) => r.error)) throw authError.error;
      throw new ProtectorError(
        'NOT_FOUND',
        `Protection Group '${idOrName}' does not exist or is not visible to you.`,
        { protectionGroup: idOrName },
      );
    }
    const mine = reads.filter((r) => r.error || r.replica?.id === group.id);
    return { id: group.id, group, reads: mine };
  }

  /**
   * Re-reads a group with the service identity (both sites), for the preconditions of a change or an
   * operation: only after the caller was authorized for the group (`authorize`).
   */
  protected async serviceReads(group: Replica): Promise<ReplicaRead[]> {
    return Promise.all(
      [group.currentPrimarySite.name, group.secondarySite.name].map(async (n) =>
        readReplica(await this.client(n), group.id, SERVICE),
      ),
    );
  }

  /**
   * The caller may act on the group at `sites` (default: both of its sites): each of those sites
   * showed the group to the caller's own credential (through the tenant mapping on the peer). A site
   * that did not answer is left to the change's own reachability rule.
   */
  protected authorize(view: GroupView, what: string, sites?: readonly string[]): void {
    for (const site of sites ?? [view.group.currentPrimarySite.name, view.group.secondarySite.name]) {
      const read = view.reads.find((r) => r.site === site);
      if (read?.error && (read.error.code === 'UNAUTHENTICATED' || read.error.code === 'FORBIDDEN'))
        throw read.error;
      if (read?.error) continue;
      if (!read?.replica) {
        throw new ProtectorError(
          'FORBIDDEN',
          `${what} needs access to Protection Group '${view.group.name}' on site '${site}', where your token does not see it; use a token of the project mapped to yours there (tenant mappings).`,
          { site },
        );
      }
    }
  }

  /** Both sites answer and hold the same version: the precondition of every metadata change. */
  protected async requireBothInSync(
    group: Replica,
    what: string,
  ): Promise<{ reads: ReplicaRead[]; best: Replica }> {
    const reads = await this.serviceReads(group);
    const down = reads.find((r) => r.error);
    if (down) throw peerUnreachable(down);
    const state = syncState(reads);
    if (state !== 'IN_SYNC') {
      throw new ProtectorError(
        'INVALID_STATE',
        `${what} needs both sites in sync, but Protection Group '${group.name}' is ${state} (versions ${reads.map((r) => `${r.site}=${r.replica?.metadataVersion ?? 'none'}`).join(', ')}); run syncProtectionGroup first.`,
        { syncStatus: state },
      );
    }
    return { reads, best: authoritative(reads)! };
  }

  /**
   * Resource mappings given for a group (stored, or for one operation) translate between its two
   * sites. Checked before anything changes, so a bad mapping never leaves a group half way.
   * @throws ProtectorError BAD_USER_INPUT naming the mapping's field
   */
  protected checkMappings(
    view: GroupView,
    mappings: readonly { sourceSite?: unknown; targetSite?: unknown }[],
  ): void {
    const sites = [view.group.currentPrimarySite.name, view.group.secondarySite.name];
    for (const m of mappings) {
      for (const f of ['sourceSite', 'targetSite'] as const) {
        if (!sites.includes(String(m[f]))) {
          throw new ProtectorError(
            'BAD_USER_INPUT',
            `Mapping ${f} '${String(m[f])}' is not one of the group's sites (${sites.join(', ')}).`,
          );
        }
      }
      if (m.sourceSite === m.targetSite)
        throw new ProtectorError(
          'BAD_USER_INPUT',
          'A mapping translates between the two sites: sourceSite and targetSite must differ.',
        );
    }
  }

  protected async active(id: string): Promise<OperationRecord | null> {
    return (await this.opts.store.listOperations({ protectionGroupId: id, active: true }))[0] ?? null;
  }

  protected async refuseWhileBusy(group: Replica): Promise<void> {
    const op = await this.active(group.id);
    if (op) {
      throw new ProtectorError(
        'OPERATION_IN_PROGRESS',
        `Operation ${op.id} (${op.type}) is acting on Protection Group '${group.name}'; wait for it or cancel it.`,
        { operation: op.id },
      );
    }
  }
}
