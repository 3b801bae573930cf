/**
 * Findings 5, 6 and 7 of the security review, proved closed on the lab: what is open without a token
 * (nothing: the registry, site validation, tenant mappings and the schema need a valid token; a
 * site's metrics carry no label a client chooses), the limits on documents (aliases, depth) answered
 * at once with the gateway still serving, and the smaller ones: no echo of a token sent where another
 * type belongs, oversized bodies, out-of-range policy numbers and CIDRs, database file modes.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { Agent, fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import type { Fixture } from './security-fixture.js';
import { type HttpAnswer, post } from './security-http.js';

const codes = (body: HttpAnswer['body']) => (body?.errors ?? []).map((e) => String(e.extensions?.code));

/** Every series of a Prometheus text page (name and labels, without the value). */
const seriesOf = (text: string) =>
  new Set(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/\s+\S+$/, '')),
  );

/** One place a client may put a token where the schema wants another type, and how it is sent. */
interface EchoCase {
  readonly what: string;
  readonly via: 'http' | 'ws';
  readonly query: (token: string) => string;
  readonly variables: (token: string) => Json;
  /** What the product answers today when it echoes the token. */
  readonly productBug?: string;
}

export const ECHO_CASES: readonly EchoCase[] = [
  {
    what: 'an Int variable',
    via: 'http',
    query: () => 'query($n: Int) { protectionGroups(first: $n) { totalCount } }',
    variables: (t) => ({ n: t }),
  },
  {
    what: 'an Int literal',
    via: 'http',
    query: (t) => `{ protectionGroups(first: "${t}") { totalCount } }`,
    variables: () => ({}),
  },
  {
    what: 'a Boolean variable',
    via: 'http',
    query: () => 'query($b: Boolean!) { sites @include(if: $b) { name } }',
    variables: (t) => ({ b: t }),
  },
  {
    what: 'a field of an input object that does not exist',
    via: 'http',
    query: () => 'query($f: OperationFilterInput) { operations(filter: $f, first: 1) { totalCount } }',
    variables: (t) => ({ f: { bogus: t } }),
  },
  {
    what: 'an enum variable',
    via: 'http',
    query: () => 'query($t: [OperationType!]) { operations(filter: { type: $t }, first: 1) { totalCount } }',
    variables: (t) => ({ t: [t] }),
  },
  {
    what: 'a DateTime variable',
    via: 'http',
    query: () => 'query($d: DateTime) { operations(filter: { since: $d }, first: 1) { totalCount } }',
    variables: (t) => ({ d: t }),
  },
  {
    what: 'an enum variable of a subscription',
    via: 'ws',
    query: () => 'subscription($k: [SiteEventKind!]) { boston(filter: { kinds: $k }) { kind } }',
    variables: (t) => ({ k: [t] }),
  },
  {
    what: 'an ID variable of a subscription given an object',
    via: 'ws',
    query: () => 'subscription($id: ID!) { operationProgress(id: $id) { status } }',
    variables: (t) => ({ id: { token: t } }),
  },
  {
    what: 'an Int variable of a query',
    via: 'ws',
    query: () => 'query($n: Int) { protectionGroups(first: $n) { totalCount } }',
    variables: (t) => ({ n: t }),
  },
  {
    what: 'an Int literal of a query',
    via: 'ws',
    query: (t) => `{ protectionGroups(first: "${t}") { totalCount } }`,
    variables: () => ({}),
  },
];

