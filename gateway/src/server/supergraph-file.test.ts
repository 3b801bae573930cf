/** The gateway on a static supergraph file (production), re-read by recompose(). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeSupergraph } from '@protector/platform';
import { coordinatorSubgraphSdl } from '@protector/schema';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextFromHeaders, type RunningGateway, startGateway } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'protector-gw-file-'));
const file = join(dir, 'supergraph.graphql');
let gw: RunningGateway;

const coordinatorSchema = buildSubgraphSchema([
  {
    typeDefs: parse(coordinatorSubgraphSdl),
    resolvers: { Query: { sites: () => [{ name: 'from-file', key: 'boston' }] } } as never,
  },
]);

/** A loopback port nobody listens on (listen on 0, read it, close). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let deadUrl = '';

beforeAll(async () => {
  // Routing URLs nobody listens on: nothing may contact the sites to load the supergraph.
  deadUrl = `http://127.0.0.1:${await closedPort()}/graphql`;
  const urls = { boston: deadUrl, seattle: deadUrl };
  writeFileSync(file, composeSupergraph(['boston', 'seattle'], { urls }).supergraphSdl);
  gw = await startGateway({
    port: 0,
    coordinatorSchema,
    coordinatorSubscribe: () => {
      throw new Error('no subscriptions here');
    },
    sites: () => [],
    supergraphFile: file,
    log: () => {},
  });
});

afterAll(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('supergraphFile', () => {
  it('serves the supergraph of the file, and recompose() re-reads it', async () => {
    expect(gw.siteKeys()).toEqual(['boston', 'seattle']);
    const ctx = contextFromHeaders({ 'x-auth-token': 't' });
    expect(await gw.execute('{ sites { name } }', {}, ctx)).toEqual({
      data: { sites: [{ name: 'from-file' }] },
    });

    writeFileSync(file, composeSupergraph(['boston']).supergraphSdl.replace(/url: ""/g, `url: "${deadUrl}"`));
    await gw.recompose();
    expect(gw.siteKeys()).toEqual(['boston']);
    const r = await gw.execute('{ seattle { key } }', {}, ctx);
    expect(r.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('answers SITE_UNREACHABLE (connection refused) for a site nobody serves', async () => {
    const r = await gw.execute('{ boston { key } }', {}, contextFromHeaders({ 'x-auth-token': 't' }));
    expect(r.data).toBeNull();
    expect(r.errors).toEqual([
      {
        message: expect.stringMatching(/^Site 'boston' is unreachable: .*ECONNREFUSED/),
        path: ['boston'],
        extensions: { code: 'SITE_UNREACHABLE', retryable: true, site: 'boston', siteKey: 'boston' },
      },
    ]);
  });
});
