/**
 * Limits on what one GraphQL document may ask, for the gateway and the sites alike: depth, aliases,
 * directives and cost (GraphQL Armor's validation rules), tokens (graphql-js's parser limit), and who
 * may introspect. A document over a limit is refused before it runs, with HTTP 400 and the registered
 * code QUERY_TOO_COMPLEX naming the limit. The options are the same in `gateway.conf` and
 * `protector.conf` (`[api]`).
 */
import { randomUUID } from 'node:crypto';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { ProtectorError } from '@protector/schema';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLFormattedError,
  type ValidationContext,
  type ValidationRule,
  visit,
} from 'graphql';
import { option } from '../config/options.js';

/** Who may run introspection queries (`__schema`, `__type`). */
export type IntrospectionPolicy = 'always' | 'authenticated' | 'never';

export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxDirectives: number;
  readonly maxTokens: number;
  readonly maxCost: number;
  readonly introspection: IntrospectionPolicy;
}

/**
 * Defaults: several times what the product's own clients, playground and query plans need (the
 * costliest, the coordinator's full replica listing, costs about 200,000 in this model, where each
 * level of nesting multiplies by 1.5).
 */
export const DEFAULT_QUERY_LIMITS: QueryLimits = Object.freeze({
  maxDepth: 15,
  maxAliases: 30,
  maxDirectives: 20,
  maxTokens: 5000,
  maxCost: 1_000_000,
  introspection: 'authenticated',
});

/** The `[api]` options of the limits, shared by `gateway.conf` and `protector.conf`. */
export const queryLimitOptions = {
  max_query_depth: option.int({
    description: 'Deepest field nesting a GraphQL document may have (fragments followed).',
    default: DEFAULT_QUERY_LIMITS.maxDepth,
    min: 1,
    max: 1000,
  }),
  max_query_aliases: option.int({
    description: 'Most aliases one GraphQL document may use.',
    default: DEFAULT_QUERY_LIMITS.maxAliases,
    min: 0,
    max: 10000,
  }),
  max_query_directives: option.int({
    description: 'Most directives one GraphQL document may use.',
    default: DEFAULT_QUERY_LIMITS.maxDirectives,
    min: 0,
    max: 10000,
  }),
  max_query_tokens: option.int({
    description: 'Most lexical tokens one GraphQL document may have (parsing stops beyond).',
    default: DEFAULT_QUERY_LIMITS.maxTokens,
    min: 100,
    max: 1000000,
  }),
  max_query_cost: option.int({
    description: 'Largest cost of one GraphQL document (1 per scalar, 2 per object, times 1.5 per level).',
    default: DEFAULT_QUERY_LIMITS.maxCost,
    min: 1,
    max: 100000000,
  }),
  introspection: option.enum({
    description:
      'Who may introspect the schema: `always`, `authenticated` (a caller with a valid Keystone token) or `never`. Field suggestions in error messages are never shown.',
    choices: ['always', 'authenticated', 'never'] as const,
    default: DEFAULT_QUERY_LIMITS.introspection,
  }),
};

/** The limits from a compiled `[api]` section. */
export function queryLimitsOf(api: {
  max_query_depth: number;
  max_query_aliases: number;
  max_query_directives: number;
  max_query_tokens: number;
  max_query_cost: number;
  introspection: IntrospectionPolicy;
}): QueryLimits {
  return {
    maxDepth: api.max_query_depth,
    maxAliases: api.max_query_aliases,
    maxDirectives: api.max_query_directives,
    maxTokens: api.max_query_tokens,
    maxCost: api.max_query_cost,
    introspection: api.introspection,
  };
}

/** A limit's refusal as the error clients get: QUERY_TOO_COMPLEX with the limit's own message. */
function refusal(error: GraphQLError): GraphQLError {
  const message = error.message.replace(/^Syntax Error: /, '');
  return new GraphQLError(message, {
    nodes: error.nodes,
    extensions: { code: 'QUERY_TOO_COMPLEX' },
    originalError: new ProtectorError('QUERY_TOO_COMPLEX', message),
  });
}

/** Validation rules enforcing the limits (add them to a server's validation). */
export function queryLimitRules(limits: QueryLimits): ValidationRule[] {
  // Armor throws a rejection when told to propagate it; reported instead, it is one validation
  // error among others (HTTP 400), recoded.
  const common = {
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(refusal(error))],
  };
  return [
    maxDepthRule({ ...common, n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true }),
    maxAliasesRule({ ...common, n: limits.maxAliases }),
    maxDirectivesRule({ ...common, n: limits.maxDirectives }),
    costLimitRule({ ...common, maxCost: limits.maxCost, ignoreIntrospection: true, flattenFragments: true }),
  ] as ValidationRule[];
}

