import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, needs, requirement } from '@protector/test-kit';
import { useServer } from 'graphql-ws/use/ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { driveThePlayground } from './browser.js';
import { createPlaygroundHandler, DEFAULT_PLAYGROUND_DIST_DIR, PLAYGROUND_BUILD_COMMAND } from './index.js';

// graphql-ws loads graphql through Node's resolution (CommonJS): use that same instance here.
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/** The bundle the page loads; turbo builds it before the tests. */
const playgroundBuild = requirement(
  'the built playground (gateway/playground-dist)',
  existsSync(join(DEFAULT_PLAYGROUND_DIST_DIR, 'index.html')),
  PLAYGROUND_BUILD_COMMAND,
);

/** A throwaway GraphQL server: `sites` over HTTP, `operationProgress` over graphql-ws, the playground elsewhere. */
const schema = graphql.buildSchema(/* GraphQL */ `
  type Query {
    sites: [Site!]!
  }
  type Site {
    name: String!
  }
  type OperationStep {
    name: String!
    status: String!
    site: Site
  }
  type Member {
    memberName: String!
    status: String!
  }
  type OperationEvent {
    sequence: Int!
    kind: String!
    occurredAt: String!
    status: String!
    percentComplete: Int!
    step: OperationStep
    member: Member
    message: String
  }
  type Subscription {
    operationProgress(id: ID!): OperationEvent!
  }
`);

const STEPS = ['replicateNow', 'createTestNetwork', 'materializeRecoveryPoint'];

const rootValue = {
  sites: () => [{ name: 'boston' }, { name: 'seattle' }],
  operationProgress: async function* ({ id }: { id: string }) {
    for (let i = 0; i < STEPS.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const done = i === STEPS.length - 1;
      yield {
        operationProgress: {
          sequence: i + 1,
          kind: 'STEP_FINISHED',
          occurredAt: new Date().toISOString(),
          status: done ? 'SUCCEEDED' : 'RUNNING',
          percentComplete: Math.round(((i + 1) / STEPS.length) * 100),
          step: { name: STEPS[i], status: 'SUCCEEDED', site: { name: 'seattle' } },
          member: null,
          message: `${id}: ${STEPS[i]} done`,
        },
      };
    }
  },
};

needs(chromium, playgroundBuild).describe('the playground in headless Chromium', () => {
  let server: Server;
  let wss: WebSocketServer;
  let base: string;
  const httpHeaders: IncomingMessage['headers'][] = [];
  const connectionParams: unknown[] = [];

  beforeAll(async () => {
    const playground = createPlaygroundHandler({
      siteKeys: () => ['boston', 'seattle'],
      defaultHeaders: () => ({ Authorization: 'Bearer lab-token' }),
    });
    server = createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/graphql' && req.method === 'POST') {
        httpHeaders.push(req.headers);
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const result = await graphql.graphql({
          schema,
          rootValue,
          source: body.query,
          variableValues: body.variables,
          operationName: body.operationName,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
        return;
      }
      playground(req, res);
    });
    wss = new WebSocketServer({ server, path: '/graphql' });
    useServer(
      {
        schema,
        roots: { query: rootValue, subscription: rootValue },
        onConnect: (ctx) => {
          connectionParams.push(ctx.connectionParams);
          return true;
        },
      },
      wss,
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const client of wss?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => wss?.close(() => resolve()));
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  it('loads offline, runs a typed query and follows a saved subscription', async () => {
    const result = await driveThePlayground(`${base}/`, {
      run: {
        query: '# typed into a new tab\nquery Sites {\n  sites {\n    name\n  }\n}\n',
        headers: { Authorization: 'Bearer all-sites', 'X-Site-Token-boston': 'tok-boston' },
      },
      subscribe: {
        tab: 'OperationProgress',
        variables: { id: 'op-42' },
        headers: { Authorization: 'Bearer all-sites', 'X-Site-Token-seattle': 'tok-seattle' },
        // Watched until the operation's end shows.
        until: (seen) =>
          seen.some(
            (e) =>
              (e as { data?: { operationProgress?: { status?: string } } }).data?.operationProgress
                ?.status === 'SUCCEEDED',
          ),
      },
      ...(process.env['PLAYGROUND_SCREENSHOT']
        ? { screenshotPath: process.env['PLAYGROUND_SCREENSHOT'] }
        : {}),
    });

    // Offline: nothing off this machine, nothing failed, no CSP violation or uncaught error.
    expect(result.externalRequests).toEqual([]);
    expect(result.failedRequests).toEqual([]);
    expect(result.errorResponses).toEqual([]);
    expect(result.consoleErrors).toEqual([]);

    expect(result.title).toBe('Protector playground');
    expect(result.tabTitles).toEqual(
      expect.arrayContaining(['SitesAndHealth', 'ProtectionGroups', 'OperationProgress']),
    );

    // The query went over HTTP with the editor's headers.
    expect(result.run?.response).toEqual({ data: { sites: [{ name: 'boston' }, { name: 'seattle' }] } });
    expect(result.run?.text).toContain('"name": "seattle"');
    const sent = httpHeaders.find((h) => h['x-site-token-boston'] === 'tok-boston');
    expect(sent?.['authorization']).toBe('Bearer all-sites');

    // The subscription went over graphql-ws with the tokens in connection_init.
    expect(connectionParams).toContainEqual({
      authorization: 'Bearer all-sites',
      siteTokens: { seattle: 'tok-seattle' },
    });
    const events = result.subscription?.events as {
      data: { operationProgress: { percentComplete: number } };
    }[];
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)?.data.operationProgress).toMatchObject({
      percentComplete: 100,
      status: 'SUCCEEDED',
      step: { name: 'materializeRecoveryPoint', status: 'SUCCEEDED', site: { name: 'seattle' } },
      message: 'op-42: materializeRecoveryPoint done',
    });
    expect(result.subscription?.text).toContain('"percentComplete": 100');
  }, 90_000);

  it('pre-fills the headers editor from the server and runs a saved tab', async () => {
    const result = await driveThePlayground(`${base}/playground/`, {
      run: { tab: 'SitesAndHealth' },
    });
    expect(result.externalRequests).toEqual([]);
    // SitesAndHealth asks for fields the throwaway schema lacks: the server's validation errors show.
    expect(JSON.stringify(result.run?.response)).toContain('Cannot query field');
    const sent = httpHeaders.at(-1);
    expect(sent?.['authorization']).toBe('Bearer lab-token');
    expect(sent?.['x-site-token-boston']).toBeUndefined();
  }, 60_000);
});
