/**
 * The gateway's data sources: the coordinator subgraph executed in-process, and one HTTP data source
 * per site that forwards only that site's token, gives up after a timeout, and turns a site that does
 * not answer into a `SITE_UNREACHABLE` error instead of failing the whole request.
 */
import { createHash } from 'node:crypto';
import { LocalGraphQLDataSource, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { InFlight, type Turns, withTurn } from '@protector/platform';
import { ProtectorError, siteSubgraphSdl } from '@protector/schema';
import {
  type DocumentNode,
  execute,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  Kind,
  parse,
  type SelectionSetNode,
  validate,
} from 'graphql';
import { type Agent, fetch as undiciFetch } from 'undici';
import { ReplicaFieldsFragmentDoc } from '../coordinator/generated/site-documents.js';
import { rememberedReplicas } from '../coordinator/request-reads.js';
import { isGatewayContext, tokenForSite } from './context.js';
import {
  describeFetchFailure,
  refusesToken,
  siteError,
  siteTimeout,
  siteUnreachableError,
  timedOut,
} from './errors.js';

type ProcessOptions = Parameters<RemoteGraphQLDataSource['process']>[0];
type GatewayResponse = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;

/** Documents of the coordinator's query plans kept parsed and validated (the oldest goes first). */
const DOCUMENTS_KEPT = 500;

/**
 * The coordinator subgraph, executed in-process with the request's `GatewayContext` as `contextValue`.
 * Each document the query plans send is parsed and validated once, not at every request as `graphql()`
 * would.
 */
export class CoordinatorDataSource extends LocalGraphQLDataSource {
  private readonly documents = new Map<string, DocumentNode | readonly GraphQLError[]>();

  override async process(options: ProcessOptions): Promise<GatewayResponse> {
    const { request, context } = options;
    const document = this.document(request.query ?? '');
    const result = Array.isArray(document)
      ? { errors: document }
      : await execute({
          schema: this.schema,
          document: document as DocumentNode,
          variableValues: request.variables,
          operationName: request.operationName,
          contextValue: context,
        });
    if (!result.errors) return result;
    // Resolver errors reach the gateway as GraphQLErrors whose registry code sits on the original
    // ProtectorError; put it in `extensions` so the gateway and formatError keep it.
    return { ...result, errors: result.errors.map(coordinatorError) };
  }

  private document(source: string): DocumentNode | readonly GraphQLError[] {
    let document = this.documents.get(source);
    if (!document) {
      document = parsedDocument(this.schema, source);
      if (this.documents.size >= DOCUMENTS_KEPT) this.documents.delete(this.documents.keys().next().value!);
      this.documents.set(source, document);
    }
    return document;
  }
}

/** The document of `source`, parsed and validated against `schema`, or why it is not one. */
function parsedDocument(schema: GraphQLSchema, source: string): DocumentNode | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(source);
  } catch (err) {
    return [err as GraphQLError];
  }
  const errors = validate(schema, document);
  return errors.length ? errors : document;
}

function coordinatorError(error: GraphQLFormattedError): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? error.originalError : undefined;
  const base = { message: error.message, ...(error.path ? { path: error.path } : {}) };
  if (original instanceof ProtectorError) {
    return { ...base, message: original.message, extensions: original.toExtensions() };
  }
  const code = error.extensions?.['code'];
  if (typeof code === 'string') return { ...base, extensions: { ...error.extensions } };
  return { ...base, extensions: { code: 'INTERNAL', retryable: false } };
}

/** A site as the data source needs it: key (subgraph name) and, looked up when needed, its name. */
export interface SiteIdentity {
  readonly key: string;
  /** Current name of the site (the registry may rename; falls back to the key). */
  name(): string;
}

/** A site's GraphQL answer with a non-2xx status (e.g. 401 UNAUTHENTICATED): pass its errors on. */
class SiteGraphQLResponse extends GraphQLError {
  constructor(readonly body: { data?: unknown; errors: GraphQLFormattedError[] }) {
    super('The site answered with GraphQL errors.');
  }
}

