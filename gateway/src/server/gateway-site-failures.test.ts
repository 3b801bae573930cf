/**
 * Sites that fail behind the gateway: one that never answers (the subgraph timeout) and one that
 * dies (refused at once); the other site still answers. The environment is `setupGatewayEnv`.
 */

import { describe, expect, it } from 'vitest';
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
