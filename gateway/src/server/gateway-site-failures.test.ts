/**
 * Sites that fail behind the gateway: one that never answers (the subgraph timeout) and one that
 * dies (refused at once); the other site still answers. The environment is `setupGatewayEnv`.
 */

import { turnsBySite } from '@protector/platform';
import { describe, expect, it } from 'vitest';
import { startGateway } from './index.js';
import { setupGatewayEnv, siteEntry, TIMEOUT_MS } from './test-helpers.js';

const env = setupGatewayEnv(['boston', 'seattle']);
const { post, ownTokens, register, unregister } = env;

describe('a site that never answers', () => {
  it('times out a site that accepts connections but never answers, and still answers the rest', async () => {
    await register(siteEntry('hang', env.hang.url));
    try {
      const started = Date.now();
      const r = await post('{ seattle { key } protectionGroup(id: "pg-1") { id hang { id } } }', ownTokens());
      // It waited for the subgraph timeout (no sooner), then answered: a hang would fail the test's own timeout.
      expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(r.data).toEqual({ seattle: { key: 'seattle' }, protectionGroup: { id: 'pg-1', hang: null } });
      expect(r.errors).toHaveLength(1);
      // It took the connection, so it is slow, not unreachable: the error says which.
      expect(r.errors[0]).toMatchObject({
        message: `Site 'hang' is reachable but did not answer within ${TIMEOUT_MS} ms (slow or overloaded); retry later.`,
        extensions: { code: 'SITE_TIMEOUT', site: 'hang', retryable: true },
      });
    } finally {
      await unregister('hang');
    }
  });
});

describe('a site with no free turn', () => {
  it('answers a query that cannot reach its turn at a site 503 OVERLOADED with Retry-After, not partially', async () => {
    await register(siteEntry('hang', env.hang.url));
    // A gateway that sends each site one request at a time.
    const gw = await startGateway({
      port: 0,
      coordinatorSchema: env.coordinator.schema,
      coordinatorSubscribe: (field, args, ctx) => env.coordinator.coordinatorSubscribe(field, args, ctx),
      sites: () => env.coordinator.registry,
      subgraphTimeoutMs: TIMEOUT_MS,
      siteTurns: turnsBySite(1, TIMEOUT_MS / 2),
    });
    try {
      const ask = (alias: string) =>
        fetch(gw.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...ownTokens() },
          body: JSON.stringify({
            query: `{ seattle { key } protectionGroup(id: "pg-1") { id ${alias}: hang { id } } }`,
          }),
        });
      const first = ask('a');
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const second = await ask('b');
      // It waited half the subgraph timeout for a turn, then said so: no partial answer.
      expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS / 2 - 50);
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toBe('1');
      expect(await second.json()).toEqual({
        errors: [
          {
            message: expect.stringMatching(/^Site 'hang' is answering 1 requests of this gateway already/),
            extensions: { code: 'OVERLOADED', retryable: true },
          },
        ],
      });
      // The one that had the turn ran its course (the site's timeout), as before.
      const r = (await (await first).json()) as { errors: { extensions: { code: string } }[] };
      expect(r.errors[0]?.extensions.code).toBe('SITE_TIMEOUT');
      // Other sites are not held up by it.
      const other = await fetch(gw.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...ownTokens() },
        body: JSON.stringify({ query: '{ seattle { key } }' }),
      });
      expect(other.status).toBe(200);
    } finally {
      await gw.stop();
      await unregister('hang');
    }
  });
});

// Last: a site dies.

describe('a site that dies', () => {
  it("gives the other site's data plus SITE_UNREACHABLE naming the dead site, without waiting for the timeout", async () => {
    await env.boston.kill();
    const r = await post(
      '{ seattle { key name } protectionGroup(id: "pg-1") { id boston { id } seattle { id } } }',
      ownTokens(),
    );
    expect(r.status).toBe(200);
    expect(r.data).toEqual({
      seattle: { key: 'seattle', name: 'seattle' },
      protectionGroup: { id: 'pg-1', boston: null, seattle: null },
    });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({
      path: ['protectionGroup', 'boston'],
      extensions: { code: 'SITE_UNREACHABLE', site: 'boston', retryable: true },
    });
    expect(r.errors[0]!.message).toMatch(/^Site 'boston' is unreachable: /);
    // Refused at once, not left to the subgraph timeout.
    expect(r.errors[0]!.message).not.toMatch(/timed out|timeout/i);
    // The gateway still composes and serves with boston down (no introspection of sites).
    await env.gw.recompose();
    expect((await post('{ seattle { key } }', ownTokens())).data).toEqual({ seattle: { key: 'seattle' } });
  });
});