/** Options of {@link SiteDataSource}. */
export interface SiteDataSourceOptions {
  readonly site: SiteIdentity;
  readonly url: string;
  /** Give up on a site request after this long. */
  readonly timeoutMs: number;
  /** The site's turns, shared with the coordinator's reads of it; see `[gateway] site_max_in_flight`. */
  readonly turns?: Turns | null;
  /** Connection pool shared by the gateway's site data sources (closed when the gateway stops). */
  readonly dispatcher: Agent;
  /**
   * Who a token of this site acts as, when its Keystone already said so (`SiteKeystone.knownCaller`):
   * requests of one caller are merged whatever token each sent. Null, or absent: by token.
   */
  readonly callerOf?: ((token: string) => string | null) | undefined;
}

/**
 * One site subgraph over HTTP (undici). Identical queries in flight to the site at the same time by
 * the same caller are sent once, and every caller gets its own copy of the answer. The same caller:
 * tokens this site's Keystone accepted as one user in one project with the same roles (each token
 * checked, see `callerOf`), or else the same token; so no answer crosses users, projects or tenants.
 */
export class SiteDataSource extends RemoteGraphQLDataSource {
  readonly site: SiteIdentity;
  readonly timeoutMs: number;
  private readonly inflight = new InFlight<GatewayResponse>();

  constructor(opts: SiteDataSourceOptions) {
    super({ url: opts.url });
    this.site = opts.site;
    this.timeoutMs = opts.timeoutMs;
    this.turns = opts.turns ?? null;
    this.callerOf = opts.callerOf ?? null;
    const { dispatcher, timeoutMs } = opts;
    // The whole exchange (connect, send, headers, body) must finish in time: a site that accepts the
    // connection and never answers must not hang the request.
    this.fetcher = ((url: string, init?: Record<string, unknown>) =>
      undiciFetch(url, {
        ...(init as object),
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      })) as unknown as RemoteGraphQLDataSource['fetcher'];
    this.honorSubgraphCacheControlHeader = false;
  }

