/**
 * The public API as a plain graphql-js schema, for tests: `publicApiSdl` of `@protector/schema` (the
 * coordinator SDL plus the site template for each site key, as the gateway composes them, without
 * federation directives and `@inaccessible` parts). A test server built on it rejects any selection
 * the real API would.
 */
import { publicApiSdl } from '@protector/schema';
import { buildSchema, type GraphQLSchema } from 'graphql';

/** Builds the public API schema for the given site keys. */
export function buildContractSchema(siteKeys: readonly string[] = ['boston', 'seattle']): GraphQLSchema {
  return buildSchema(publicApiSdl(siteKeys));
}
