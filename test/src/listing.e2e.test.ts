/**
 * The list of Protection Groups across both sites, on the lab: pages of any size reach every group once,
 * in the sites' order, with cursors that work on either site; counts past a page; and a list is never
 * silently empty when the sites do not answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labClient } from './e2e-kit.js';
import { type Lab, startLab } from './lab.js';

describe('listing Protection Groups across the sites', () => {
  let lab: Lab;
  let dir: string;
  let tokens: Record<string, string>;
  const { gql } = labClient(
    () => lab,
    () => tokens,
  );
  // Byte order (digits, capitals, '-' before '_', small letters), on SQLite and PostgreSQL alike.
  const NAMES = ['web-b', 'Web-A', 'db', 'web_d', 'web-c', 'cache', '9-api'];
  const ORDERED = ['9-api', 'Web-A', 'cache', 'db', 'web-b', 'web-c', 'web_d'];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-listing-e2e-'));
    // No health checks during the tests: the sites' request counters count only the tests' requests.
    lab = await startLab({
      dir,
      gatewayPort: 0,
      transferMs: 300,
      bootSeconds: 1,
      demo: false,
      healthIntervalSeconds: 3600,
    });
    tokens = await lab.tenantTokens();
    for (const name of NAMES) {
      await gql(
        `mutation($name: String!) { createProtectionGroup(input: { name: $name, replicationType: ASYNC,
           primarySite: "boston", secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`,
        { name },
      );
    }
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const PAGE = `query($first: Int!, $after: String) {
    protectionGroups(first: $first, after: $after) {
      nodes { name syncStatus replicas { site { name } replica { name } error { code } } }
      pageInfo { hasNextPage endCursor }
    }
  }`;
  type Page = {
    protectionGroups: {
      nodes: { name: string; syncStatus: string; replicas: Json[] }[];
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    };
  };

  it('pages through every group once, in order, with both replicas', async () => {
    for (const first of [1, 2, 3, 50]) {
      const names: string[] = [];
      let pages = 0;
      for (let after: string | null = null; ; pages++) {
        const { protectionGroups: p }: Page = await gql<Page>(PAGE, { first, after });
        expect(p.nodes.length).toBeLessThanOrEqual(first);
        for (const n of p.nodes) {
          names.push(n.name);
          expect(n.syncStatus).toBe('IN_SYNC');
          expect(n.replicas.map((r) => [(r.site as Json).name, (r.replica as Json).name])).toEqual([
            ['boston', n.name],
            ['seattle', n.name],
          ]);
        }
        if (!p.pageInfo.hasNextPage) break;
        after = p.pageInfo.endCursor;
      }
      expect(names).toEqual(ORDERED);
      expect(pages).toBe(Math.ceil(ORDERED.length / first) - 1);
    }
    const { protectionGroups } = await gql<{ protectionGroups: { totalCount: number } }>(
      '{ protectionGroups(first: 2) { totalCount } }',
    );
    expect(protectionGroups.totalCount).toBe(ORDERED.length);
  });

  it("continues one site's list after another site's cursor", async () => {
    const list = (site: string, after: string | null) =>
      gql<Json>(
        `query($after: String) { ${site} { protectionGroupReplicas(first: 3, after: $after) {
           edges { cursor node { name } } pageInfo { endCursor } } } }`,
        { after },
      );
    const boston = ((await list('boston', null)).boston as Json).protectionGroupReplicas as Json;
    const cursor = (boston.pageInfo as Json).endCursor as string;
    expect(((boston.edges as Json[]).at(-1) as Json).cursor).toBe(cursor);
    const seattle = ((await list('seattle', cursor)).seattle as Json).protectionGroupReplicas as Json;
    expect((seattle.edges as Json[]).map((e) => (e.node as Json).name)).toEqual(ORDERED.slice(3, 6));
  });

  /** GraphQL queries a site has answered (its /metrics). */
  async function siteQueries(site: string): Promise<number> {
    const text = await (await fetch(lab.sites[site]!.url.replace(/\/graphql$/, '/metrics'))).text();
    const line = text.split('\n').find((l) => l.startsWith('protector_graphql_requests_total{type="query"}'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }

  it("answers the sites' replica fields from what the list read: each site is asked once", async () => {
    const replica =
      'name metadataVersion status role members { name } policy { rpoMinutes } lastReplicationAt';
    const before = { boston: await siteQueries('boston'), seattle: await siteQueries('seattle') };
    const { protectionGroups } = await gql<{ protectionGroups: { nodes: Json[] } }>(
      `{ protectionGroups(first: 50) { nodes { name boston { ${replica} } seattle { ${replica} } } } }`,
    );
    expect(await siteQueries('boston')).toBe(before.boston + 1);
    expect(await siteQueries('seattle')).toBe(before.seattle + 1);
    // The same as each site answers itself.
    for (const site of ['boston', 'seattle']) {
      const direct = await gql<Json>(
        `{ ${site} { protectionGroupReplicas(first: 50) { nodes { ${replica} } } } }`,
      );
      expect(protectionGroups.nodes.map((n) => n[site])).toEqual(
        ((direct[site] as Json).protectionGroupReplicas as Json).nodes,
      );
    }
    // A field the list did not read is asked of the site.
    const again = await siteQueries('boston');
    const { protectionGroups: withSite } = await gql<{ protectionGroups: { nodes: Json[] } }>(
      '{ protectionGroups(first: 2) { nodes { boston { name site { name } } } } }',
    );
    expect(withSite.nodes[0]).toEqual({ boston: { name: ORDERED[0], site: { name: 'boston' } } });
    expect(await siteQueries('boston')).toBe(again + 2);
  });

  it('refuses a cursor that is not one, naming the argument', async () => {
    const res = await lab.gql(PAGE, { first: 2, after: 'not-a-cursor' }, tokens);
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/after.*not a cursor/);
  });

  it('lists from one site when the other is down, and errs instead of an empty list when both are', async () => {
    await lab.killSite('seattle');
    const one = await lab.gql<Page>(PAGE, { first: 50 }, tokens);
    expect(one.data?.protectionGroups.nodes.map((n) => n.name)).toEqual(ORDERED);
    expect(one.data?.protectionGroups.nodes[0]?.replicas[1]).toMatchObject({
      site: { name: 'seattle' },
      replica: null,
      error: { code: 'SITE_UNREACHABLE' },
    });
    await lab.killSite('boston');
    const none = await lab.gql<Page>(PAGE, { first: 50 }, tokens);
    expect(none.data?.protectionGroups ?? null).toBeNull();
    expect(none.errors?.[0]?.extensions?.code).toBe('SITE_UNREACHABLE');
    await lab.startSite('boston');
    await lab.startSite('seattle');
  }, 120_000);
});