  /** Sends only this site's token: a token of another site never leaves the gateway for this one. */
  override willSendRequest(options: ProcessOptions): void {
    const headers = options.request.http?.headers;
    if (!headers) return;
    headers.delete('x-auth-token');
    headers.delete('authorization');
    const ctx = options.context;
    if (!isGatewayContext(ctx)) return;
    const token = tokenForSite(ctx, this.site.key);
    if (token) headers.set('X-Auth-Token', token);
    headers.set('X-Request-Id', ctx.requestId);
  }

  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]) {
    const body = await this.parseBody(response).catch(() => null);
    if (body && typeof body === 'object' && Array.isArray((body as { errors?: unknown }).errors)) {
      return new SiteGraphQLResponse(body as { errors: GraphQLFormattedError[] });
    }
    return new GraphQLError(`HTTP ${response.status} ${response.statusText}`.trim(), {
      extensions: { unreachable: true },
    });
  }

  override async process(options: ProcessOptions): Promise<GatewayResponse> {
    const known = await this.answerFromReads(options);
    if (known) return known;
    const key = this.sharingKey(options);
    if (!key) return this.admitted(options);
    // Shared: every caller gets its own copy (the gateway writes into what it gets).
    return this.inflight.run(key.key, () => this.admitted(options), key.byCaller ? refusesToken : undefined);
  }

  private readonly turns: Turns | null;
  private readonly callerOf: ((token: string) => string | null) | null;

  /**
   * Sends the fetch when the site has a turn for it: at most `maxInFlight` at once (fewer while the
   * site is slow, see `Turns`), the others wait in order. One that cannot start within half the timeout is not sent: it answers OVERLOADED, which the
   * HTTP server turns into 503 with Retry-After (an honest "try again" rather than a late or partial
   * answer, and a site that is not pushed past what it can answer in time).
   */
  private async admitted(options: ProcessOptions): Promise<GatewayResponse> {
    try {
      return await withTurn(this.turns, Math.floor(this.timeoutMs / 2), this.site.name(), () =>
        this.send(options),
      );
    } catch (err) {
      if (!(err instanceof ProtectorError)) throw err;
      const error = { message: err.message, extensions: { ...err.toExtensions(), siteKey: this.site.key } };
      return { errors: [err.code === 'SITE_TIMEOUT' ? placed(options, error) : error] };
    }
  }

  private localSchema: GraphQLSchema | null = null;
  /** Entity fetches by query text: the parsed document when it can be answered from reads, else null. */
  private readonly entityFetches = new Map<string, DocumentNode | null>();

  /**
   * The planner's entity fetch of replicas the coordinator already read for this request, with the
   * caller's own credential at this site (`request-reads.ts`), answered from those reads: every
   * group of the fetch was read, and the fetch selects nothing the coordinator did not read (its
   * `ReplicaFields`), with no argument or directive. Executed against this site's own subgraph schema,
   * so the answer has the shape the site would give. Null: the fetch goes to the site.
   */
  private async answerFromReads(options: ProcessOptions): Promise<GatewayResponse | null> {
    const ctx = options.context;
    const query = options.request.query;
    if (!isGatewayContext(ctx) || !query) return null;
    const known = rememberedReplicas(ctx, this.site.key);
    if (!known) return null;
    const representations = options.request.variables?.['representations'];
    if (
      !Array.isArray(representations) ||
      !representations.every(
        (r) => isRecord(r) && r['__typename'] === 'ProtectionGroup' && known.has(String(r['id'])),
      )
    )
      return null;
    let answerable = this.entityFetches.get(query);
    if (answerable === undefined) {
      answerable = answerableFromReads(query, this.site.key);
      if (this.entityFetches.size >= 1000) this.entityFetches.clear();
      this.entityFetches.set(query, answerable);
    }
    if (!answerable) return null;
    this.localSchema ??= buildSubgraphSchema([
      {
        typeDefs: parse(siteSubgraphSdl(this.site.key)),
        resolvers: {
          ProtectionGroup: {
            __resolveReference: (ref: { id: string }, local: { replicas: ReadonlyMap<string, unknown> }) => ({
              id: ref.id,
              [this.site.key]: local.replicas.get(ref.id) ?? null,
            }),
          },
        } as never,
      },
    ]);
    const result = await execute({
      schema: this.localSchema,
      document: answerable,
      variableValues: options.request.variables ?? {},
      contextValue: { replicas: known },
    });
    if (result.errors?.length) return null;
    return { data: result.data as GatewayResponse['data'] };
  }

  /**
   * What makes two fetches the same: a query (never a mutation) with the same text and variables, for
   * the same token towards this site. Null for fetches that are not shared.
   */
  private sharingKey(options: ProcessOptions): { key: string; byCaller: boolean } | null {
    const ctx = options.context;
    if (!isGatewayContext(ctx) || !options.request.query) return null;
    // The query planner writes each fetch as one operation: a query starts with `query` or `{`.
    if (!/^\s*(query\b|\{)/.test(options.request.query)) return null;
    const token = tokenForSite(ctx, this.site.key) ?? '';
    const caller = token && this.callerOf ? this.callerOf(token) : null;
    const key = createHash('sha256')
      .update(caller ? `caller\0${caller}` : `token\0${token}`)
      .update('\0')
      .update(options.request.query)
      .update('\0')
      .update(JSON.stringify(options.request.variables ?? {}))
      .digest('base64');
    return { key, byCaller: !!caller };
  }

  /** Sends the fetch; a timeout is thrown (SITE_TIMEOUT, see `admitted`), any other failure answered. */
  private async send(options: ProcessOptions): Promise<GatewayResponse> {
    const site = { key: this.site.key, name: this.site.name() };
    try {
      const response = await super.process(options);
      if (!response.errors) return response;
      return { ...response, errors: response.errors.map((e) => placed(options, siteError(site, e))) };
    } catch (err) {
      if (err instanceof SiteGraphQLResponse) {
        return {
          data: (err.body.data ?? null) as GatewayResponse['data'],
          errors: err.body.errors.map((e) => placed(options, siteError(site, e))),
        };
      }
      if (timedOut(err)) throw siteTimeout(site, this.timeoutMs);
      return {
        errors: [placed(options, siteUnreachableError(site, describeFetchFailure(err, this.timeoutMs)))],
      };
    }
  }
}

/**
 * An error about the whole fetch (no path) placed on the first field the fetch asked for, so a client
 * sees which of its fields the failure emptied.
 */
