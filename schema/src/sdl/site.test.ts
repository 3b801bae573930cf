import { createRequire } from 'node:module';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { isProtectorError } from '../errors.js';
import {
  assertSiteKey,
  isSiteKey,
  RESERVED_SITE_KEYS,
  SITE_STEP_NAMES,
  siteStepInputTypesInSdl,
  siteSubgraphSdl,
} from './index.js';

// @apollo/subgraph is CommonJS and builds its schema with graphql's CJS build, while vite resolves
// `import 'graphql'` to the ESM build; execute with the same (CJS) instance to avoid the realm check.
const graphqlCjs = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const replica = {
  id: 'pg-1',
  protectionGroup: { id: 'pg-1' },
  site: { name: 'site-a' },
  role: 'PRIMARY',
  name: 'prod-web-app',
  description: null,
  projectId: 'p-1',
  replicationType: 'ASYNC',
  status: 'ACTIVE',
  currentPrimarySite: { name: 'site-a' },
  secondarySite: { name: 'site-b' },
  metadataVersion: 3,
  syncStatus: 'IN_SYNC',
  volumeType: 'replicated-ssd',
  members: [],
  resourceMappings: [],
  createdAt: '2025-01-31T12:00:00.000Z',
  updatedAt: '2025-01-31T12:00:00.000Z',
};

const receipt = {
  operationId: 'op-1',
  stepKey: 'apply-metadata@boston',
  replayed: false,
  startedAt: '2025-01-31T12:00:00.000Z',
  finishedAt: '2025-01-31T12:00:01.000Z',
};

/** A site subgraph with stub resolvers, as a site service would build it. */
function bostonSchema() {
  return buildSubgraphSchema({
    typeDefs: parse(siteSubgraphSdl('boston')),
    resolvers: {
      Query: {
        boston: () => ({
          key: 'boston',
          name: 'site-a',
          protectionGroupReplicas: {
            edges: [],
            nodes: [replica],
            pageInfo: { hasNextPage: false },
            totalCount: 1,
          },
        }),
      },
      Mutation: { boston: () => ({}) },
      SiteMutations: {
        applyProtectionGroupMetadata: (
          _: unknown,
          args: { input: { metadata: { metadataVersion: number } } },
        ) => ({
          step: receipt,
          replica: { ...replica, metadataVersion: args.input.metadata.metadataVersion },
        }),
      },
      ProtectionGroup: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        boston: (pg: { id: string }) => ({ ...replica, id: pg.id }),
      },
    },
  });
}

