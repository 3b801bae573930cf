/**
 * Protection Groups across both sites: reading a group (each site's replica, the authoritative one,
 * sync state), who may act on it, and the preconditions every change checks first (both sites
 * answer, the copies agree, no operation is running). The changes themselves are in group-changes.ts.
 */
import { isProtectorError, ProtectorError } from '@protector/schema';
import {
  type ProtectionGroupReplicaFilterInput,
  ReplicaDocument,
  ReplicaHeadDocument,
  ReplicaHeadsDocument,
  ReplicasDocument,
} from './generated/site-documents.js';
import {
  authoritative,
  listReplicas,
  peerUnreachable,
  type Replica,
  type ReplicaByIdDocument,
  type ReplicaHead,
  type ReplicaPage,
  type ReplicaPageDocument,
  type ReplicaRead,
  readReplica,
  replicaPage,
  SITE_PAGE_LIMIT,
  syncState,
} from './replicas.js';
import { rememberReplica } from './request-reads.js';
import { type CallerCredential, SERVICE } from './site-client.js';
import { type CallerTokens, type GroupView, SiteRegistry } from './site-registry.js';
import type { OperationRecord } from './store.js';

/** Errors that refuse the caller (or its input) rather than say a site could not answer. */
const REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT']);

const bytes = (s: string) => Buffer.from(s, 'utf8');
/** The sites' list order: name, then id, each by its bytes (`SiteDb.bytewise`). */
export const listOrder = (a: Pick<ReplicaHead, 'name' | 'id'>, b: Pick<ReplicaHead, 'name' | 'id'>): number =>
  Buffer.compare(bytes(a.name), bytes(b.name)) || Buffer.compare(bytes(a.id), bytes(b.id));

/** One page of groups across the sites; `failedSites` did not answer (their reads say why). */
export interface GroupPage<R extends ReplicaHead = Replica> {
  readonly edges: readonly { readonly cursor: string; readonly node: GroupView<R> }[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
  readonly failedSites: readonly string[];
}

/**
 * The merge behind `pageGroups`: every site is asked for one page at a time after the same cursor; a
 * group is taken only once every site that may still hold it has listed past it (everything up to the
 * smallest last group of a site with more to list), so a group that one site lists and another does
 * not gets both sites' answers. Groups `keep` drops still move the cursor; pages are read until the
 * page is full or every list ends. A site that fails is not asked again in this request.
 */
export async function mergeSitePages<R extends ReplicaHead>(o: {
  readonly sites: readonly string[];
  fetch(site: string, chunk: number, cursor: string | null): Promise<ReplicaPage<R>>;
  view(id: string, reads: ReplicaRead<R>[], failed: ReadonlyMap<string, ProtectorError>): GroupView<R>;
  readonly first: number;
  readonly after: string | null;
  keep(v: GroupView<R>): boolean;
}): Promise<GroupPage<R>> {
  const { first } = o;
  const failed = new Map<string, ProtectorError>();
  const edges: { cursor: string; node: GroupView<R> }[] = [];
  const chunk = Math.min(first + 1, SITE_PAGE_LIMIT);
  let more = true;
  // A page ends when it is full: it is not read further to learn whether one more group follows (that
  // would read the next page of every site); `hasNextPage` then says a site has more.
  for (let cursor = o.after; more && edges.length < first; ) {
    const pages = new Map<string, ReplicaPage<R>>();
    await Promise.all(
      o.sites
        .filter((s) => !failed.has(s))
        .map(async (s) => {
          try {
            pages.set(s, await o.fetch(s, chunk, cursor));
          } catch (err) {
            if (!isProtectorError(err)) throw err;
            failed.set(s, err);
          }
        }),
    );
    if (pages.size === 0) break;
    let bound: R | null = null;
    for (const page of pages.values()) {
      const last = page.edges.at(-1)?.node;
      if (page.hasNextPage && last && (!bound || listOrder(last, bound) < 0)) bound = last;
    }
    const byId = new Map<string, { cursor: string; reads: ReplicaRead<R>[] }>();
    for (const [site, page] of pages) {
      for (const { cursor: at, node } of page.edges) {
        if (bound && listOrder(node, bound) > 0) continue;
        const entry = byId.get(node.id) ?? { cursor: at, reads: [] };
        entry.reads.push({ site, replica: node, error: null });
        byId.set(node.id, entry);
      }
    }
    const round = [...byId.entries()]
      .map(([id, { cursor: at, reads }]) => ({ cursor: at, node: o.view(id, reads, failed) }))
      .sort((a, b) => listOrder(a.node.group, b.node.group));
    for (const e of round) if (edges.length <= first && o.keep(e.node)) edges.push(e);
    more = bound !== null;
    cursor = round.at(-1)?.cursor ?? cursor;
  }
  if (failed.size && (failed.size === o.sites.length || edges.length === 0)) {
    // Nothing listed while a site failed: the caller learns why (a refusal first) instead of an empty list.
    const errors = [...failed.values()];
    throw errors.find((e) => REFUSALS.has(e.code)) ?? errors[0]!;
  }
  const shown = edges.slice(0, first);
  return {
    edges: shown,
    pageInfo: {
      hasNextPage: edges.length > first || more,
      endCursor: shown.at(-1)?.cursor ?? null,
    },
    failedSites: [...failed.keys()],
  };
}

export abstract class ProtectionGroups extends SiteRegistry {
  // ---- reading groups ----

  /**
   * Every group the caller may see (of `filter`, kept by `keep`), merged by id across the sites, in
   * list order. Reads every site's whole list: for the coordinator's own checks and site summaries.
   */
  async listGroups(
    ctx: CallerTokens,
    filter: ProtectionGroupReplicaFilterInput = {},
    keep: (v: GroupView<ReplicaHead>) => boolean = () => true,
  ): Promise<GroupView[]> {
    return (await this.pageGroups(ctx, filter, Number.POSITIVE_INFINITY, null, keep)).edges.map(
      (e) => e.node,
    );
  }

