import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// `graphql` ships CJS (`main`) and ESM (`module`). Plain Node loads the CJS build for everyone, but
// Vite would give our sources the ESM build while @apollo/* (CJS) and graphql-ws require the CJS one:
// two copies of graphql break `instanceof GraphQLSchema` / `GraphQLError`. Point Vite at the CJS
// build too, as Node does in production.
const graphqlCjs = createRequire(import.meta.url).resolve('graphql');

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlCjs }] },
  test: { testTimeout: 30_000, hookTimeout: 60_000, fileParallelism: false },
});
