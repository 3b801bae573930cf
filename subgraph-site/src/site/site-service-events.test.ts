/**
 * Site events over graphql-ws, on two real `protector-site` processes (see `site-service.fixture.ts`):
 * refused connections, REPLICATION_COMPLETED on the target site, LINK_STATE_CHANGED when the link drops.
 */
import type { Json } from '@protector/schema';
import { waitFor } from '@protector/test-kit';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { groupMetadata, RECEIPT, stepOk } from '../../test-support/site-pair.js';
import { lab, type Point, useLab } from './site-service.fixture.js';

useLab();

describe('site events over graphql-ws', () => {
  const wsUrl = () => lab.seattle.proc.url.replace(/^http/, 'ws');

  function subscribe(token: string, query: string) {
    const events: Json[] = [];
    const errors: unknown[] = [];
    const client = createClient({
      url: wsUrl(),
      webSocketImpl: WebSocket,
      connectionParams: { token },
      retryAttempts: 0,
      lazy: false,
    });
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const dispose = client.subscribe(
      { query },
      {
        next: (v) => events.push(v as Json),
        error: (e) => errors.push(e),
        complete: () => undefined,
      },
    );
    return {
      events,
      errors,
      connected,
      async close() {
        dispose();
        await client.dispose();
      },
    };
  }

  it('refuses a connection without a valid token', async () => {
    const sub = subscribe('bad-token', 'subscription { seattle { kind } }');
    try {
      await waitFor('the refusal', () => sub.errors.length > 0, 10_000);
      expect(sub.events).toEqual([]);
    } finally {
      await sub.close();
    }
  });

  it('publishes REPLICATION_COMPLETED on the target site and LINK_STATE_CHANGED when the link drops', async () => {
    const md = groupMetadata({
      name: 'events-app',
      storageGroupName: 'pg-events-app',
      projectId: lab.boston.tokens.tenantProjectId,
    });
    for (const site of [lab.boston, lab.seattle]) {
      await stepOk(
        site,
        'applyProtectionGroupMetadata',
        { operationId: 'events', stepKey: `apply-${site.name}` },
        { expectedVersion: 0, metadata: md },
        RECEIPT,
      );
    }
    await stepOk(
      lab.boston,
      'ensureStorageGroup',
      { operationId: 'events', stepKey: 'sg' },
      {
        protectionGroupId: md.id,
        name: 'pg-events-app',
        replicationType: 'ASYNC',
        source: true,
        replicationIntervalSeconds: 3600,
      },
      'name',
    );
    const sub = subscribe(
      lab.seattle.tokens.service,
      `subscription { seattle { kind protectionGroup { id } storageGroupName recoveryPoint { name complete } linkState previousLinkState message } }`,
    );
    try {
      await sub.connected;
      const rp = await stepOk<{ recoveryPoint: Point }>(
        lab.boston,
        'replicateNow',
        { operationId: 'events', stepKey: 'replicate' },
        { protectionGroupId: md.id, wait: true, timeoutSeconds: 30 },
        'recoveryPoint { name }',
      );
      const completed = await waitFor(
        'REPLICATION_COMPLETED',
        () =>
          sub.events
            .map((e) => (e.data as { seattle: Json }).seattle)
            .find((e) => e.kind === 'REPLICATION_COMPLETED'),
        10_000,
      );
      expect(completed).toMatchObject({
        protectionGroup: { id: md.id },
        storageGroupName: 'pg-events-app',
        recoveryPoint: { name: rp.recoveryPoint.name, complete: true },
      });
      lab.storage.simulator.setLink('mock-array-a', 'mock-array-b', 'disconnected');
      const down = await waitFor(
        'LINK_STATE_CHANGED',
        () =>
          sub.events
            .map((e) => (e.data as { seattle: Json }).seattle)
            .find((e) => e.kind === 'LINK_STATE_CHANGED'),
        10_000,
      );
      expect(down).toMatchObject({ linkState: 'DISCONNECTED', previousLinkState: 'CONNECTED' });
      expect(sub.errors).toEqual([]);
    } finally {
      lab.storage.simulator.setLink('mock-array-a', 'mock-array-b', 'connected');
      await sub.close();
    }
  });
});
