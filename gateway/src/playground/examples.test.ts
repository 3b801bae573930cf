import { createRequire } from 'node:module';
import { Supergraph } from '@apollo/federation-internals';
import { composeSupergraph } from '@protector/platform';
import { describe, expect, it } from 'vitest';
import { exampleTabs } from './examples.js';
import { cleanHeaders, headersEditorText, headersToConnectionParams } from './headers.js';

// @apollo/federation-internals loads graphql through CommonJS: use the same instance here.
const graphql = createRequire(import.meta.url)('graphql') as typeof import('graphql');
const { getVariableValues } = graphql;

const SITE_KEYS = ['boston', 'seattle'];
const apiSchema = Supergraph.build(composeSupergraph(SITE_KEYS).supergraphSdl)
  .apiSchema()
  .toGraphQLJSSchema();

/** Parses JSONC as GraphiQL's editors do (line comments and trailing commas allowed). */
const parseJsonc = (text: string): unknown =>
  JSON.parse(text.replace(/^\s*\/\/.*$/gm, '').replace(/,(\s*[}\]])/g, '$1'));

describe('saved operations of the playground', () => {
  const tabs = exampleTabs({ siteKeys: SITE_KEYS, headers: headersEditorText(SITE_KEYS) });

  it('cover a whole DR drill, one named operation per tab', () => {
    expect(tabs.map((t) => t.name)).toEqual([
      'SitesAndHealth',
      'ProtectionGroups',
      'CreateProtectionGroup',
      'AddMember',
      'CreateReplicationPolicy',
      'RecoveryPoints',
      'TestFailover',
      'OperationProgress',
      'TestCleanup',
      'PlannedFailover',
      'Failback',
      'Operations',
      'SiteHealth',
    ]);
  });

  it.each(
    tabs.map((t) => [t.name, t] as const),
  )('%s validates against the supergraph API schema', (name, tab) => {
    const doc = graphql.parse(tab.query);
    expect(graphql.validate(apiSchema, doc).map((e) => e.message)).toEqual([]);
    const ops = doc.definitions.filter((d) => d.kind === graphql.Kind.OPERATION_DEFINITION);
    expect(ops).toHaveLength(1);
    const op = ops[0] as import('graphql').OperationDefinitionNode;
    // GraphiQL titles the tab with the operation name.
    expect(op.name?.value).toBe(name);
    // The saved variables coerce to the operation's variable types (input field names included).
    const variables = (tab.variables ? JSON.parse(tab.variables) : {}) as Record<string, unknown>;
    const coerced = getVariableValues(apiSchema, op.variableDefinitions ?? [], variables);
    expect(coerced.errors?.map((e) => e.message) ?? []).toEqual([]);
  });

  it('select each site replica of the Protection Groups by site key', () => {
    const list = tabs.find((t) => t.name === 'ProtectionGroups')!;
    for (const key of SITE_KEYS) expect(list.query).toMatch(new RegExp(`\\b${key} \\{[^}]*metadataVersion`));
    const three = exampleTabs({ siteKeys: ['boston', 'seattle', 'dallas'] });
    const schema3 = Supergraph.build(composeSupergraph(['boston', 'seattle', 'dallas']).supergraphSdl)
      .apiSchema()
      .toGraphQLJSSchema();
    for (const tab of three) expect(graphql.validate(schema3, graphql.parse(tab.query))).toEqual([]);
    // Without site keys the list uses the generic `replicas` and still validates.
    const generic = exampleTabs({ siteKeys: [] });
    expect(generic.find((t) => t.name === 'ProtectionGroups')!.query).toContain('replicas {');
    for (const tab of generic) expect(graphql.validate(apiSchema, graphql.parse(tab.query))).toEqual([]);
  });

  it('follow progress with percentComplete, status, step { name status site } and message', () => {
    const progress = tabs.find((t) => t.name === 'OperationProgress')!;
    const op = graphql.parse(progress.query).definitions[0] as import('graphql').OperationDefinitionNode;
    expect(op.operation).toBe('subscription');
    const compact = progress.query.replace(/\s+/g, ' ');
    expect(compact).toContain('operationProgress(id: $id)');
    for (const field of ['percentComplete', 'status', 'step { name status site { name } }', 'message']) {
      expect(compact).toContain(field);
    }
  });

  it('carry the headers editor text with a token slot per site', () => {
    for (const tab of tabs) {
      const headers = parseJsonc(tab.headers!) as Record<string, string>;
      expect(Object.keys(headers)).toEqual(['Authorization', 'X-Site-Token-boston', 'X-Site-Token-seattle']);
    }
  });
});

describe('playground headers', () => {
  it('pre-fills defaults and keeps placeholders for the sites without one', () => {
    const text = headersEditorText(['boston', 'seattle'], { 'X-Site-Token-boston': 'tok-b' });
    expect(parseJsonc(text)).toEqual({
      Authorization: '',
      'X-Site-Token-seattle': '',
      'X-Site-Token-boston': 'tok-b',
    });
  });

  it('drops empty and non-string values', () => {
    expect(cleanHeaders({ a: '', b: ' x ', c: 3, d: null })).toEqual({ b: 'x' });
    expect(cleanHeaders(null)).toEqual({});
    expect(cleanHeaders(['x'])).toEqual({});
  });

  it('maps site token headers and Authorization to graphql-ws connectionParams', () => {
    expect(
      headersToConnectionParams({
        Authorization: 'Bearer all',
        'X-Site-Token-boston': 'tok-b',
        'x-site-token-Seattle': 'tok-s',
        'X-Site-Token-': 'ignored',
        'X-Other': 'ignored',
        'X-Site-Token-dallas': '',
      }),
    ).toEqual({ authorization: 'Bearer all', siteTokens: { boston: 'tok-b', seattle: 'tok-s' } });
    expect(headersToConnectionParams({})).toEqual({});
  });
});
