import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGateway, startFakeGateway } from '../testing/fake-gateway.js';
import { createProtectorClient } from './client.js';
import { ProtectorClientError, ProtectorConnectionError } from './errors.js';

describe('createProtectorClient against a real GraphQL server', () => {
  let gateway: FakeGateway;
  beforeAll(async () => {
    gateway = await startFakeGateway();
  });
  afterAll(async () => {
    await gateway.stop();
  });

  const client = (extra: Parameters<typeof createProtectorClient>[0] = {}) =>
    createProtectorClient({
      url: gateway.url,
      token: 'default-token',
      siteTokens: { boston: 'tok-b', seattle: 'tok-s' },
      ...extra,
    });

  it('sends the default token and one X-Site-Token header per site', async () => {
    const sites = await client().sites();
    expect(sites.map((s) => s.key)).toEqual(['boston', 'seattle']);
    const seen = gateway.requests.at(-1);
    expect(seen?.operationName).toBe('Sites');
    expect(seen?.headers['authorization']).toBe('Bearer default-token');
    expect(seen?.headers['x-site-token-boston']).toBe('tok-b');
    expect(seen?.headers['x-site-token-seattle']).toBe('tok-s');
  });

  it('finds a group by name and reads volume types from a site root field', async () => {
    const sdk = client();
    expect((await sdk.findProtectionGroup('prod-web-app'))?.id).toBe('pg-0001');
    expect(await sdk.findProtectionGroup('no-such-group')).toBeNull();
    expect((await sdk.siteVolumeTypes('boston')).map((t) => [t.name, t.replicationEnabled])).toEqual([
      ['replicated-ssd', true],
      ['standard-ssd', false],
    ]);
  });

  it('throws ProtectorClientError with the code, message and path of a GraphQL error', async () => {
    const error = await client()
      .addMember({ protectionGroup: 'prod-web-app', server: 'db-01' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtectorClientError);
    expect(error).toMatchObject({
      code: 'VOLUME_TYPE_NOT_REPLICATED',
      message: "Volume type 'standard-ssd' does not support replication",
      errors: [{ path: ['addMember'] }],
    });
  });

  it('returns partial data together with the error naming the unreachable site', async () => {
    const document =
      'query { protectionGroup(name: "prod-web-app") { id boston { name } seattle { name } } }';
    const result = await client().requestWithErrors<{
      protectionGroup: { id: string; boston: { name: string } | null; seattle: { name: string } | null };
    }>(document);
    expect(result.data?.protectionGroup).toEqual({
      id: 'pg-0001',
      boston: { name: 'prod-web-app' },
      seattle: null,
    });
    expect(result.errors).toEqual([
      expect.objectContaining({ code: 'PEER_SITE_UNREACHABLE', path: ['protectionGroup', 'seattle'] }),
    ]);
    const thrown = await client()
      .request(document)
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(ProtectorClientError);
    expect((thrown as ProtectorClientError).data).toEqual(result.data);
  });

  it('masks secrets in what onRequest reports, and still sends them', async () => {
    const reported: unknown[] = [];
    await client({ onRequest: (info) => reported.push(info) }).createReplicationPolicy({
      protectionGroup: 'db-cluster-pg',
      policy: { primaryArrayToken: 'T-secret-1', purePgName: 'pg-db-cluster' },
    });
    expect(JSON.stringify(reported)).not.toContain('T-secret-1');
    expect(JSON.stringify(reported)).not.toContain('tok-b');
    expect(JSON.stringify(gateway.requests.at(-1)?.variables)).toContain('T-secret-1');
  });

  it('watchOperation streams operationProgress until the operation ends, authenticating in connection_init', async () => {
    gateway.scripts.set('prod-web-app', {
      outcome: 'SUCCEEDED',
      steps: ['stopServers', 'replicateNow', 'swapRoles'],
    });
    const sdk = client();
    try {
      const operation = await sdk.failover({ protectionGroup: 'prod-web-app', type: 'PLANNED' });
      const seen: string[] = [];
      for await (const event of sdk.watchOperation(operation.id)) {
        seen.push(`${event.source}:${event.status}:${event.percentComplete}:${event.step?.name ?? '-'}`);
      }
      expect(seen.filter((s) => s.startsWith('subscription'))).toEqual([
        'subscription:RUNNING:33:stopServers',
        'subscription:RUNNING:67:replicateNow',
        'subscription:SUCCEEDED:100:swapRoles',
      ]);
      expect(gateway.connectionParams.at(-1)).toEqual({
        authorization: 'Bearer default-token',
        siteTokens: { boston: 'tok-b', seattle: 'tok-s' },
      });
    } finally {
      await sdk.close();
    }
  });

  it('watchOperation ends at once for an operation that already finished', async () => {
    gateway.scripts.set('db-cluster-pg', { outcome: 'SUCCEEDED', steps: ['only'] });
    const sdk = client();
    try {
      const operation = await sdk.testFailover({ protectionGroup: 'db-cluster-pg' });
      for await (const _ of sdk.watchOperation(operation.id)) {
        // drain: runs the script to its end
      }
      const events = [];
      for await (const event of sdk.watchOperation(operation.id)) events.push(event);
      expect(events.at(-1)).toMatchObject({ status: 'SUCCEEDED' });
    } finally {
      await sdk.close();
    }
  });

  it('reports an unreachable gateway as ProtectorConnectionError', async () => {
    const error = await createProtectorClient({ url: 'http://127.0.0.1:9/graphql', timeoutMs: 2000 })
      .sites()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtectorConnectionError);
    expect((error as ProtectorConnectionError).code).toBe('CONNECTION_FAILED');
  });

  it('rejects a site token keyed by something that is not a site key', () => {
    expect(() => createProtectorClient({ siteTokens: { 'Boston!': 't' } })).toThrow(
      /siteTokens has key "Boston!"/,
    );
  });
});
