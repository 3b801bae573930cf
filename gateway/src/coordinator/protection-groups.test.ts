import { ProtectorError } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import { listOrder, mergeSitePages } from './protection-groups.js';
import type { Replica, ReplicaPage, ReplicaRead } from './replicas.js';
import type { GroupView } from './site-registry.js';

/** A site's list as the site pages it: ordered by name then id, cursor after any (name, id). */
function siteList(names: readonly string[]) {
  const all = names
    .map((name) => ({ id: `id-${name}`, name }) as unknown as Replica)
    .sort((a, b) => listOrder(a, b));
  const calls: { chunk: number; cursor: string | null }[] = [];
  const fetch = async (chunk: number, cursor: string | null): Promise<ReplicaPage> => {
    calls.push({ chunk, cursor });
    const at = cursor ? (JSON.parse(cursor) as { name: string; id: string }) : null;
    const rest = at ? all.filter((r) => listOrder(r, at) > 0) : all;
    const edges = rest.slice(0, chunk).map((node) => ({
      cursor: JSON.stringify({ name: node.name, id: node.id }),
      node,
    }));
    return { edges, hasNextPage: rest.length > chunk, endCursor: edges.at(-1)?.cursor ?? null };
  };
  return { fetch, calls };
}

const view = (id: string, reads: ReplicaRead[], failed: ReadonlyMap<string, ProtectorError>) =>
  ({
    id,
    group: reads[0]!.replica!,
    reads: ['a', 'b'].map(
      (site) =>
        reads.find((r) => r.site === site) ?? { site, replica: null, error: failed.get(site) ?? null },
    ),
  }) as GroupView;

function merge(
  sites: Record<string, { fetch: (chunk: number, cursor: string | null) => Promise<ReplicaPage> }>,
  first: number,
  after: string | null = null,
  keep: (v: GroupView) => boolean = () => true,
) {
  return mergeSitePages({
    sites: Object.keys(sites),
    fetch: (site, chunk, cursor) => sites[site]!.fetch(chunk, cursor),
    view,
    first,
    after,
    keep,
  });
}

/** Every page of the merged list, `first` at a time: names per page. */
async function allPages(
  sites: Parameters<typeof merge>[0],
  first: number,
  keep?: (v: GroupView) => boolean,
): Promise<string[][]> {
  const pages: string[][] = [];
  for (let after: string | null = null; ; ) {
    const page = await merge(sites, first, after, keep);
    pages.push(page.edges.map((e) => e.node.group.name));
    if (!page.pageInfo.hasNextPage) return pages;
    after = page.pageInfo.endCursor;
  }
}

describe('mergeSitePages: one list across the sites', () => {
  const names = ['beta', 'Zulu', 'alpha', 'gamma', 'delta', 'épée', 'eta'];
  const ordered = ['Zulu', 'alpha', 'beta', 'delta', 'eta', 'gamma', 'épée'];

  it('pages two sites holding the same groups in byte order, each group once with both reads', async () => {
    const a = siteList(names);
    const b = siteList(names);
    const pages = await allPages({ a, b }, 2);
    expect(pages).toEqual([['Zulu', 'alpha'], ['beta', 'delta'], ['eta', 'gamma'], ['épée']]);
    // Each page costs one request per site, of the page size plus one.
    expect(a.calls.map((c) => c.chunk)).toEqual([3, 3, 3, 3]);
    const page = await merge({ a, b }, 10);
    expect(page.edges.map((e) => e.node.reads.map((r) => r.replica?.name))).toEqual(
      ordered.map((n) => [n, n]),
    );
    expect(page.pageInfo).toEqual({ hasNextPage: false, endCursor: page.edges.at(-1)!.cursor });
  });

  it('takes a group one site lists and the other does not only once both have listed past it', async () => {
    const a = siteList(['a1', 'a3', 'a5', 'a7', 'a9']);
    const b = siteList(['a2', 'a3', 'a4', 'a5', 'a6', 'a8']);
    const pages = await allPages({ a, b }, 2);
    expect(pages.flat()).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    expect(pages.slice(0, -1).every((p) => p.length === 2)).toBe(true);
    const both = await merge({ a, b }, 9);
    const readsOf = (n: string) =>
      both.edges.find((e) => e.node.group.name === n)!.node.reads.map((r) => r.replica?.name ?? null);
    expect(readsOf('a3')).toEqual(['a3', 'a3']);
    expect(readsOf('a7')).toEqual(['a7', null]);
    expect(readsOf('a8')).toEqual([null, 'a8']);
  });

  it('reads on until the page is full when the filter drops groups', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `g${String(i).padStart(2, '0')}`);
    const a = siteList(many);
    const b = siteList(many);
    const pages = await allPages({ a, b }, 3, (v) => Number(v.group.name.slice(1)) % 7 === 0);
    // A full page is not read further to learn whether a kept group follows: the sites had more, so
    // a last page, empty here, says the list ended.
    expect(pages).toEqual([['g00', 'g07', 'g14'], ['g21', 'g28', 'g35'], []]);
  });

  it('lists what the other site holds when one fails, with the failure on each group', async () => {
    const a = siteList(names);
    const down = new ProtectorError('SITE_TIMEOUT', "Site 'b' did not answer.");
    const b = { fetch: async (): Promise<ReplicaPage> => Promise.reject(down) };
    const page = await merge({ a, b }, 50);
    expect(page.edges.map((e) => e.node.group.name)).toEqual(ordered);
    expect(page.edges[0]!.node.reads[1]).toEqual({ site: 'b', replica: null, error: down });
    expect(page.failedSites).toEqual(['b']);
  });

  it('answers an error, never an empty list, when a site failed and nothing was listed', async () => {
    const timeout = new ProtectorError('SITE_TIMEOUT', "Site 'b' did not answer.");
    const refused = new ProtectorError('UNAUTHENTICATED', 'The token is not valid.');
    const failing = (e: ProtectorError) => ({ fetch: async (): Promise<ReplicaPage> => Promise.reject(e) });
    await expect(merge({ a: siteList([]), b: failing(timeout) }, 50)).rejects.toBe(timeout);
    await expect(merge({ a: failing(timeout), b: failing(refused) }, 50)).rejects.toBe(refused);
    // Both answered, nothing there: an empty list is the truth.
    const empty = await merge({ a: siteList([]), b: siteList([]) }, 50);
    expect(empty.edges).toEqual([]);
  });
});
