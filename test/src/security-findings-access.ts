/**
 * Findings 1 and 2 of the security review, proved closed on the lab: no token means no access (and
 * nothing changes), another tenant with one site's token neither sees nor changes tenant A's group,
 * and a registered site cannot be taken over by re-registering it at a Keystone of the caller's
 * choosing (a fake one, started here on port 0, that accepts every token and records what it gets).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Json } from '@protector/schema';
import { describe, expect, it } from 'vitest';
import type { Fixture } from './security-fixture.js';
import { post } from './security-http.js';

/** What one identity sends, as headers. */
type Headers = Record<string, string>;

const codes = (body: { errors?: { extensions?: Json }[] } | null) =>
  (body?.errors ?? []).map((e) => String(e.extensions?.code));

/** A Keystone that says yes to everything and records every request it gets. */
async function startFakeKeystone() {
  const received: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const token = {
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    user: { id: 'fake-user', name: 'fake-admin' },
    project: { id: 'fake-project', name: 'admin' },
    roles: [{ id: 'r', name: 'admin' }],
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'content-type': 'application/json',
        'x-subject-token': 'fake-token',
      });
      res.end(JSON.stringify({ token }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3`;
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function registerAccessFindings(lab: () => Fixture): void {
  describe('finding 1: no token means no access', () => {
    const PG = 'prod-web-app';
    const refusedWithoutToken: [string, string][] = [
      ['failback', `mutation { failback(input: { protectionGroup: "${PG}" }) { id } }`],
      [
        'syncProtectionGroup',
        `mutation { syncProtectionGroup(input: { protectionGroup: "${PG}", force: true }) { id } }`,
      ],
      ['testCleanup', `mutation { testCleanup(input: { protectionGroup: "${PG}", force: true }) { id } }`],
      [
        'createReplicationPolicy',
        `mutation { createReplicationPolicy(input: { protectionGroup: "${PG}", policy: { rpoMinutes: 7 } }) { id } }`,
      ],
    ];
    for (const [field, document] of refusedWithoutToken) {
      it(`${field} with no headers is UNAUTHENTICATED and changes nothing`, async () => {
        const fx = lab();
        const before = await fx.state();
        const res = await post(fx.url, {}, { query: document });
        expect(codes(res.body), res.text).toEqual(['UNAUTHENTICATED']);
        expect((res.body?.data as Json | null)?.[field] ?? null).toBeNull();
        expect(await fx.state()).toEqual(before);
      });
    }

    it('protectionGroups with no token is UNAUTHENTICATED, not a list', async () => {
      const res = await post(
        lab().url,
        {},
        { query: '{ protectionGroups { totalCount nodes { id name } } }' },
      );
      expect(codes(res.body), res.text).toEqual(['UNAUTHENTICATED']);
      expect(res.body?.data ?? null).toBeNull();
    });

    it("tenant B with only X-Site-Token-boston neither sees nor changes tenant A's group", async () => {
      const fx = lab();
      const a = fx.targets.demoGroup;
      const onlyBoston: Headers = { 'x-site-token-boston': fx.tokens.other.boston! };
      const ask = (query: string, variables: Json = {}) => post(fx.url, onlyBoston, { query, variables });
      // Seeing: by id and by name, in the list, in the site's own view, its recovery points and operations.
      for (const ref of [a.id, a.name]) {
        const one = await ask('query($pg: ID!) { protectionGroup(id: $pg) { id name } }', { pg: ref });
        expect((one.body?.data as Json | null)?.protectionGroup ?? null, one.text).toBeNull();
        const byName = await ask('query($n: String!) { protectionGroup(name: $n) { id } }', { n: ref });
        expect((byName.body?.data as Json | null)?.protectionGroup ?? null, byName.text).toBeNull();
      }
      const list = await ask(
        '{ protectionGroups { nodes { id } } boston { protectionGroupReplicas { nodes { id } } } }',
      );
      expect(list.text).not.toContain(a.id);
      for (const query of [
        'query($pg: ID!) { recoveryPoints(protectionGroup: $pg) { name } }',
        'query($pg: ID) { operations(filter: { protectionGroup: $pg }) { totalCount } }',
      ]) {
        const res = await ask(query, { pg: a.id });
        expect(codes(res.body), res.text).toEqual(['NOT_FOUND']);
        expect(res.text).not.toContain(fx.targets.projects.tenant.boston!);
      }
      // Changing: every change and operation on the group, by id and by name, is refused and changes nothing.
      const before = await fx.state();
      for (const ref of [a.id, a.name]) {
        for (const document of [
          'mutation($pg: ID!) { createReplicationPolicy(input: { protectionGroup: $pg, policy: { rpoMinutes: 9 } }) { id } }',
          'mutation($pg: ID!) { setResourceMappings(input: { protectionGroup: $pg, mappings: [] }) { id } }',
          'mutation($pg: ID!) { removeMember(input: { protectionGroup: $pg, member: "web-1" }) { id } }',
          'mutation($pg: ID!) { deleteProtectionGroup(input: { protectionGroup: $pg, force: true }) { id } }',
          'mutation($pg: ID!) { syncProtectionGroup(input: { protectionGroup: $pg, force: true }) { id } }',
          'mutation($pg: ID!) { testFailover(input: { protectionGroup: $pg }) { id } }',
          'mutation($pg: ID!) { failover(input: { protectionGroup: $pg, type: UNPLANNED }) { id } }',
          'mutation($pg: ID!) { failback(input: { protectionGroup: $pg, forceSync: true }) { id } }',
          'mutation($pg: ID!) { testCleanup(input: { protectionGroup: $pg, force: true }) { id } }',
        ]) {
          const res = await ask(document, { pg: ref });
          expect(codes(res.body), `${document}: ${res.text}`).toEqual(['NOT_FOUND']);
        }
      }
      expect(await fx.state()).toEqual(before);
    });
  });

  describe('finding 2: a registered site cannot be taken over', () => {
    it('re-registering boston at another Keystone is refused, and that Keystone receives neither the service password nor any token', async () => {
      const fx = lab();
      const fake = await startFakeKeystone();
      try {
        const before = await fx.state();
        const takeover = {
          name: 'boston',
          key: 'boston',
          url: fx.targets.sites.boston!.url,
          authUrl: fake.url,
        };
        const document = 'mutation($i: RegisterSiteInput!) { registerSite(input: $i) { name authUrl } }';
        const expected = {
          anonymous: 'UNAUTHENTICATED',
          garbage: 'UNAUTHENTICATED',
          otherTenant: 'FORBIDDEN',
          oneSite: 'FORBIDDEN',
          tenant: 'FORBIDDEN',
          // The admin of the registered Keystone, without new service credentials: the stored ones
          // are not sent to a Keystone that has not proved anything yet.
          admin: 'CONFIG_INVALID',
        } as const;
        for (const [who, code] of Object.entries(expected) as [keyof typeof expected, string][]) {
          const res = await fx.request(who, document, { i: takeover });
          expect(codes(res.body), `${who}: ${res.text}`).toEqual([code]);
        }
        expect(await fx.state()).toEqual(before);
        // Nothing reached the fake Keystone: no password, no token of anyone's.
        const seen = JSON.stringify(fake.received);
        for (const secret of [
          '"password":"protector"',
          ...Object.values(fx.tokens.tenant),
          ...Object.values(fx.tokens.other),
          ...Object.values(fx.tokens.admin),
        ])
          expect(seen).not.toContain(secret);
        expect(fake.received).toEqual([]);
      } finally {
        await fake.close();
      }
    });

    it('registering a third site with no token is UNAUTHENTICATED', async () => {
      const fx = lab();
      const res = await post(
        fx.url,
        {},
        {
          query: 'mutation($i: RegisterSiteInput!) { registerSite(input: $i) { name } }',
          variables: {
            i: {
              name: 'chicago',
              key: 'chicago',
              url: 'http://127.0.0.1:9/graphql',
              authUrl: 'http://127.0.0.1:9/v3',
            },
          },
        },
      );
      expect(codes(res.body), res.text).toEqual(['UNAUTHENTICATED']);
    });
  });
}
