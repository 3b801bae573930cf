/**
 * Load shedding: a server working on `[api] max_in_flight` GraphQL requests refuses one more at once
 * with 503 OVERLOADED and Retry-After, and takes requests again as soon as one ends.
 */
import { createRequire } from 'node:module';
import { ApolloServer } from '@apollo/server';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startGraphQLHttpServer } from './http-server.js';

// Apollo Server runs graphql's CommonJS build: build the schema with the same instance.
const { buildSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

let url = '';
let stop: () => Promise<void> = async () => {};
/** Resolves the slow field's pending answers. */
const release: (() => void)[] = [];

beforeAll(async () => {
  const apollo = new ApolloServer({
    schema: buildSchema('type Query { slow: String fast: String }'),
    rootValue: {
      slow: () => new Promise<string>((resolve) => release.push(() => resolve('done'))),
      fast: () => 'fast',
    },
  });
  await apollo.start();
  const server = await startGraphQLHttpServer({
    apollo,
    port: 0,
    rateLimit: { perSecond: 0, burst: 1, maxInFlight: 2 },
    context: async () => ({}),
  });
  url = server.url;
  stop = async () => {
    await server.stop();
    await apollo.stop();
  };
});
afterAll(() => stop());

const post = (query: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });

it('refuses a request over max_in_flight at once with 503 OVERLOADED and Retry-After, then serves again', async () => {
  const slow = [post('{ slow }'), post('{ slow }')];
  while (release.length < 2) await new Promise((r) => setTimeout(r, 5));
  const refused = await post('{ fast }');
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(await refused.json()).toEqual({
    errors: [
      {
        message: 'The server is working on 2 requests, its limit ([api] max_in_flight); retry in 1 s.',
        extensions: { code: 'OVERLOADED', retryable: true },
      },
    ],
  });
  for (const r of release.splice(0)) r();
  expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
  const again = await post('{ fast }');
  expect(await again.json()).toEqual({ data: { fast: 'fast' } });
});