describe('siteSubgraphSdl', () => {
  it('has exactly the site steps the typed list names (SITE_STEP_NAMES), each with an input type', () => {
    const inSdl = siteStepInputTypesInSdl();
    expect(Object.keys(inSdl).sort()).toEqual([...SITE_STEP_NAMES].sort());
    for (const name of SITE_STEP_NAMES) expect(inSdl[name], name).toMatch(/Input$/);
  });

  it('namespaces the roots and the replica field by the site key', () => {
    const sdl = siteSubgraphSdl('boston');
    expect(sdl).toMatch(/type Query \{[^}]*\bboston: SiteState!/);
    expect(sdl).toMatch(/type Mutation \{[^}]*\bboston: SiteMutations! @inaccessible/);
    expect(sdl).toMatch(/type Subscription \{[^}]*\bboston\(filter: SiteEventFilterInput\): SiteEvent!/);
    expect(sdl).toMatch(
      /type ProtectionGroup @key\(fields: "id"\) \{\s*id: ID!\s*"""[^"]*"""\s*boston: ProtectionGroupReplica\s*\}/,
    );
  });

  it('differs between two sites only where the key appears', () => {
    const boston = siteSubgraphSdl('boston');
    expect(siteSubgraphSdl('seattle')).toBe(boston.replaceAll('boston', 'seattle'));
  });

  it.each([
    ['', 'not valid'],
    ['Boston', 'not valid'],
    ['1site', 'not valid'],
    ['site-b', 'not valid'],
    ['a'.repeat(32), 'not valid'],
    ['protectionGroup', 'not valid'],
    ['status', 'reserved'],
    ['sites', 'reserved'],
    ['failover', 'reserved'],
    ['coordinator', 'reserved'],
  ])('rejects the key %j (%s) with BAD_USER_INPUT', (key, why) => {
    let error: unknown;
    try {
      siteSubgraphSdl(key);
    } catch (err) {
      error = err;
    }
    expect(isProtectorError(error, 'BAD_USER_INPUT')).toBe(true);
    expect((error as Error).message).toContain(`Site key ${JSON.stringify(key)} is ${why}`);
    expect(isSiteKey(key)).toBe(false);
  });

  it('accepts well-formed keys', () => {
    for (const key of ['boston', 'seattle', 'site_a', 'dc2', 'a'.repeat(31)]) {
      expect(() => assertSiteKey(key)).not.toThrow();
      expect(isSiteKey(key)).toBe(true);
    }
  });

  it('reserves every coordinator root field and ProtectionGroup field', () => {
    for (const name of [
      'protectionGroups',
      'operation',
      'registerSite',
      'operationProgress',
      'siteHealth',
      'id',
    ]) {
      expect(RESERVED_SITE_KEYS.has(name)).toBe(true);
    }
    expect(RESERVED_SITE_KEYS.has('replicas')).toBe(true);
  });
});

describe('site subgraph built with @apollo/subgraph', () => {
  it('serves the namespaced query, entity resolution and the step mutations', async () => {
    const schema = bostonSchema();
    const run = async (source: string, variableValues?: Record<string, unknown>) => {
      const result = await graphqlCjs.graphql({ schema, source, variableValues });
      expect(result.errors).toBeUndefined();
      return result.data as Record<string, unknown>;
    };

    expect(
      await run(
        '{ boston { key protectionGroupReplicas(filter: { status: [ACTIVE] }) { totalCount nodes { name } } } }',
      ),
    ).toEqual({
      boston: {
        key: 'boston',
        protectionGroupReplicas: { totalCount: 1, nodes: [{ name: 'prod-web-app' }] },
      },
    });

    const entities = await run(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on ProtectionGroup { id boston { status metadataVersion } } } }',
      { r: [{ __typename: 'ProtectionGroup', id: 'pg-9' }] },
    );
    expect(entities).toEqual({
      _entities: [{ id: 'pg-9', boston: { status: 'ACTIVE', metadataVersion: 3 } }],
    });

    // @inaccessible hides the steps from the supergraph API only: the coordinator calls the site directly.
    const applied = await run(
      `mutation($metadata: ProtectionGroupMetadataInput!) {
        boston { applyProtectionGroupMetadata(step: { operationId: "op-1", stepKey: "apply-metadata@boston" },
          input: { expectedVersion: 3, metadata: $metadata }) { step { replayed stepKey } replica { metadataVersion } } }
      }`,
      {
        metadata: {
          id: 'pg-1',
          name: 'prod-web-app',
          projectId: 'p-1',
          replicationType: 'ASYNC',
          status: 'ACTIVE',
          currentPrimarySite: 'site-a',
          secondarySite: 'site-b',
          metadataVersion: 4,
          syncStatus: 'IN_SYNC',
          volumeType: 'replicated-ssd',
          members: [],
          resourceMappings: [],
        },
      },
    );
    expect(applied).toEqual({
      boston: {
        applyProtectionGroupMetadata: {
          step: { replayed: false, stepKey: 'apply-metadata@boston' },
          replica: { metadataVersion: 4 },
        },
      },
    });

    const service = await run('{ _service { sdl } }');
    expect((service['_service'] as { sdl: string }).sdl).toContain('boston: ProtectionGroupReplica');
  });
});
