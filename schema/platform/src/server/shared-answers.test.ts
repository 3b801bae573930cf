/**
 * Shared answers: identical queries in flight with the same authority (the server's `authority` of a
 * request) are executed once and each request gets the answer; other authorities, requests without
 * one, different variables and mutations are executed on their own; an answer refusing the
 * credentials it was executed with is not given to another request.
 */
import { createRequire } from 'node:module';
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGraphQLHttpServer } from './http-server.js';

// Apollo Server runs graphql's CommonJS build: build the schema with the same instance.
const { buildSchema, GraphQLError } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

let url = '';
let stop: () => Promise<void> = async () => {};
/** Executions of `slow`, by the caller header of the request executing them. */
const executed: string[] = [];
/** Resolves the pending executions. */
const release: (() => void)[] = [];
/** Callers whose credentials the resolver refuses (as a site refuses a revoked token). */
const revoked = new Set<string>();

interface Ctx {
  caller: string;
}

beforeAll(async () => {
  const apollo = new ApolloServer<Ctx>({
    schema: buildSchema('type Query { slow(n: Int): String } type Mutation { bump: Int }'),
    rootValue: {
      slow: ({ n }: { n?: number }, ctx: Ctx) => {
        executed.push(ctx.caller);
        return new Promise<string>((resolve, reject) =>
          release.push(() =>
            revoked.has(ctx.caller)
              ? reject(new GraphQLError('refused', { extensions: { code: 'UNAUTHENTICATED' } }))
              : resolve(`answer ${n ?? 0}`),
          ),
        );
      },
      bump: () => executed.push('bump'),
    },
  });
  await apollo.start();
  const server = await startGraphQLHttpServer<Ctx>({
    apollo,
    port: 0,
    context: async (req) => ({ caller: String(req.headers['x-caller'] ?? '') }),
    // Two tokens of one user are one authority; no caller header: none.
    authority: (req) => {
      const caller = req.headers['x-caller'];
      return typeof caller === 'string' ? caller.replace(/-token-\d+$/, '') : null;
    },
  });
  url = server.url;
  stop = async () => {
    await server.stop();
    await apollo.stop();
  };
});
afterAll(() => stop());

const post = async (query: string, caller?: string, variables?: Record<string, unknown>) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(caller ? { 'x-caller': caller } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as {
    data?: Record<string, unknown>;
    errors?: { extensions?: { code?: string } }[];
  };
};

/** Waits until `n` executions are pending, then answers them all. */
async function answer(n: number) {
  while (release.length < n) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50)); // none more comes
  expect(release).toHaveLength(n);
  for (const r of release.splice(0)) r();
}

it("executes one caller's identical queries in flight once, whatever its token; never another caller's", async () => {
  executed.length = 0;
  const query = 'query Q($n: Int) { slow(n: $n) }';
  const answers = Promise.all([
    post(query, 'alice-token-1', { n: 1 }),
    post(query, 'alice-token-2', { n: 1 }),
    post(query, 'alice-token-1', { n: 1 }),
    post(query, 'bob-token-1', { n: 1 }),
    post(query, 'alice-token-1', { n: 2 }), // other variables
    post(query, undefined, { n: 1 }), // no authority: never shared
    post(query, undefined, { n: 1 }),
  ]);
  await answer(5);
  const got = await answers;
  expect(got.map((r) => r.data?.['slow'])).toEqual([
    'answer 1',
    'answer 1',
    'answer 1',
    'answer 1',
    'answer 2',
    'answer 1',
    'answer 1',
  ]);
  expect(executed.sort()).toEqual(['', '', 'alice-token-1', 'alice-token-1', 'bob-token-1']);
  // Asked again after the answer: executed again (nothing is kept).
  const again = post(query, 'alice-token-2', { n: 1 });
  await answer(1);
  expect((await again).data).toEqual({ slow: 'answer 1' });
});

it('never shares a mutation', async () => {
  executed.length = 0;
  await Promise.all([post('mutation { bump }', 'alice-token-1'), post('mutation { bump }', 'alice-token-2')]);
  expect(executed).toEqual(['bump', 'bump']);
});

it("gives no request an answer that refused another token's credentials: it is executed with its own", async () => {
  executed.length = 0;
  revoked.add('carol-token-1');
  try {
    const query = '{ slow }';
    const first = post(query, 'carol-token-1');
    while (executed.length < 1) await new Promise((r) => setTimeout(r, 5));
    const second = post(query, 'carol-token-2');
    await answer(1);
    expect((await first).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // The second waited for the first's execution, saw the refusal, and ran its own.
    await answer(1);
    expect((await second).data).toEqual({ slow: 'answer 0' });
    expect(executed).toEqual(['carol-token-1', 'carol-token-2']);
  } finally {
    revoked.delete('carol-token-1');
  }
});
