import { isProtectorError } from '@protector/schema';
import { needs, requirement } from '@protector/test-kit';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from './compose.js';

// The planner packages are devDependencies of this package (npm ci installs them, @apollo/gateway
// brings the same versions): nothing on the machine, but without them the plan test says what to run.
let plannerError = '';
const planner = await Promise.all([
  import('@apollo/federation-internals'),
  import('@apollo/query-planner'),
]).then(
  ([internals, queryPlanner]) => ({ internals, queryPlanner }),
  (err: Error) => {
    plannerError = err.message;
    return undefined;
  },
);
const plannerPackages = requirement(
  'the query planner (@apollo/query-planner, @apollo/federation-internals)',
  planner !== undefined,
  'npm ci (devDependencies of @protector/schema)',
  plannerError,
);

interface PlanNode {
  kind: string;
  serviceName?: string;
  path?: readonly (string | number)[];
  node?: PlanNode;
  nodes?: readonly PlanNode[];
}

const TWO_SITES = ['boston', 'seattle'];

/** Field names of `typeName` in the supergraph SDL, with the subgraphs (join__field graphs) serving them. */
function fieldsOf(supergraphSdl: string, typeName: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const def of parse(supergraphSdl).definitions) {
    if (def.kind !== 'ObjectTypeDefinition' || def.name.value !== typeName) continue;
    for (const field of def.fields ?? []) {
      const graphs = (field.directives ?? [])
        .filter((d) => d.name.value === 'join__field')
        .flatMap((d) => d.arguments ?? [])
        .filter((a) => a.name.value === 'graph' && a.value.kind === 'EnumValue')
        .map((a) => (a.value as { value: string }).value);
      fields.set(field.name.value, graphs);
    }
  }
  return fields;
}

describe('composeSupergraph', () => {
  const { supergraphSdl, hints } = composeSupergraph(TWO_SITES, {
    urls: { coordinator: 'http://localhost:4000/coordinator', boston: 'http://127.0.0.1:8788/graphql' },
  });

  it('composes the coordinator and two sites without errors or hints', () => {
    expect(hints).toEqual([]);
    expect(supergraphSdl).toContain('@join__graph(name: "boston", url: "http://127.0.0.1:8788/graphql")');
    expect(supergraphSdl).toContain('@join__graph(name: "seattle", url: "")');
  });

  it('adds each site replica field to ProtectionGroup, served by that site only', () => {
    const pg = fieldsOf(supergraphSdl, 'ProtectionGroup');
    expect(pg.get('boston')).toEqual(['BOSTON']);
    expect(pg.get('seattle')).toEqual(['SEATTLE']);
    expect(pg.get('status')).toEqual(['COORDINATOR']);
  });

  it('namespaces each root by site key next to the coordinator contract', () => {
    const query = fieldsOf(supergraphSdl, 'Query');
    expect(query.get('boston')).toEqual(['BOSTON']);
    expect(query.get('seattle')).toEqual(['SEATTLE']);
    for (const name of [
      'sites',
      'site',
      'protectionGroups',
      'protectionGroup',
      'operations',
      'operation',
      'recoveryPoints',
    ]) {
      expect(query.get(name), name).toEqual(['COORDINATOR']);
    }
    const subscription = fieldsOf(supergraphSdl, 'Subscription');
    expect([...subscription.keys()].sort()).toEqual(
      ['boston', 'operationEvents', 'operationProgress', 'seattle', 'siteHealth'].sort(),
    );
  });

  it('composes the step mutations of both sites and keeps the contract mutations', () => {
    const mutation = fieldsOf(supergraphSdl, 'Mutation');
    expect(mutation.get('boston')).toEqual(['BOSTON']);
    expect(mutation.get('seattle')).toEqual(['SEATTLE']);
    expect(supergraphSdl).toMatch(/boston: SiteMutations! @inaccessible/);
    expect(supergraphSdl).toMatch(/seattle: SiteMutations! @inaccessible/);
    for (const name of [
      'registerSite',
      'validateSite',
      'createProtectionGroup',
      'deleteProtectionGroup',
      'addMember',
      'removeMember',
      'createReplicationPolicy',
      'setResourceMappings',
      'syncProtectionGroup',
      'failover',
      'testFailover',
      'testCleanup',
      'failback',
      'cancelOperation',
      'resumeOperation',
    ]) {
      expect(mutation.get(name), name).toEqual(['COORDINATOR']);
    }
  });

  it('composes one site alone and three sites', () => {
    expect(() => composeSupergraph(['boston'])).not.toThrow();
    expect(
      fieldsOf(composeSupergraph([...TWO_SITES, 'dallas']).supergraphSdl, 'ProtectionGroup').get('dallas'),
    ).toEqual(['DALLAS']);
  });

  it('rejects a bad, reserved or repeated site key with BAD_USER_INPUT', () => {
    const failure = (keys: string[]) => {
      try {
        composeSupergraph(keys);
      } catch (err) {
        expect(isProtectorError(err, 'BAD_USER_INPUT')).toBe(true);
        return (err as Error).message;
      }
      throw new Error(`composeSupergraph(${JSON.stringify(keys)}) did not throw`);
    };
    expect(failure(['boston', 'Seattle'])).toMatch(/Site key "Seattle" is not valid/);
    expect(failure(['boston', 'operations'])).toMatch(/Site key "operations" is reserved/);
    expect(failure(['boston', 'boston'])).toMatch(/Site key "boston" is given twice/);
  });
});

