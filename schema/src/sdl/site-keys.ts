/** Site keys: the GraphQL-safe names that namespace a site's roots, and pointing a template document at one. */
import { type DocumentNode, Kind, visit } from 'graphql';
import { ProtectorError } from '../errors.js';
import { RESERVED_SITE_KEYS } from './coordinator.js';

/** Site keys: GraphQL-safe, lowercase, short; they become field names in the supergraph. */
export const SITE_KEY_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;

/** Guard: is `value` a usable site key (well-formed and not reserved)? */
export const isSiteKey = (value: unknown): value is string =>
  typeof value === 'string' && SITE_KEY_PATTERN.test(value) && !RESERVED_SITE_KEYS.has(value);

/**
 * Checks a site key and says what is wrong with it.
 * @throws ProtectorError BAD_USER_INPUT (`details.siteKey`) when the key is malformed or reserved.
 */
export function assertSiteKey(siteKey: unknown): asserts siteKey is string {
  if (typeof siteKey !== 'string' || !SITE_KEY_PATTERN.test(siteKey)) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Site key ${JSON.stringify(siteKey)} is not valid: use 1-31 characters, lowercase letters, digits and "_", starting with a letter (e.g. "boston")`,
      { siteKey },
    );
  }
  if (RESERVED_SITE_KEYS.has(siteKey)) {
    throw new ProtectorError(
      'BAD_USER_INPUT',
      `Site key "${siteKey}" is reserved: it is the coordinator subgraph's name or a field of its Query, Mutation, Subscription or ProtectionGroup type; choose another key (e.g. "${siteKey}_site")`,
      { siteKey },
    );
  }
}

/**
 * The root field that documents written against the site subgraph template use for "this site":
 * `query { here { ... } }`. {@link documentForSite} points it at a real site's key.
 */
export const SITE_TEMPLATE_FIELD = 'here';

/**
 * A document written against the template's root field `here`, pointed at the site `siteKey`. With
 * `keepResponseKey` the field is aliased (`here: boston`), so the answer still comes back under
 * `here`; without it, under the key.
 * @throws ProtectorError BAD_USER_INPUT when the key is malformed or reserved.
 */
export function documentForSite(
  document: DocumentNode,
  siteKey: string,
  opts: { keepResponseKey: boolean },
): DocumentNode {
  assertSiteKey(siteKey);
  return visit(document, {
    OperationDefinition: (op) => ({
      ...op,
      selectionSet: {
        ...op.selectionSet,
        selections: op.selectionSet.selections.map((sel) =>
          sel.kind === Kind.FIELD && sel.name.value === SITE_TEMPLATE_FIELD
            ? {
                ...sel,
                ...(opts.keepResponseKey ? { alias: { kind: Kind.NAME, value: SITE_TEMPLATE_FIELD } } : {}),
                name: { kind: Kind.NAME, value: siteKey },
              }
            : sel,
        ),
      },
    }),
  });
}