/** Parse options enforcing the token limit (Apollo Server's `parseOptions`, graphql-js `parse`). */
export const parseLimits = (limits: QueryLimits) => ({ maxTokens: limits.maxTokens });

/**
 * An error as a client gets it, made safe: a document refused by a limit gets the limit's code (the
 * parser's token limit, reported by Apollo as GRAPHQL_PARSE_FAILED, and the validation rules above,
 * reported as GRAPHQL_VALIDATION_FAILED, both become QUERY_TOO_COMPLEX); and a value the client sent
 * is never echoed back (a token given where a number belongs would otherwise be repeated in the
 * message). Any other error is returned as it is.
 */
export function sanitizeClientError(
  formatted: GraphQLFormattedError,
  error?: unknown,
): GraphQLFormattedError {
  const code = formatted.extensions?.['code'];
  const limited =
    (code === 'GRAPHQL_PARSE_FAILED' && /more tha[nt] \d+ tokens/.test(formatted.message)) ||
    (code === 'GRAPHQL_VALIDATION_FAILED' && isLimitRefusal(error));
  if (limited) {
    return {
      ...formatted,
      message: formatted.message.replace(/^Syntax Error: /, ''),
      extensions: { code: 'QUERY_TOO_COMPLEX', retryable: false },
    };
  }
  const message = withoutEchoedValues(formatted.message);
  return message === formatted.message ? formatted : { ...formatted, message };
}

/**
 * An INTERNAL error's message replaced by an id that finds the full error in the service's log: a
 * client never sees what failed inside (paths, SQL, stack), an operator finds it by the id.
 */
export function maskInternalError(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: (message: string) => void,
): GraphQLFormattedError {
  if (formatted.extensions?.['code'] !== 'INTERNAL') return formatted;
  const id = randomUUID();
  const cause = error instanceof Error ? (error.stack ?? error.message) : String(error);
  log(`internal error ${id}: ${formatted.message}\n${cause}`);
  return {
    ...formatted,
    message: `Internal error (id ${id}); the service log has the details under this id.`,
  };
}

/** graphql-js's coercion messages without the value the client sent. */
export const withoutEchoedValues = (message: string): string =>
  message
    .replace(/got invalid value .*? at "([^"]*)";/, 'got an invalid value at "$1";')
    .replace(/got invalid value .*?;/, 'got an invalid value;')
    .replace(/(cannot represent (?:a )?(?:non[- ][\w-]+ )?value): .*$/, '$1.')
    .replace(/(Expected value of type "[^"]+"), found .*?([;.]|$)/, '$1$2')
    .replace(/Value .*? does not exist in ("[^"]+" enum)/, 'The value does not exist in $1');

const isLimitRefusal = (error: unknown): boolean => {
  for (let e = error; e instanceof Error; e = (e as { originalError?: unknown }).originalError) {
    if (e instanceof ProtectorError) return e.code === 'QUERY_TOO_COMPLEX';
  }
  return false;
};

/** Whether a document asks for the schema (`__schema` or `__type` anywhere). */
export function isIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') found = true;
    },
  });
  return found;
}

/**
 * Refuses an introspection query the policy does not allow for this caller.
 * @throws ProtectorError INTROSPECTION_DISABLED
 */
export async function checkIntrospection(
  document: DocumentNode,
  policy: IntrospectionPolicy,
  authenticated: () => Promise<boolean>,
): Promise<void> {
  if (policy === 'always' || !isIntrospection(document)) return;
  if (policy === 'authenticated' && (await authenticated())) return;
  throw new ProtectorError(
    'INTROSPECTION_DISABLED',
    policy === 'never'
      ? 'Schema introspection is disabled on this server ([api] introspection = never).'
      : 'Schema introspection needs a valid Keystone token ([api] introspection = authenticated).',
  );
}

/**
 * Apollo Server plugin applying the introspection policy per request: refused introspection gets
 * INTROSPECTION_DISABLED (HTTP 403) before it runs.
 */
export function introspectionGuard<TContext extends BaseContext>(
  policy: IntrospectionPolicy,
  authenticated: (ctx: TContext) => Promise<boolean>,
): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          try {
            await checkIntrospection(document, policy, () => authenticated(contextValue));
          } catch (err) {
            const e = err as ProtectorError;
            throw new GraphQLError(e.message, {
              extensions: { code: e.code, http: { status: e.httpStatus } },
              originalError: e,
            });
          }
        },
      };
    },
  };
}