export function registerLimitFindings(lab: () => Fixture): void {
  describe('finding 5: nothing is open without a token', () => {
    for (const [field, query, variables] of [
      ['validateSite', 'mutation($n: String!) { validateSite(name: $n) { valid } }', { n: 'boston' }],
      ['tenantMappings', '{ tenantMappings { sourceProjectId } }', {}],
      ['sites', '{ sites { name url authUrl } }', {}],
    ] as const) {
      it(`${field} without a token is UNAUTHENTICATED`, async () => {
        const res = await post(lab().url, {}, { query, variables });
        expect(codes(res.body), res.text).toEqual(['UNAUTHENTICATED']);
        expect((res.body?.data as Json | null)?.[field] ?? null).toBeNull();
      });
    }

    it('introspection needs a valid token at the gateway (default policy) and at a site; errors suggest no field names', async () => {
      const fx = lab();
      for (const query of [
        '{ __schema { queryType { name } } }',
        '{ __type(name: "Query") { name fields { name } } }',
      ]) {
        for (const headers of [fx.headers('anonymous'), fx.headers('garbage')]) {
          const res = await post(fx.url, headers, { query });
          expect([res.status, codes(res.body)], res.text).toEqual([403, ['INTROSPECTION_DISABLED']]);
          expect(res.body?.data ?? null).toBeNull();
        }
        const allowed = await post(fx.url, fx.headers('tenant'), { query });
        expect(codes(allowed.body), allowed.text).toEqual([]);
        const site = await post(fx.targets.sites.boston!.url, {}, { query });
        expect([site.status, codes(site.body)], site.text).toEqual([401, ['UNAUTHENTICATED']]);
        expect(site.text).not.toContain('"queryType"');
      }
      const typo = await post(fx.url, fx.headers('tenant'), { query: '{ sitez { name } }' });
      expect(codes(typo.body)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(typo.text).not.toMatch(/did you mean/i);
    });

    it("a site's /metrics has no label value a client chose", async () => {
      const fx = lab();
      const site = fx.targets.sites.boston!.url;
      const metrics = async () => (await fetch(site.replace(/\/graphql$/, '/metrics'))).text();
      const send = async (mark: string) => {
        const headers = {
          'x-auth-token': fx.tokens.tenant.boston!,
          'user-agent': mark,
          'x-request-id': mark,
        };
        await post(site, headers, { query: `query ${mark} { boston { name } }`, operationName: mark });
        await post(site, headers, { query: `mutation ${mark} { x }`, operationName: mark });
        await post(site, headers, { query: `{ ${mark} }` });
        await post(`${site}?${mark}=1`, headers, { query: '{ boston { name } }' });
        await fetch(`${site.replace(/\/graphql$/, '/metrics')}?${mark}="}`);
      };
      await send('client_label_one');
      const first = await metrics();
      await send('client_label_two');
      const second = await metrics();
      for (const text of [first, second]) expect(text).not.toMatch(/client_label/);
      expect(seriesOf(second)).toEqual(seriesOf(first));
      for (const series of seriesOf(second)) {
        const labels = /\{(.*)\}$/.exec(series)?.[1];
        if (labels) expect(labels).toMatch(/^type="(query|mutation|subscription|invalid)"$/);
      }
    });
  });

  describe('finding 6: limits on documents', () => {
    it('10,000 aliases of sites are refused at once with HTTP 400 QUERY_TOO_COMPLEX; the gateway answers right after', async () => {
      const fx = lab();
      const query = `{ ${Array.from({ length: 10_000 }, (_, i) => `a${i}: sites { name }`).join(' ')} }`;
      const started = Date.now();
      const res = await post(fx.url, fx.headers('tenant'), { query });
      expect(Date.now() - started).toBeLessThan(2000);
      expect([res.status, codes(res.body)], res.text.slice(0, 300)).toEqual([400, ['QUERY_TOO_COMPLEX']]);
      expect(codes((await fx.request('tenant', '{ sites { name } }')).body)).toEqual([]);
    });

    it('a 1,000-level nested query is refused at once with HTTP 400 QUERY_TOO_COMPLEX; the gateway answers right after', async () => {
      const fx = lab();
      let selection = 'name';
      for (let i = 0; i < 500; i++) selection = `health { protectionGroup { ${selection} } }`;
      const started = Date.now();
      const res = await post(fx.url, fx.headers('tenant'), {
        query: `{ protectionGroups { nodes { ${selection} } } }`,
      });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.status, res.text.slice(0, 300)).toBe(400);
      expect(new Set(codes(res.body))).toEqual(new Set(['QUERY_TOO_COMPLEX']));
      expect(codes((await fx.request('tenant', '{ sites { name } }')).body)).toEqual([]);
    });

    it('operations(first: 1) answers', async () => {
      const { operations } = await lab().ok<{ operations: { nodes: Json[]; totalCount: number } }>(
        'tenant',
        '{ operations(first: 1) { totalCount nodes { id type status } } }',
      );
      expect(operations.nodes.length).toBe(1);
      expect(operations.totalCount).toBeGreaterThanOrEqual(1);
    });
  });

  describe('finding 7: the smaller ones', () => {
    for (const c of ECHO_CASES) {
      const title = `a token sent as ${c.what} (${c.via === 'ws' ? 'graphql-ws' : 'HTTP'}) is refused without being echoed`;
      (c.productBug ? it.fails : it)(
        c.productBug ? `${title} (product bug: ${c.productBug})` : title,
        async () => {
          const fx = lab();
          const token = fx.tokens.tenant.boston!;
          let answer: string;
          if (c.via === 'http') {
            const res = await fx.request('tenant', c.query(token), c.variables(token));
            expect(codes(res.body).length, res.text).toBeGreaterThan(0);
            answer = res.text;
          } else {
            const open = await fx.ws('tenant');
            if (!open.ok) throw new Error(`the tenant's connection was closed: ${open.code}`);
            try {
              const m = await open.connection.subscribe(c.query(token), c.variables(token)).next(15_000);
              expect(
                m.type === 'error' || (m.type === 'next' && !!m.payload.errors?.length),
                JSON.stringify(m),
              ).toBe(true);
              answer = JSON.stringify(m);
            } finally {
              await open.connection.close();
            }
          }
          expect(answer).not.toContain(token);
        },
      );
    }

    const OVERSIZED = { query: '{ sites { name } }', variables: { padding: 'x'.repeat(2 * 1024 * 1024) } };

    it('an oversized body gets 413 PAYLOAD_TOO_LARGE, at the gateway and at a site', async () => {
      const fx = lab();
      for (const [url, headers] of [
        [fx.url, fx.headers('tenant')],
        [fx.targets.sites.boston!.url, { 'x-auth-token': fx.tokens.tenant.boston! }],
      ] as const) {
        // A connection of its own: the one a 413 came on is not reused (see the next test).
        const agent = new Agent({ connections: 1 });
        try {
          const res = await post(url, headers, OVERSIZED, agent);
          expect([res.status, codes(res.body)], res.text.slice(0, 300)).toEqual([413, ['PAYLOAD_TOO_LARGE']]);
        } finally {
          await agent.destroy();
        }
      }
    });

    it('the keep-alive connection a 413 came on answers the next request', async () => {
      const fx = lab();
      const agent = new Agent({ connections: 1, headersTimeout: 3000 });
      try {
        expect((await post(fx.url, fx.headers('tenant'), OVERSIZED, agent)).status).toBe(413);
        const next = await post(fx.url, fx.headers('tenant'), { query: '{ sites { name } }' }, agent);
        expect(next.status, next.text).toBe(200);
      } finally {
        await agent.destroy();
      }
    });

    for (const field of ['replicationIntervalSeconds', 'rpoMinutes']) {
      it(`a replication policy with ${field} 2^31-1 is refused (BAD_USER_INPUT) and changes nothing`, async () => {
        const fx = lab();
        const before = await fx.state();
        const res = await fx.request(
          'tenant',
          'mutation($pg: ID!, $p: ReplicationPolicyInput!) { createReplicationPolicy(input: { protectionGroup: $pg, policy: $p }) { id } }',
          { pg: fx.targets.group.id, p: { [field]: 2 ** 31 - 1 } },
        );
        expect(codes(res.body), res.text).toEqual(['BAD_USER_INPUT']);
        expect(await fx.state()).toEqual(before);
      });
    }

    it('a drill with test network 999.999.999.999/99 is refused (BAD_USER_INPUT) and starts nothing', async () => {
      const fx = lab();
      const before = await fx.state();
      const res = await fx.request(
        'tenant',
        'mutation($pg: ID!) { testFailover(input: { protectionGroup: $pg, testNetworkCidr: "999.999.999.999/99" }) { id } }',
        { pg: fx.targets.group.id },
      );
      expect(codes(res.body), res.text).toEqual(['BAD_USER_INPUT']);
      expect(await fx.state()).toEqual(before);
    });

    it("the gateway's and the sites' databases and keys are not world-readable", () => {
      const fx = lab();
      const files: string[] = [];
      for (const folder of ['gateway', 'boston', 'seattle', 'mock_storage']) {
        for (const name of readdirSync(join(fx.lab.dir, folder)))
          if (/\.sqlite(-wal|-shm)?$|^secret\.key$/.test(name)) files.push(join(folder, name));
      }
      expect(files).toEqual(
        expect.arrayContaining(['gateway/gateway.sqlite', 'boston/protector-site.sqlite']),
      );
      const open = files.filter((f) => (statSync(join(fx.lab.dir, f)).mode & 0o007) !== 0);
      expect(open).toEqual([]);
    });
  });
}