needs(plannerPackages).describe('query plan over the supergraph', () => {
  const { supergraphSdl } = composeSupergraph(TWO_SITES);

  const plan = (query: string): PlanNode => {
    const { internals, queryPlanner } = planner!;
    const supergraph = internals.Supergraph.build(supergraphSdl);
    const operation = internals.operationFromDocument(supergraph.schema, parse(query));
    const node = new queryPlanner.QueryPlanner(supergraph).buildQueryPlan(operation).node;
    if (!node) throw new Error('empty plan');
    return node as PlanNode;
  };

  const entityFetch = (node: PlanNode | undefined) => {
    expect(node?.kind).toBe('Flatten');
    expect(node?.path).toEqual(['protectionGroup']);
    expect(node?.node?.kind).toBe('Fetch');
    return node?.node?.serviceName;
  };

  it('is one coordinator fetch, then the two sites in parallel', () => {
    const root = plan('{ protectionGroup(name: "x") { id status boston { status } seattle { status } } }');
    expect(root.kind).toBe('Sequence');
    expect(root.nodes).toHaveLength(2);
    expect(root.nodes?.[0]).toMatchObject({ kind: 'Fetch', serviceName: 'coordinator' });
    const parallel = root.nodes?.[1];
    expect(parallel?.kind).toBe('Parallel');
    expect(parallel?.nodes?.map(entityFetch).sort()).toEqual(['boston', 'seattle']);
  });

  it('walks from one site replica to the other site through protectionGroup', () => {
    const root = plan(
      '{ boston { protectionGroupReplica(id: "pg-1") { status protectionGroup { seattle { status } } } } }',
    );
    expect(root.kind).toBe('Sequence');
    expect(root.nodes?.map((n) => n.node?.serviceName ?? n.serviceName)).toEqual(['boston', 'seattle']);
  });

  it('hides the site step mutations from the API schema', () => {
    const api = planner!.internals.Supergraph.build(supergraphSdl).apiSchema();
    const mutationFields =
      api.schemaDefinition
        .root('mutation')
        ?.type.fields()
        .map((f) => f.name) ?? [];
    expect(mutationFields).toContain('failover');
    expect(mutationFields).not.toContain('boston');
    expect(api.type('SiteMutations')).toBeUndefined();
    expect(api.type('SiteStepInput')).toBeUndefined();
    expect(api.type('SiteState')).toBeDefined();
  });
});
