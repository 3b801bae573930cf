/**
 * The coordinator's site client tells a site that is slow (it took the request and did not answer in
 * time: SITE_TIMEOUT) from one it cannot reach (SITE_UNREACHABLE), on real sockets.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProtectorError } from '@protector/schema';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaDocument } from './generated/site-documents.js';
import { CallerCredential, SiteClient, untilTaken } from './site-client.js';

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

  it("sends the gateway's own request again while the site refuses it before acting, within its time", async () => {
    const refusal = (code: 'RATE_LIMITED' | 'OVERLOADED') =>
      new ProtectorError(code, `Site 'boston': refused`, { site: 'boston', retryAfterSeconds: 0.1 });
    let tries = 0;
    const answer = await untilTaken(async () => {
      tries++;
      if (tries === 1) throw refusal('RATE_LIMITED');
      if (tries === 2) throw refusal('OVERLOADED');
      return 'done';
    }, 5_000);
    expect({ answer, tries }).toEqual({ answer: 'done', tries: 3 });

    // Any other error is the answer at once; a wait past the time given is not waited.
    tries = 0;
    const other = await untilTaken(async () => {
      tries++;
      throw new ProtectorError('VERSION_CONFLICT', 'changed meanwhile');
    }, 5_000).catch((e: unknown) => e);
    expect({ code: (other as ProtectorError).code, tries }).toEqual({ code: 'VERSION_CONFLICT', tries: 1 });
    tries = 0;
    const late = await untilTaken(async () => {
      tries++;
      throw new ProtectorError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 30 });
    }, 1_000).catch((e: unknown) => e);
    expect({ code: (late as ProtectorError).code, tries }).toEqual({ code: 'RATE_LIMITED', tries: 1 });
  });
});
