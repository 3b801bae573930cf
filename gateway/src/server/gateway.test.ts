/**
 * Queries through the gateway over a stub coordinator and REAL sites: routes, recomposition, each
 * site's own token, coordinator errors, execute(). The environment is `setupGatewayEnv` (test-helpers.ts).
 */

import { fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { keystoneToken } from '../../../subgraph-site/test-support/site-process.js';
import { contextFromHeaders } from './index.js';
import { setupGatewayEnv, siteEntry } from './test-helpers.js';

// Only boston is registered at start: the recompose test registers seattle.
const env = setupGatewayEnv(['boston']);
const { post, ownTokens, register, unregister } = env;

describe('gateway over the coordinator and real sites', () => {
  it('serves /healthz, /readyz and extra routes beside /graphql', async () => {
    expect((await fetch(env.gw.url.replace('/graphql', '/healthz'))).status).toBe(200);
    const ready = await fetch(env.gw.url.replace('/graphql', '/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', sites: ['boston'] });
    const prefixed = await fetch(env.gw.url.replace('/graphql', '/hello/a/b.js'));
    expect(await prefixed.json()).toEqual({ hello: true });
  });

  it('recomposes without restart when a site is registered', async () => {
    const before = await post('{ seattle { key } }', ownTokens());
    expect(before.errors[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');

    await register(siteEntry('seattle', env.seattle.url));

    const after = await post('{ seattle { key name } }', ownTokens());
    expect(after.errors).toEqual([]);
    expect(after.data).toEqual({ seattle: { key: 'seattle', name: 'seattle' } });
    expect(env.gw.siteKeys()).toEqual(['boston', 'seattle']);
  });

  it('answers a query across the coordinator and both sites, each site with its own token', async () => {
    const r = await post(
      `{ sites { name key }
         boston { key name }
         seattle { key name }
         protectionGroup(id: "pg-1") { id name b: boston { id } seattle { id } } }`,
      ownTokens(),
    );
    expect(r.errors).toEqual([]);
    expect(r.data).toEqual({
      sites: [
        { name: 'boston', key: 'boston' },
        { name: 'seattle', key: 'seattle' },
      ],
      boston: { key: 'boston', name: 'boston' },
      seattle: { key: 'seattle', name: 'seattle' },
      // Neither site holds a replica of this group: null, and no error.
      protectionGroup: { id: 'pg-1', name: 'pg-pg-1', b: null, seattle: null },
    });
    // The coordinator ran in-process with the request's context.
    expect(env.coordinator.contexts.at(-1)?.siteTokens).toEqual({
      boston: env.bostonTokens.tenant,
      seattle: env.seattleTokens.tenant,
    });
  });

  it('uses the default token (Authorization) for a site without its own', async () => {
    const r = await post('{ boston { key } seattle { key } }', {
      Authorization: `Bearer ${env.bostonTokens.tenant}`,
      'X-Site-Token-seattle': env.seattleTokens.tenant,
    });
    expect(r.errors).toEqual([]);
    expect(r.data).toEqual({ boston: { key: 'boston' }, seattle: { key: 'seattle' } });
  });

  it('a wrong token for one site gives UNAUTHENTICATED naming that site; the other site answers', async () => {
    // Seattle's token is no good at boston: each site checks tokens with its own Keystone.
    const r = await post('{ seattle { key name } protectionGroup(id: "pg-1") { id boston { id } } }', {
      'X-Site-Token-boston': env.seattleTokens.tenant,
      'X-Site-Token-seattle': env.seattleTokens.tenant,
    });
    expect(r.data).toEqual({
      seattle: { key: 'seattle', name: 'seattle' },
      protectionGroup: { id: 'pg-1', boston: null },
    });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      path: ['protectionGroup', 'boston'],
      extensions: { code: 'UNAUTHENTICATED', site: 'boston', retryable: false },
    });
    expect(r.errors[0]!.message).toMatch(/^Site 'boston': /);
    expect(r.errors[0]!.extensions).not.toHaveProperty('serviceName');
  });

  it("sends a site only its own token, never another site's nor the default", async () => {
    await register(siteEntry('spy', env.spy.url));
    try {
      env.spy.headers.length = 0;
      const r = await post('{ protectionGroup(id: "pg-1") { id spy { id } } }', {
        ...ownTokens(),
        'X-Site-Token-spy': 'token-for-spy',
        Authorization: 'Bearer default-token',
        'X-Request-Id': 'req-spy-1',
      });
      expect(r.errors).toEqual([]);
      expect(r.data).toEqual({ protectionGroup: { id: 'pg-1', spy: null } });
      expect(env.spy.headers).toHaveLength(1);
      const got = env.spy.headers[0]!;
      expect(got['x-auth-token']).toBe('token-for-spy');
      expect(got['authorization']).toBeUndefined();
      expect(got['x-site-token-boston']).toBeUndefined();
      expect(got['x-request-id']).toBe('req-spy-1');
      expect(JSON.stringify(got)).not.toContain(env.bostonTokens.tenant);

      // No site token for spy: the default goes, alone.
      env.spy.headers.length = 0;
      await post('{ protectionGroup(id: "pg-1") { spy { id } } }', { Authorization: 'Bearer default-token' });
      expect(env.spy.headers[0]?.['x-auth-token']).toBe('default-token');
    } finally {
      await unregister('spy');
    }
  });

  it('keeps its connections to a site open: one after another, 20 queries go over one connection', async () => {
    await register(siteEntry('spy', env.spy.url));
    try {
      env.spy.headers.length = 0;
      const before = env.spy.connections();
      for (let i = 0; i < 20; i++) {
        const r = await post('{ protectionGroup(id: "pg-1") { id spy { id } } }', ownTokens());
        expect(r.data).toEqual({ protectionGroup: { id: 'pg-1', spy: null } });
      }
      expect(env.spy.headers).toHaveLength(20);
      expect(env.spy.connections() - before).toBeLessThanOrEqual(1);
    } finally {
      await unregister('spy');
    }
  });

  it('sends identical queries in flight at once to a site once per caller token, each caller its own answer', async () => {
    await register(siteEntry('spy', env.spy.url));
    env.spy.delayMs = 300;
    try {
      env.spy.headers.length = 0;
      const query = '{ protectionGroup(id: "pg-1") { id spy { id } } }';
      const as = (token: string) => post(query, { 'X-Site-Token-spy': token });
      const answers = await Promise.all([as('tenant-a'), as('tenant-a'), as('tenant-a'), as('tenant-b')]);
      for (const r of answers) expect(r.data).toEqual({ protectionGroup: { id: 'pg-1', spy: null } });
      // Three callers with one token share one site request; the other token has its own.
      expect(env.spy.headers.map((h) => h['x-auth-token']).sort()).toEqual(['tenant-a', 'tenant-b']);
      // A query asked again after the first answered is sent again (nothing is cached).
      await as('tenant-a');
      expect(env.spy.headers).toHaveLength(3);
    } finally {
      env.spy.delayMs = 0;
      await unregister('spy');
    }
  });

  it("merges one caller's identical queries whatever token each sent, once the site's Keystone vouched for each; never two callers'", async () => {
    await register(siteEntry('spy', env.spy.url));
    env.spy.delayMs = 300;
    try {
      const ks = env.boston.keystoneUrl;
      // Three tokens of one user in one project, and another user's in another project.
      const demo = () => keystoneToken(ks, 'demo', 'demo', 'demo');
      const [demo1, demo2, demo3] = [await demo(), await demo(), await demo()];
      const admin = await keystoneToken(ks, 'admin', 'admin', 'admin');
      const keystone = env.keystones.spy!;
      // The gateway knows none of them yet: each goes by its own token (and its check starts).
      for (const t of [demo1, demo2, admin]) expect(keystone.knownCaller(t.token)).toBeNull();
      await Promise.all([demo1, demo2, admin].map((t) => keystone.validate(t.token)));
      expect(keystone.knownCaller(demo1.token)).toBe(keystone.knownCaller(demo2.token));
      expect(keystone.knownCaller(admin.token)).not.toBe(keystone.knownCaller(demo1.token));

      env.spy.headers.length = 0;
      const query = '{ protectionGroup(id: "pg-1") { id spy { id } } }';
      const as = (token: string) => post(query, { 'X-Site-Token-spy': token });
      const answers = await Promise.all([
        as(demo1.token),
        as(demo2.token),
        as(demo1.token),
        as(admin.token),
        // Not checked yet: its own request, though its user is demo's.
        as(demo3.token),
      ]);
      for (const r of answers) expect(r.data).toEqual({ protectionGroup: { id: 'pg-1', spy: null } });
      const sent = env.spy.headers.map((h) => h['x-auth-token']);
      expect(sent).toHaveLength(3);
      expect(sent.filter((t) => t === demo1.token || t === demo2.token)).toHaveLength(1);
      expect(sent).toContain(admin.token);
      expect(sent).toContain(demo3.token);
      // A bogus token is never vouched for: it goes alone, and the site refuses it.
      expect(keystone.knownCaller('bogus')).toBeNull();
      await keystone.validate('bogus').catch(() => undefined);
      expect(keystone.knownCaller('bogus')).toBeNull();
    } finally {
      env.spy.delayMs = 0;
      await unregister('spy');
    }
  });

  it("a token revoked since the gateway checked it answers for itself only: the same user's other token still gets its answer", async () => {
    const ks = env.boston.keystoneUrl.replace(/\/+$/, '');
    const revoked = await keystoneToken(ks, 'demo', 'demo', 'demo');
    const valid = await keystoneToken(ks, 'demo', 'demo', 'demo');
    const keystone = env.keystones.boston!;
    await Promise.all([keystone.validate(revoked.token), keystone.validate(valid.token)]);
    const del = await fetch(`${ks}/auth/tokens`, {
      method: 'DELETE',
      headers: { 'x-auth-token': env.bostonTokens.admin, 'x-subject-token': revoked.token },
    });
    expect(del.status).toBe(204);
    // Both still vouched for by the gateway's check (kept up to 5 minutes): one merged request, sent
    // with the first token, which boston now refuses.
    expect(keystone.knownCaller(revoked.token)).toBe(keystone.knownCaller(valid.token));
    const query = '{ boston { key name } }';
    const [a, b] = await Promise.all([
      post(query, { 'X-Site-Token-boston': revoked.token }),
      post(query, { 'X-Site-Token-boston': valid.token }),
    ]);
    expect(a.data).toBeNull();
    expect(a.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(b.errors).toEqual([]);
    expect(b.data).toEqual({ boston: { key: 'boston', name: 'boston' } });
  });

  it("an application credential's token is never merged with its user's (it may carry fewer roles)", async () => {
    const ks = env.boston.keystoneUrl.replace(/\/+$/, '');
    const demo = await keystoneToken(ks, 'demo', 'demo', 'demo');
    const me = (await (
      await fetch(`${ks}/auth/tokens`, {
        headers: { 'x-auth-token': demo.token, 'x-subject-token': demo.token },
      })
    ).json()) as { token: { user: { id: string } } };
    const created = await fetch(`${ks}/users/${me.token.user.id}/application_credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': demo.token },
      body: JSON.stringify({ application_credential: { name: `gw-merge-${Date.now()}` } }),
    });
    expect(created.status).toBe(201);
    const cred = ((await created.json()) as { application_credential: { id: string; secret: string } })
      .application_credential;
    const auth = await fetch(`${ks}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: cred.id, secret: cred.secret },
          },
        },
      }),
    });
    expect(auth.status).toBe(201);
    const appToken = auth.headers.get('x-subject-token')!;
    const keystone = env.keystones.boston!;
    const info = await keystone.validate(appToken);
    expect(info.projectId).toBe(demo.projectId);
    expect(info.caller).toBeNull();
    expect(keystone.knownCaller(appToken)).toBeNull();
    expect((await keystone.validate(demo.token)).caller).not.toBeNull();
  });

  it('keeps the registry code of a coordinator error', async () => {
    const r = await post('{ protectionGroup(id: "missing") { id } }', ownTokens());
    expect(r.data).toEqual({ protectionGroup: null });
    expect(r.errors).toEqual([
      {
        message: "Protection Group 'missing' does not exist.",
        path: ['protectionGroup'],
        extensions: { code: 'NOT_FOUND', retryable: false, id: 'missing' },
      },
    ]);
  });

  it('execute() runs an operation through the same gateway', async () => {
    const r = await env.gw.execute(
      'query($id: ID) { protectionGroup(id: $id) { id boston { id } } seattle { key } }',
      { id: 'pg-2' },
      contextFromHeaders(ownTokens()),
    );
    expect(r).toEqual({
      data: { protectionGroup: { id: 'pg-2', boston: null }, seattle: { key: 'seattle' } },
    });
  });
});
