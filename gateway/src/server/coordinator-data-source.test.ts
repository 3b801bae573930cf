import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { describe, expect, it } from 'vitest';
import { CoordinatorDataSource } from './data-sources.js';

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      who: { type: GraphQLString, resolve: (_s, _a, ctx: { user: string }) => ctx.user },
      twice: {
        type: GraphQLInt,
        args: { n: { type: new GraphQLNonNull(GraphQLInt) } },
        resolve: (_s, a: { n: number }) => a.n * 2,
      },
    },
  }),
});

type Options = Parameters<CoordinatorDataSource['process']>[0];
const run = (ds: CoordinatorDataSource, query: string, variables?: Record<string, unknown>, user = 'u1') =>
  ds.process({ request: { query, variables }, context: { user } } as unknown as Options);
const kept = (ds: CoordinatorDataSource) => (ds as unknown as { documents: Map<string, unknown> }).documents;

describe('CoordinatorDataSource', () => {
  it('executes each request with its own variables and context, parsing and validating its text once', async () => {
    const ds = new CoordinatorDataSource(schema);
    const q = 'query($n: Int!) { twice(n: $n) who }';
    expect(await run(ds, q, { n: 2 }, 'alice')).toEqual({ data: { twice: 4, who: 'alice' } });
    expect(await run(ds, q, { n: 5 }, 'bob')).toEqual({ data: { twice: 10, who: 'bob' } });
    expect(kept(ds).size).toBe(1);
  });

  it('answers a text that does not parse or validate with the error, every time', async () => {
    const ds = new CoordinatorDataSource(schema);
    for (let i = 0; i < 2; i++) {
      const broken = await run(ds, '{ who');
      expect(broken.errors?.[0]?.message).toMatch(/^Syntax Error/);
      const invalid = await run(ds, '{ nope }');
      expect(invalid.errors?.[0]?.message).toBe('Cannot query field "nope" on type "Query".');
      expect(invalid.data).toBeUndefined();
    }
  });

  it('keeps at most 500 documents, the newest', async () => {
    const ds = new CoordinatorDataSource(schema);
    for (let n = 0; n < 600; n++) await run(ds, `{ twice(n: ${n}) }`);
    expect(kept(ds).size).toBe(500);
    expect(kept(ds).has('{ twice(n: 599) }')).toBe(true);
    expect(kept(ds).has('{ twice(n: 0) }')).toBe(false);
    expect(await run(ds, '{ twice(n: 0) }')).toEqual({ data: { twice: 0 } });
  });
});