function placed(options: ProcessOptions, error: GraphQLFormattedError): GraphQLFormattedError {
  if (error.path) return error;
  const path = firstFieldPath(fetchDocument(options));
  return path ? { ...error, path } : error;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The fields `ReplicaFields` reads, as a tree: field name -> its sub-fields (null for a leaf). */
type FieldTree = ReadonlyMap<string, FieldTree | null>;
const treeOf = (set: SelectionSetNode): FieldTree =>
  new Map(
    set.selections
      .filter((s): s is FieldNode => s.kind === Kind.FIELD)
      .map((f) => [f.name.value, f.selectionSet ? treeOf(f.selectionSet) : null]),
  );
const REPLICA_FIELDS: FieldTree = treeOf(
  (ReplicaFieldsFragmentDoc.definitions[0] as FragmentDefinitionNode).selectionSet,
);

/** Every selection is a field of `allowed` (or `__typename`), without argument or directive. */
function within(set: SelectionSetNode, allowed: FieldTree): boolean {
  return set.selections.every((s) => {
    if (s.directives?.length) return false;
    if (s.kind === Kind.INLINE_FRAGMENT) return within(s.selectionSet, allowed);
    if (s.kind !== Kind.FIELD) return false;
    if (s.name.value === '__typename') return !s.selectionSet;
    if (s.arguments?.length || !allowed.has(s.name.value)) return false;
    const sub = allowed.get(s.name.value);
    return s.selectionSet ? !!sub && within(s.selectionSet, sub) : !sub;
  });
}

/**
 * `query` parsed, when it is an entity fetch of ProtectionGroups that selects only `id`, `__typename`
 * and this site's replica field with what `ReplicaFields` reads; null otherwise.
 */
export function answerableFromReads(query: string, siteKey: string): DocumentNode | null {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return null;
  }
  const [operation, ...others] = document.definitions;
  if (others.length || operation?.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'query')
    return null;
  const [root, ...more] = operation.selectionSet.selections;
  if (more.length || root?.kind !== Kind.FIELD || root.name.value !== '_entities' || root.directives?.length)
    return null;
  const answerable = (root.selectionSet?.selections ?? []).every((s) => {
    if (s.kind === Kind.FIELD) return s.name.value === '__typename' && !s.directives?.length;
    if (s.kind !== Kind.INLINE_FRAGMENT || s.typeCondition?.name.value !== 'ProtectionGroup') return false;
    if (s.directives?.length) return false;
    return s.selectionSet.selections.every((f) => {
      if (f.kind !== Kind.FIELD || f.directives?.length || f.arguments?.length) return false;
      if (f.name.value === '__typename' || f.name.value === 'id') return !f.selectionSet;
      return f.name.value === siteKey && !!f.selectionSet && within(f.selectionSet, REPLICA_FIELDS);
    });
  });
  return answerable ? document : null;
}

/** The document of a fetch: given by the planner only when configured to, else parsed (errors only). */
function fetchDocument(options: ProcessOptions): DocumentNode | undefined {
  if ('document' in options && options.document) return options.document;
  try {
    return options.request.query ? parse(options.request.query) : undefined;
  } catch {
    return undefined;
  }
}

/** The first field of a selection set, looking through inline fragments and past `__typename`. */
function firstField(selectionSet: SelectionSetNode | undefined): FieldNode | undefined {
  for (const sel of selectionSet?.selections ?? []) {
    if (sel.kind === Kind.FIELD && sel.name.value !== '__typename') return sel;
    if (sel.kind === Kind.INLINE_FRAGMENT) {
      const inner = firstField(sel.selectionSet);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * Path, in the subgraph's response, of the first field a fetch asks for: `[field]` for a root fetch,
 * `['_entities', 0, field]` for an entity fetch (the gateway maps both to the client's path).
 */
function firstFieldPath(document: DocumentNode | undefined): (string | number)[] | undefined {
  const operation = document?.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const root = operation ? firstField(operation.selectionSet) : undefined;
  if (!root) return undefined;
  const key = root.alias?.value ?? root.name.value;
  if (root.name.value !== '_entities') return [key];
  const inner = firstField(root.selectionSet);
  return inner ? [key, 0, inner.alias?.value ?? inner.name.value] : [key, 0];
}
