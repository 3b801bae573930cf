import { buildSchema, type DocumentNode, graphql, Kind, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  COORDINATOR_ENUMS,
  coordinatorSubgraphSdl,
  DateTimeScalar,
  isEnumValue,
  OPERATION_STATUSES,
  OPERATION_TYPES,
  PROTECTION_GROUP_STATUSES,
  SHARED_ENUMS,
  SITE_ENUMS,
  SYNC_STATUSES,
  siteSubgraphSdl,
  toDateTimeString,
} from './index.js';

const enumsOf = (doc: DocumentNode): Map<string, string[]> =>
  new Map(
    doc.definitions.flatMap((def) =>
      def.kind === Kind.ENUM_TYPE_DEFINITION
        ? [[def.name.value, (def.values ?? []).map((v) => v.name.value)] as const]
        : [],
    ),
  );

describe('enums', () => {
  const coordinator = enumsOf(parse(coordinatorSubgraphSdl));
  const site = enumsOf(parse(siteSubgraphSdl('boston')));

  it('renders every TypeScript enum table into the subgraphs that use it', () => {
    for (const definition of SHARED_ENUMS) {
      expect(coordinator.get(definition.name), definition.name).toEqual(Object.keys(definition.values));
      expect(site.get(definition.name), definition.name).toEqual(Object.keys(definition.values));
    }
    for (const definition of COORDINATOR_ENUMS) {
      expect(coordinator.get(definition.name), definition.name).toEqual(Object.keys(definition.values));
      expect(site.has(definition.name), definition.name).toBe(false);
    }
    for (const definition of SITE_ENUMS)
      expect(site.get(definition.name)).toEqual(Object.keys(definition.values));
  });

  it('holds the domain statuses', () => {
    expect(PROTECTION_GROUP_STATUSES).toEqual(
      expect.arrayContaining([
        'ACTIVE',
        'FAILING_OVER',
        'FAILED_OVER',
        'FAILED_OVER_PARTIAL',
        'ERROR',
        'DELETING',
      ]),
    );
    expect(SYNC_STATUSES).toEqual(['IN_SYNC', 'OUT_OF_SYNC', 'UNREACHABLE', 'FAILED']);
    expect(OPERATION_TYPES).toEqual([
      'PLANNED_FAILOVER',
      'UNPLANNED_FAILOVER',
      'TEST_FAILOVER',
      'TEST_CLEANUP',
      'FAILBACK',
      'SYNC',
    ]);
    expect(OPERATION_STATUSES).toEqual(expect.arrayContaining(['PARTIAL', 'CANCELLING', 'ROLLED_BACK']));
    expect(isEnumValue(SYNC_STATUSES, 'IN_SYNC')).toBe(true);
    expect(isEnumValue(SYNC_STATUSES, 'in_sync')).toBe(false);
  });
});

describe('secrets', () => {
  it('appear only in input types, never in an output type of any subgraph', () => {
    const secretLike = /token|password|secret/i;
    const outputFields = new Set<string>();
    const inputFields = new Set<string>();
    const definitions = [coordinatorSubgraphSdl, siteSubgraphSdl('boston')].flatMap(
      (sdl) => parse(sdl).definitions,
    );
    for (const def of definitions) {
      if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.INTERFACE_TYPE_DEFINITION) {
        for (const f of def.fields ?? [])
          if (secretLike.test(f.name.value)) outputFields.add(`${def.name.value}.${f.name.value}`);
      }
      if (def.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
        for (const f of def.fields ?? [])
          if (secretLike.test(f.name.value)) inputFields.add(`${def.name.value}.${f.name.value}`);
      }
    }
    // Only "is a token stored" flags are output.
    expect([...outputFields].sort()).toEqual([
      'ReplicationPolicy.primaryArrayTokenSet',
      'ReplicationPolicy.secondaryArrayTokenSet',
    ]);
    expect([...inputFields]).toEqual(
      expect.arrayContaining([
        'ReplicationPolicyInput.primaryArrayToken',
        'ReplicationPolicyInput.secondaryArrayToken',
        'ServiceCredentialsInput.password',
      ]),
    );
  });
});

describe('DateTime', () => {
  const schema = buildSchema('scalar DateTime type Query { echo(at: DateTime!): DateTime! now: DateTime! }');
  Object.assign(schema.getType('DateTime') as object, {
    serialize: DateTimeScalar.serialize,
    parseValue: DateTimeScalar.parseValue,
    parseLiteral: DateTimeScalar.parseLiteral,
  });
  const rootValue = { echo: ({ at }: { at: string }) => at, now: () => new Date(Date.UTC(2025, 0, 31, 12)) };

  it('serializes Date, ISO strings and epoch ms to UTC ISO strings', async () => {
    expect(toDateTimeString(new Date(Date.UTC(2025, 0, 31, 12)))).toBe('2025-01-31T12:00:00.000Z');
    expect(toDateTimeString('2025-01-31T14:00:00+02:00')).toBe('2025-01-31T12:00:00.000Z');
    expect(toDateTimeString(1738324800000)).toBe('2025-01-31T12:00:00.000Z');
    expect(() => toDateTimeString('yesterday')).toThrow(/DateTime cannot represent "yesterday"/);
    const result = await graphql({ schema, rootValue, source: '{ now }' });
    expect(result).toEqual({ data: { now: '2025-01-31T12:00:00.000Z' } });
  });

  it('accepts ISO-8601 input with an offset, normalized to UTC, and refuses anything else', async () => {
    const ok = await graphql({ schema, rootValue, source: '{ echo(at: "2025-01-31T13:00:00+01:00") }' });
    expect(ok).toEqual({ data: { echo: '2025-01-31T12:00:00.000Z' } });
    const noOffset = await graphql({
      schema,
      rootValue,
      source: 'query($at: DateTime!) { echo(at: $at) }',
      variableValues: { at: '2025-01-31T12:00:00' },
    });
    expect(noOffset.errors?.[0]?.message).toMatch(/DateTime expects an ISO-8601 date-time with an offset/);
    const notString = await graphql({ schema, rootValue, source: '{ echo(at: 5) }' });
    expect(notString.errors?.[0]?.message).toMatch(/DateTime expects a string literal/);
  });
});