  /**
   * The groups `listGroups` would answer, reading only what places, merges and filters each replica
   * (`ReplicaHeadFields`): a list's `totalCount`, the groups whose operations a caller sees.
   */
  async groupHeads(
    ctx: CallerTokens,
    filter: ProtectionGroupReplicaFilterInput = {},
    keep: (v: GroupView<ReplicaHead>) => boolean = () => true,
  ): Promise<GroupView<ReplicaHead>[]> {
    const all = await mergeSitePages<ReplicaHead>({
      sites: this.sites().map((s) => s.name),
      fetch: (site, chunk, cursor) => this.sitePage(ctx, site, filter, chunk, cursor, ReplicaHeadsDocument),
      view: (id, reads, failed) => this.view(id, reads, failed),
      first: Number.POSITIVE_INFINITY,
      after: null,
      keep,
    });
    return all.edges.map((e) => e.node);
  }

  /**
   * The first `first` groups the caller may see after the cursor `after`, ordered by name then id (as
   * every site orders its list), merged by id across the sites (`mergeSitePages`). `keep` filters on
   * what only the merged group tells (sync status, the winning replica's status).
   *
   * A site that does not answer leaves its replicas out with its error on each group's read; a list
   * that would be empty while a site failed is that site's error instead, so no list is silently
   * empty or silently short of a site.
   */
  async pageGroups(
    ctx: CallerTokens,
    filter: ProtectionGroupReplicaFilterInput,
    first: number,
    after: string | null,
    keep: (v: GroupView<ReplicaHead>) => boolean = () => true,
  ): Promise<GroupPage> {
    const found = await mergeSitePages<Replica>({
      sites: this.sites().map((s) => s.name),
      fetch: (site, chunk, cursor) => this.sitePage(ctx, site, filter, chunk, cursor),
      view: (id, reads, failed) => this.view(id, reads, failed),
      first,
      after,
      keep,
    });
    for (const e of found.edges) this.remember(ctx, e.node.id, e.node.reads);
    return found;
  }

  /** One page of one site's list, as the caller (in full, or what `document` selects). */
  private async sitePage<R extends ReplicaHead = Replica>(
    ctx: CallerTokens,
    site: string,
    filter: ProtectionGroupReplicaFilterInput,
    chunk: number,
    cursor: string | null,
    document?: ReplicaPageDocument<R>,
  ): Promise<ReplicaPage<R>> {
    const s = this.sites().find((x) => x.name === site)!;
    return replicaPage<R>(await this.client(site), this.credential(ctx, s), filter, chunk, cursor, document);
  }

  /** Keeps what the sites answered the caller about a group, for the rest of its request. */
  private remember(ctx: CallerTokens, id: string, reads: readonly ReplicaRead[]): void {
    for (const r of reads) {
      const key = this.sites().find((s) => s.name === r.site)?.key;
      if (key && !r.error) rememberReplica(ctx, key, id, r.replica);
    }
  }

  /**
   * A group from what the sites listed. A group's site that did not list it either lacks it, did not
   * answer, or refused the caller: its read says which (`failed` holds each site's listing error).
   */
  protected view<R extends ReplicaHead>(
    id: string,
    found: readonly ReplicaRead<R>[],
    failed: ReadonlyMap<string, ProtectorError>,
  ): GroupView<R> {
    const group = authoritative(found)!;
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
    return { id, group, reads };
  }

  /** One group by id or name, as the caller may see it; NOT_FOUND otherwise. */
  async getGroup(ctx: CallerTokens, idOrName: string): Promise<GroupView> {
    const view = await this.findGroup<Replica>(ctx, idOrName, ReplicaDocument, ReplicasDocument);
    this.remember(ctx, view.id, view.reads);
    return view;
  }

  /**
   * `getGroup` reading only each replica's head (`ReplicaHeadFields`: no members, policy or mappings):
   * whether the caller sees the group, and where.
   */
  groupHead(ctx: CallerTokens, idOrName: string): Promise<GroupView<ReplicaHead>> {
    return this.findGroup<ReplicaHead>(ctx, idOrName, ReplicaHeadDocument, ReplicaHeadsDocument);
  }

  private async findGroup<R extends ReplicaHead>(
    ctx: CallerTokens,
    idOrName: string,
    byId: ReplicaByIdDocument<R>,
    byName: ReplicaPageDocument<R>,
  ): Promise<GroupView<R>> {
    const reads = await Promise.all(
      this.sites().map(async (s): Promise<ReplicaRead<R>> => {
        const client = await this.client(s.name);
        let as: CallerCredential;
        try {
          as = this.credential(ctx, s);
        } catch (err) {
          return { site: s.name, replica: null, error: err as ProtectorError };
        }
        const read = await readReplica(client, idOrName, as, byId);
        if (read.replica || read.error) return read;
        try {
          const [named] = await listReplicas(client, as, { name: idOrName }, byName);
          return { site: s.name, replica: named ?? null, error: null };
        } catch (err) {
          if (isProtectorError(err)) return { site: s.name, replica: null, error: err };
          throw err;
        }
      }),
    );
    const group = authoritative(reads);
    if (!group) {
      // Not found only when a site answered without it; when none answered, the caller learns why
      // (a refusal first), not that the group does not exist.
      if (reads.every((r) => r.error)) {
        const errors = reads.map((r) => r.error!);
        throw errors.find((e) => REFUSALS.has(e.code)) ?? errors[0]!;
      }
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
