/**
 * The coordinator's site client tells a site that is slow (it took the request and did not answer in
 * time: SITE_TIMEOUT) from one it cannot reach (SITE_UNREACHABLE), on real sockets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaDocument } from './generated/site-documents.js';
import { CallerCredential, SiteClient } from './site-client.js';

describe('SiteClient', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(null));
    server = null;
  });

  const clientFor = (url: string) =>
    new SiteClient(
      {
        name: 'boston',
        key: 'boston',
        description: null,
        url,
        authUrl: 'http://127.0.0.1:9/v3',
        registeredAt: new Date(),
        hasServiceCredentials: false,
      },
      async () => null,
      300,
    );
  const read = (client: SiteClient) =>
    client.query(ReplicaDocument, { id: 'pg-1' }, new CallerCredential('boston', 'T-user'));

  it('answers SITE_TIMEOUT for a site that takes the request and does not answer in time', async () => {
    server = createServer(() => undefined); // never answers
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const err = await read(clientFor(`http://127.0.0.1:${port}/graphql`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SITE_TIMEOUT', retryable: true });
    expect((err as Error).message).toMatch(/reachable but did not answer within 300 ms/);
  });

  it('answers SITE_UNREACHABLE for a site that refuses the connection', async () => {
    server = createServer(() => undefined);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server!.close(r));
    server = null;
    const err = await read(clientFor(`http://127.0.0.1:${port}/graphql`)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SITE_UNREACHABLE' });
  });
});
