/**
 * Subscriptions through the gateway (ARCHITECTURE §5). `@apollo/gateway` cannot execute them, so the
 * gateway serves graphql-ws itself:
 *
 * 1. `connection_init` carries the tokens (same shapes as the HTTP headers); no token at all -> 4403.
 * 2. A subscription is validated against the CURRENT supergraph API schema.
 * 3. The root field's events come from the subgraph that owns it: the coordinator, in-process; a
 *    site (`boston(filter:)`), over graphql-ws as a client (`site-relay.ts`): the gateway subscribes at
 *    the site with the site's token only, the subscriber's arguments and the subscriber's selection
 *    with every entity-typed field reduced to its key (`keyOnlySelection`).
 * 4. Each event is executed against the API schema with the event as root value. Fields of the event
 *    come from the event (through the coordinator's own resolvers where it has some; a site's event is
 *    read by response key, as the site answered the subscriber's own aliases); a field whose
 *    type is an entity (`Operation`, `ProtectionGroup`, `Site`) is refetched per event as a QUERY
 *    THROUGH THE GATEWAY (`operation(id:)`, `protectionGroup(id:)`, `site(name:)`) with the
 *    subscriber's selection under it and the subscriber's context, so the planner resolves fields of
 *    every subgraph and each site sees only its own token. Refetched data is read by response key
 *    (aliases), and its errors are moved under the event's path.
 */

import { EventHub, type HubListener, InFlight } from '@protector/platform';
import {
  parseLimits,
  type QueryLimits,
  queryLimitRules,
  sanitizeClientError,
  withoutEchoedValues,
} from '@protector/platform/server';
import {
  type DocumentNode,
  defaultFieldResolver,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type FieldNode,
  type FormattedExecutionResult,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLFormattedError,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
  print,
  responsePathAsArray,
  type SelectionSetNode,
  specifiedRules,
  validate,
} from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { keepNoReads } from '../coordinator/request-reads.js';
import { authorityOf, type CallerLookup } from '../coordinator/site-registry.js';
import {
  contextFromConnectionParams,
  type GatewayContext,
  hasAnyToken,
  newRequestId,
  tokenForSite,
} from './context.js';
import {
  buildRefetchQuery,
  buildSiteSubscription,
  ENTITY_REFETCH,
  mergedSelectionSet,
  REFETCH_ALIAS,
  type RefetchQuery,
  selectsOnly,
} from './entity-refetch.js';
import { fromFormattedError, refusesToken, siteError, toClientError } from './errors.js';
import type { RelaySite, SiteSubscriptionRequest } from './site-relay.js';

/** A result as `ApolloServer.executeOperation` gives it: errors already formatted. */
export interface FormattedResult {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: readonly GraphQLFormattedError[];
}

/** What the subscription layer needs from the gateway. */
export interface SubscriptionDeps {
  /**
   * The supergraph's API schema now, as a copy of its own: Apollo Server wraps the resolvers of the
   * gateway's schema object in place, which would bypass the per-event field resolver. Null until
   * the first supergraph is loaded.
   */
  apiSchema(): GraphQLSchema | null;
  /** The coordinator's subgraph schema (its resolvers are used for fields of events). */
  readonly coordinatorSchema: GraphQLSchema;
  /** Events of a coordinator subscription field. */
  coordinatorSubscribe(
    field: string,
    args: Record<string, unknown>,
    ctx: GatewayContext,
  ): AsyncIterable<Record<string, unknown>> | Promise<AsyncIterable<Record<string, unknown>>>;
  /**
   * For a coordinator field whose events, from the moment of subscribing, are the same for every
   * subscriber with the same arguments and tokens (no first event of its own, such as a snapshot):
   * the check each subscriber must pass (e.g. that it may see the group it named). Such subscribers
   * share one stream (see {@link SharedStream}). Null, or absent, for the other fields.
   */
  coordinatorAdmission?(
    field: string,
  ): ((args: Record<string, unknown>, ctx: GatewayContext) => Promise<void>) | null;
  /** Limits on subscription documents (the same as on queries). */
  readonly limits: QueryLimits;
  /** Checks a connection's tokens; rejects (with UNAUTHENTICATED) when one is refused. */
  authenticate(ctx: GatewayContext): Promise<void>;
  /** Runs a query through the gateway (planner, every subgraph) with a client's context. */
  execute(
    document: DocumentNode,
    variables: Record<string, unknown>,
    ctx: GatewayContext,
    operationName?: string,
  ): Promise<FormattedResult>;
  /** The site whose key is `field` (a site subscription root field), or null when none is registered. */
  site(field: string): (RelaySite & { readonly url: string }) | null;
  /**
   * Subscribes at the site (graphql-ws, `connectionParams: { token }`): its results as it sends them;
   * `return()` closes the connection; a failure throws an `AggregateError` of GraphQL errors naming
   * the site (`SiteRelayError`).
   */
  siteSubscribe(
    site: RelaySite & { readonly url: string },
    token: string,
    request: SiteSubscriptionRequest,
  ): AsyncIterable<FormattedResult>;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  /**
   * Who each site's token acts as, where known: subscribers whose tokens act as the same user,
   * project and roles at every site share executions (see `authorityOf`). Absent: by tokens.
   */
  readonly callers?: CallerLookup | undefined;
}

const gatewayError = (message: string, code: string, retryable = false) =>
  new GraphQLError(message, { extensions: { code, retryable } });

/** The fields of a selection set by response key, looking through fragments (enough for a root). */
function rootFields(
  selectionSet: SelectionSetNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  out: FieldNode[] = [],
): FieldNode[] {
  for (const sel of selectionSet.selections) {
    if (sel.kind === Kind.FIELD) out.push(sel);
    else if (sel.kind === Kind.INLINE_FRAGMENT) rootFields(sel.selectionSet, fragments, out);
    else {
      const def = fragments[sel.name.value];
      if (def) rootFields(def.selectionSet, fragments, out);
    }
  }
  return out;
}

/** A document's fragments by name, found once per (shared) document. */
const fragmentsByDocument = new WeakMap<DocumentNode, Readonly<Record<string, FragmentDefinitionNode>>>();
const fragmentsOf = (document: DocumentNode): Readonly<Record<string, FragmentDefinitionNode>> => {
  let out = fragmentsByDocument.get(document);
  if (!out) {
    const found: Record<string, FragmentDefinitionNode> = {};
    for (const def of document.definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) found[def.name.value] = def;
    out = found;
    fragmentsByDocument.set(document, out);
  }
  return out;
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The errors a failing event source ends with: its GraphQL errors (a relay's may be several). */
function sourceErrors(err: unknown): GraphQLError[] {
  if (err instanceof GraphQLError) return [err];
  if (
    err instanceof AggregateError &&
    err.errors.length > 0 &&
    err.errors.every((e) => e instanceof GraphQLError)
  ) {
    return err.errors as GraphQLError[];
  }
  return [new GraphQLError((err as Error).message, { originalError: err as Error })];
}

/**
 * An async iterator over `source` mapped by `fn`, whose `return()` ends the source at once (an async
 * generator would wait for the pending event before it could end the source). A failing source ends
 * the stream with one result carrying the error.
 */
export function mapEvents<T>(
  source: AsyncIterable<T>,
  fn: (event: T) => Promise<ExecutionResult>,
): AsyncGenerator<ExecutionResult, void, unknown> {
  const it = source[Symbol.asyncIterator]();
  let done = false;
  const finish = async (): Promise<IteratorResult<ExecutionResult, void>> => {
    if (!done) {
      done = true;
      await it.return?.();
    }
    return { done: true, value: undefined };
  };
  const generator: AsyncGenerator<ExecutionResult, void, unknown> = {
    async next() {
      if (done) return { done: true, value: undefined };
      let step: IteratorResult<T>;
      try {
        step = await it.next();
      } catch (err) {
        done = true;
        return { done: false, value: { errors: sourceErrors(err).map(toClientError) } };
      }
      if (step.done) {
        done = true;
        return { done: true, value: undefined };
      }
      return { done: false, value: await fn(step.value) };
    },
    return: finish,
    async throw(err) {
      await finish();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return generator;
    },
  };
  return generator;
}

/** One subscription, prepared once: its root field and what each event's execution needs. */
interface PreparedSubscription {
  readonly args: ExecutionArgs;
  readonly ctx: GatewayContext;
  readonly operation: OperationDefinitionNode;
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>;
  readonly variables: Record<string, unknown>;
}

/** Where an event comes from, for {@link resolveEvent}. */
export interface EventOrigin {
  /**
   * The event is a site's answer to the subscriber's selection reduced by `keyOnlySelection`: read
   * by response key, entity references (key only) refetched through the gateway.
   */
  readonly fromSite?: boolean;
  /** Errors that came with the event (a site's, already at the subscriber's paths). */
  readonly errors?: readonly GraphQLError[];
}

/**
 * Refetches in flight, shared: subscribers whose refetch is the same query with the same variables
 * and the same authority (`authorityOf`) wait for one execution, which every one of them reads
 * (the answer is only read). 10,000 subscribers with one selection cost one refetch per event.
 */
const refetchesInFlight = new InFlight<FormattedResult>({ copies: false });
/**
 * The refetch query of an entity field, built once per field of a document: subscribers that sent
 * the same text share its parsed document (see `onSubscribe`), so they share these too.
 */
const refetchQueries = new WeakMap<FieldNode, RefetchQuery>();
const printed = new WeakMap<DocumentNode, string>();

async function sharedRefetch(
  deps: Pick<SubscriptionDeps, 'execute' | 'callers'>,
  query: RefetchQuery,
  variables: Record<string, unknown>,
  ctx: GatewayContext,
): Promise<FormattedResult> {
  const key = `${authorityOf(ctx, deps.callers)}\u0000${printedOnce(query.document)}\u0000${JSON.stringify(variables)}`;
  // A context of its own: what this execution reads is kept for it only (`keepNoReads`).
  const own = () => deps.execute(query.document, variables, { ...ctx, requestId: newRequestId() });
  return refetchesInFlight.run(key, own, refusesToken);
}

function printedOnce(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

/**
 * What makes two subscriptions answer an event alike: document, operation, variables, authority (by
 * callers when `callers` is given, else by tokens; see `authorityOf`).
 */
const sharingKeys = new WeakMap<PreparedSubscription, string>();
function sharingKey(sub: PreparedSubscription, callers?: CallerLookup): string {
  let key = sharingKeys.get(sub);
  if (key === undefined) {
    key = [printedOnce(sub.args.document), sub.args.operationName ?? '', JSON.stringify(sub.variables)].join(
      '\u0000',
    );
    sharingKeys.set(sub, key);
  }
  return `${authorityOf(sub.ctx, callers)}\u0000${key}`;
}

/**
 * Executions of one event, by sharing key: an event object the coordinator hands to every subscriber
 * is executed once per distinct subscription (document, variables, authority), and each of those
 * subscribers sends that one answer (only read). 10,000 dashboards of 100 users with one selection
 * cost 100 executions per event, not 10,000. Kept as long as the event object lives.
 */
const executions = new WeakMap<
  object,
  Map<string, { readonly sub: PreparedSubscription; readonly result: Promise<ExecutionResult> }>
>();

/** Resolves one event of a subscription into the subscriber's result (see the module comment). */
export async function resolveEvent(
  deps: Pick<SubscriptionDeps, 'coordinatorSchema' | 'execute' | 'callers'>,
  sub: PreparedSubscription,
  event: Record<string, unknown>,
  origin: EventOrigin = {},
): Promise<ExecutionResult> {
  // A site's event is relayed per subscriber (its own site subscription): nothing to share.
  if (origin.fromSite) return executeEvent(deps, sub, event, origin);
  let byKey = executions.get(event);
  if (!byKey) {
    byKey = new Map();
    executions.set(event, byKey);
  }
  const key = sharingKey(sub, deps.callers);
  let shared = byKey.get(key);
  if (!shared) {
    shared = { sub, result: executeEvent(deps, sub, event, origin) };
    byKey.set(key, shared);
  }
  const result = await shared.result;
  return shared.sub !== sub && refusesToken({ status: 'fulfilled', value: result })
    ? executeEvent(deps, sub, event, origin)
    : result;
}

async function executeEvent(
  deps: Pick<SubscriptionDeps, 'coordinatorSchema' | 'execute' | 'callers'>,
  sub: PreparedSubscription,
  event: Record<string, unknown>,
  origin: EventOrigin,
): Promise<ExecutionResult> {
  const refetchErrors: GraphQLError[] = [];
  const fromGateway = new WeakSet<object>();
  // Objects of a site's event (not the entity references under it: those are copied when resolved).
  const fromSite = new WeakSet<object>();

  const markFromGateway = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(markFromGateway);
    else if (isRecord(value) && !fromGateway.has(value)) {
      fromGateway.add(value);
      Object.values(value).forEach(markFromGateway);
    }
  };

  const refetch = async (
    typeName: string,
    reference: unknown,
    info: GraphQLResolveInfo,
    path: readonly (string | number)[],
  ): Promise<unknown> => {
    const rule = ENTITY_REFETCH[typeName];
    if (!rule || !isRecord(reference)) return reference;
    const key = reference[rule.keyField];
    if (key === undefined || key === null) return reference;
    const selection = mergedSelectionSet(info.fieldNodes);
    const present = new Set(Object.keys(reference).filter((k) => reference[k] !== undefined));
    if (selectsOnly(selection, present, sub.fragments)) return reference;

    const first = info.fieldNodes[0]!;
    let query = refetchQueries.get(first);
    if (!query) {
      query = buildRefetchQuery(rule, selection, sub.operation, sub.fragments);
      refetchQueries.set(first, query);
    }
    const variables: Record<string, unknown> = { [query.keyVariable]: key };
    for (const name of query.variables) {
      if (Object.hasOwn(sub.variables, name)) variables[name] = sub.variables[name];
    }
    const result = await sharedRefetch(deps, query, variables, sub.ctx);
    const moved = (result.errors ?? []).map((e) => {
      const rest = e.path && e.path[0] === REFETCH_ALIAS ? e.path.slice(1) : [];
      return fromFormattedError(e, [...path, ...rest]);
    });
    const entity = result.data?.[REFETCH_ALIAS];
    if ((entity === null || entity === undefined) && moved.length > 0) {
      refetchErrors.push(...moved.slice(1));
      throw moved[0]!;
    }
    refetchErrors.push(...moved);
    markFromGateway(entity);
    return entity ?? null;
  };

  const resolveEntities = (value: unknown, typeName: string, info: GraphQLResolveInfo): unknown => {
    const path = responsePathAsArray(info.path);
    const one = (v: unknown, p: readonly (string | number)[]): unknown =>
      Array.isArray(v)
        ? Promise.all(v.map((item, i) => one(item, [...p, i])))
        : refetch(typeName, v, info, p);
    return value instanceof Promise ? value.then((v) => one(v, path)) : one(value, path);
  };

  const markFromSite = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(markFromSite);
    else if (isRecord(value) && !fromSite.has(value)) {
      fromSite.add(value);
      Object.values(value).forEach(markFromSite);
    }
  };
  // An entity reference of a site's event leaves the site's objects: its own fields (the key) are
  // then read by field name, whatever the subscriber's aliases.
  const copyReference = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(copyReference) : isRecord(value) ? { ...value } : value;
  if (origin.fromSite) markFromSite(event);

  const subscriptionType = sub.args.schema.getSubscriptionType();
  const fieldResolver: GraphQLFieldResolver<unknown, GatewayContext> = (source, args, ctx, info) => {
    if (info.parentType === subscriptionType) return source;
    if (isRecord(source) && fromGateway.has(source)) return source[info.path.key as string];
    if (isRecord(source) && fromSite.has(source)) {
      const value = source[info.path.key as string];
      const named = getNamedType(info.returnType);
      return ENTITY_REFETCH[named.name] ? resolveEntities(copyReference(value), named.name, info) : value;
    }
    const coordinatorType = deps.coordinatorSchema.getType(info.parentType.name);
    const own = isObjectType(coordinatorType)
      ? coordinatorType.getFields()[info.fieldName]?.resolve
      : undefined;
    const value = (own ?? defaultFieldResolver)(source, args, ctx, info);
    const named = getNamedType(info.returnType);
    return ENTITY_REFETCH[named.name] ? resolveEntities(value, named.name, info) : value;
  };

  const result = await execute({ ...sub.args, rootValue: event, contextValue: sub.ctx, fieldResolver });
  // A field the site answered with an error is null here too: its error is the site's, not a second one.
  const given = new Set((origin.errors ?? []).map((e) => JSON.stringify(e.path ?? null)));
  const own = (result.errors ?? []).filter((e) => !e.path || !given.has(JSON.stringify(e.path)));
  const errors = [...(origin.errors ?? []), ...own.map(toClientError), ...refetchErrors];
  return errors.length > 0 ? { ...result, errors } : result;
}

/** Unwraps `{ <field>: event }` when the coordinator yields events wrapped by their field name. */
function unwrapEvent(
  event: Record<string, unknown>,
  field: string,
  schema: GraphQLSchema,
): Record<string, unknown> {
  const keys = Object.keys(event);
  const type = getNamedType(schema.getSubscriptionType()?.getFields()[field]?.type);
  const wrapped = keys.length === 1 && keys[0] === field && isRecord(event[field]);
  if (wrapped && !(isObjectType(type) && Object.hasOwn(type.getFields(), field))) {
    return event[field] as Record<string, unknown>;
  }
  return event;
}

/**
 * The events of a site's subscription root field, relayed from the site (see the module comment):
 * one result per site event, resolved like a coordinator event; the site's failure is one result
 * with its errors, then completion.
 */
function relaySite(
  deps: SubscriptionDeps,
  sub: PreparedSubscription,
  field: string,
  responseKey: string,
  nodes: readonly FieldNode[],
): AsyncGenerator<ExecutionResult, void, unknown> | ExecutionResult {
  const site = deps.site(field);
  if (!site) {
    return {
      errors: [
        gatewayError(
          `Subscription field '${field}' belongs to site key '${field}', which no registered site has; register the site or recompose.`,
          'SITE_UNREACHABLE',
          true,
        ),
      ],
    };
  }
  const token = tokenForSite(sub.ctx, site.key);
  if (!token) {
    const error = siteError(site, {
      message: `no Keystone token for this site: send one in connection_init ({ "siteTokens": { "${site.key}": "..." } } or "token").`,
      extensions: { code: 'UNAUTHENTICATED', retryable: false },
    });
    return { errors: [toClientError(fromFormattedError(error))] };
  }
  const request = buildSiteSubscription(
    sub.args.schema,
    nodes,
    sub.operation,
    sub.fragments,
    sub.args.variableValues ?? {},
  );
  deps.log('debug', `subscription ${field} relayed from site ${site.name} (request ${sub.ctx.requestId})`);
  const source = deps.siteSubscribe(site, token, request);
  return mapEvents(source, async (result) => {
    // The site's errors, at the subscriber's paths (the site's event is `data.<field>`).
    const errors = (result.errors ?? []).map((e) => {
      const moved = siteError(site, e);
      const path = e.path && e.path[0] === field ? [responseKey, ...e.path.slice(1)] : e.path;
      return toClientError(fromFormattedError(moved, path));
    });
    const event = result.data?.[field];
    if (!isRecord(event)) return { data: null, errors: errors.length > 0 ? errors : [missingEvent(site)] };
    return resolveEvent(deps, sub, event, { fromSite: true, errors });
  });
}

const missingEvent = (site: RelaySite) =>
  fromFormattedError(
    siteError(site, {
      message: 'the site sent an event without data.',
      extensions: { code: 'INTERNAL', retryable: false },
    }),
  );

/** A socket of the platform's graphql-ws server: it writes a `next` message whose payload it shares. */
interface FrameSocket {
  sendNext(id: string, payload: object): void;
}

/**
 * A subscriber of a shared stream. The stream's results are written to its socket as the hub
 * delivers them (`sendNext`: serialised and encoded once for all), with no iterator step, hook or
 * copy per subscriber. graphql-ws holds it as the subscription's iterator: it ends when the stream
 * does (graphql-ws then sends `complete`), and its `return()` (the client completed, or the socket
 * closed) stops the writes at once. Results that arrive before it is admitted wait, and are dropped
 * if it is refused.
 */
class StreamMember implements AsyncIterableIterator<ExecutionResult>, HubListener<ExecutionResult> {
  /** Results before admission; null once admitted. */
  private pending: ExecutionResult[] | null = [];
  private ended = false;
  private done = false;
  private finished: (() => void) | null = null;
  private readonly stop: () => void;

  constructor(
    results: EventHub<ExecutionResult>,
    private readonly socket: FrameSocket,
    private readonly id: string,
  ) {
    this.stop = results.listen(this);
  }

  event(result: ExecutionResult): void {
    if (this.done) return;
    if (this.pending) this.pending.push(result);
    else this.socket.sendNext(this.id, result);
  }

  end(): void {
    this.ended = true;
    if (!this.pending) this.finish();
  }

  /** Its check passed: what waited is written, and it goes on live. */
  admitted(): void {
    const pending = this.pending ?? [];
    this.pending = null;
    for (const result of pending) this.event(result);
    if (this.ended) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.pending = null;
    this.stop();
    this.finished?.();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => {
      this.finished = () => resolve({ done: true, value: undefined });
    });
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.finish();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** How long a passed admission check of a shared stream's tokens answers for later subscribers. */
const ADMISSION_REUSE_MS = 5_000;

/**
 * One stream of results for every subscriber of a coordinator field that answers its subscribers
 * alike (same document, variables and tokens: {@link sharingKey}): the field's events are listened
 * to, checked and executed once, and each result goes to every subscriber as it is (serialised once,
 * see `sharedPayloads`). 10,000 dashboards of 100 users are 100 streams: per subscriber and event
 * there is only the delivery and the frame. A stream opens with its first subscriber and closes with
 * its last; when its events end (or fail, with one result carrying the error) every subscriber's do.
 */
class SharedStream {
  readonly results: EventHub<ExecutionResult>;
  private source: AsyncGenerator<ExecutionResult, void, unknown> | null = null;
  private closed = false;
  /** The last admission check of this stream's tokens, and when it started. */
  private admission: { readonly checked: Promise<void>; readonly at: number } | null = null;

  constructor(
    private readonly key: string,
    private readonly streams: Map<string, SharedStream>,
    open: () => Promise<AsyncGenerator<ExecutionResult, void, unknown>>,
  ) {
    this.results = new EventHub<ExecutionResult>({ whenEmpty: () => this.close(), fed: true });
    streams.set(key, this);
    void this.pump(open);
  }

  private async pump(open: () => Promise<AsyncGenerator<ExecutionResult, void, unknown>>): Promise<void> {
    try {
      const source = await open();
      this.source = source;
      if (this.closed) await source.return();
      for (;;) {
        const step = await source.next();
        if (step.done) break;
        this.results.publish(step.value);
      }
    } catch (err) {
      this.results.publish({ errors: sourceErrors(err).map(toClientError) });
    } finally {
      this.close();
    }
  }

  /**
   * Admits a subscriber: every subscriber of a stream has the same tokens, so a check of them that
   * passed (or is in flight) less than {@link ADMISSION_REUSE_MS} ago is its answer too; 10,000
   * dashboards of 100 users connecting ask the sites about 100 times, not 10,000. A refusal is never
   * reused: the next subscriber is checked afresh.
   */
  admit(check: () => Promise<void>): Promise<void> {
    const now = Date.now();
    if (this.admission && now - this.admission.at < ADMISSION_REUSE_MS) return this.admission.checked;
    const admission = { checked: check(), at: now };
    this.admission = admission;
    admission.checked.catch(() => {
      if (this.admission === admission) this.admission = null;
    });
    return admission.checked;
  }

  /** No subscriber is left, or the events ended: later subscribers start a new stream. */
  private close(): void {
    if (this.streams.get(this.key) === this) this.streams.delete(this.key);
    if (this.closed) return;
    this.closed = true;
    this.results.end();
    void this.source?.return();
  }
}

/** How many distinct valid subscription documents are kept parsed (the oldest goes first). */
const VALID_DOCUMENTS_KEPT = 500;

/** graphql-ws server options of the gateway (see the module comment). */
export function createSubscriptionOptions(deps: SubscriptionDeps): ServerOptions & { schema?: undefined } {
  const contexts = new WeakMap<object, GatewayContext>();
  const validDocuments = new WeakMap<GraphQLSchema, Map<string, DocumentNode>>();
  const streams = new Map<string, SharedStream>();
  /** Each subscription's socket and id, by its context (set in `onSubscribe`). */
  const subscribers = new WeakMap<GatewayContext, { socket: FrameSocket; id: string }>();

  return {
    connectionInitWaitTimeout: 10_000,
    async onConnect(wsCtx) {
      const ctx = contextFromConnectionParams(wsCtx.connectionParams);
      // 4403 Forbidden: every field needs a site's or the coordinator's token, so a connection
      // without any token can do nothing; a token for an unknown site or one its Keystone refuses
      // is refused here too.
      if (!hasAnyToken(ctx)) return false;
      try {
        await deps.authenticate(ctx);
      } catch {
        return false;
      }
      contexts.set(wsCtx, ctx);
      return true;
    },
    onSubscribe(wsCtx, id, payload) {
      const schema = deps.apiSchema();
      if (!schema)
        return [gatewayError('The supergraph is not loaded yet; retry in a moment.', 'INTERNAL', true)];
      // Many subscribers send the same document: parsed and validated once per schema, and shared.
      let valid = validDocuments.get(schema);
      if (!valid) {
        valid = new Map();
        validDocuments.set(schema, valid);
      }
      let document = valid.get(payload.query);
      if (!document) {
        try {
          document = parse(payload.query, parseLimits(deps.limits));
        } catch (err) {
          const message = (err as Error).message;
          const formatted = sanitizeClientError({ message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
          return [gatewayError(formatted.message, String(formatted.extensions?.['code']))];
        }
        const errors = validate(schema, document, [...specifiedRules, ...queryLimitRules(deps.limits)]);
        if (errors.length > 0) {
          return errors.map(
            (e) =>
              new GraphQLError(withoutEchoedValues(e.message), {
                nodes: e.nodes,
                extensions: { code: e.extensions['code'] ?? 'GRAPHQL_VALIDATION_FAILED' },
              }),
          );
        }
        if (valid.size >= VALID_DOCUMENTS_KEPT) valid.delete(valid.keys().next().value!);
        valid.set(payload.query, document);
      }
      const operationName = payload.operationName ?? undefined;
      const operation = getOperationAST(document, operationName);
      if (!operation) {
        return [
          gatewayError('Unable to identify the operation: name it with operationName.', 'BAD_USER_INPUT'),
        ];
      }
      const variables = getVariableValues(
        schema,
        operation.variableDefinitions ?? [],
        payload.variables ?? {},
      );
      if (variables.errors) {
        return variables.errors.map(
          (e) =>
            new GraphQLError(withoutEchoedValues(e.message), {
              nodes: e.nodes,
              extensions: { code: 'BAD_USER_INPUT' },
            }),
        );
      }
      const base = contexts.get(wsCtx) ?? contextFromConnectionParams(wsCtx.connectionParams);
      const ctx: GatewayContext = { ...base, requestId: newRequestId() };
      const socket = (wsCtx.extra as { socket?: Partial<FrameSocket> } | undefined)?.socket;
      if (typeof socket?.sendNext === 'function') subscribers.set(ctx, { socket: socket as FrameSocket, id });
      return {
        schema,
        document,
        operationName,
        variableValues: payload.variables ?? {},
        contextValue: ctx,
      };
    },
    // The answer of a shared execution goes out as it is, not copied per subscriber, so it is
    // serialised once for all of its subscribers (`sharedPayloads` in @protector/platform).
    onNext: (_ctx, _id, _payload, _args, result) => result as FormattedExecutionResult,
    // Queries and mutations sent over the socket go through the gateway like HTTP ones.
    async execute(args) {
      const ctx = args.contextValue as GatewayContext;
      const result = await deps.execute(
        args.document,
        { ...args.variableValues },
        ctx,
        args.operationName ?? undefined,
      );
      return {
        ...(result.data !== undefined ? { data: result.data } : {}),
        ...(result.errors ? { errors: result.errors.map((e) => fromFormattedError(e)) } : {}),
      };
    },
    async subscribe(args) {
      const ctx = args.contextValue as GatewayContext;
      keepNoReads(ctx);
      const operation = getOperationAST(args.document, args.operationName)!;
      const fragments = fragmentsOf(args.document);
      const [fieldNode] = rootFields(operation.selectionSet, fragments);
      const subscriptionType = args.schema.getSubscriptionType();
      const fieldDef = fieldNode && subscriptionType?.getFields()[fieldNode.name.value];
      if (!fieldNode || !fieldDef)
        return { errors: [gatewayError('The subscription selects no field.', 'BAD_USER_INPUT')] };
      const field = fieldDef.name;
      const coordinatorFields = deps.coordinatorSchema.getSubscriptionType()?.getFields() ?? {};
      const fromCoordinator = Object.hasOwn(coordinatorFields, field);
      const coerced = getVariableValues(args.schema, operation.variableDefinitions ?? [], {
        ...args.variableValues,
      });
      const variables = coerced.coerced ?? {};
      const prepared: PreparedSubscription = {
        args,
        ctx,
        operation,
        fragments,
        variables,
      };
      if (!fromCoordinator) {
        const responseKey = fieldNode.alias?.value ?? fieldNode.name.value;
        const nodes = rootFields(operation.selectionSet, fragments).filter(
          (n) => (n.alias?.value ?? n.name.value) === responseKey,
        );
        return relaySite(deps, prepared, field, responseKey, nodes);
      }
      let fieldArgs: Record<string, unknown>;
      try {
        fieldArgs = getArgumentValues(fieldDef, fieldNode, variables);
      } catch (err) {
        return { errors: sourceErrors(err).map(toClientError) };
      }
      const open = async () => {
        const source = await deps.coordinatorSubscribe(field, fieldArgs, ctx);
        deps.log('debug', `subscription ${field} started (request ${ctx.requestId})`);
        return mapEvents(source, (event) =>
          resolveEvent(deps, prepared, isRecord(event) ? unwrapEvent(event, field, args.schema) : {}),
        );
      };
      const admit = deps.coordinatorAdmission?.(field);
      if (!admit) {
        try {
          return await open();
        } catch (err) {
          return { errors: sourceErrors(err).map(toClientError) };
        }
      }
      const subscriber = subscribers.get(ctx);
      if (!subscriber)
        throw new Error("A shared subscription needs the socket of the gateway's graphql-ws server.");
      // Joined before the check, so no event falls between the two (a stream is never left without
      // its first member: it closes when its last one leaves). By tokens, not callers: a stream checks
      // its tokens at every event and ends when they are refused, which must end no one else's.
      const key = sharingKey(prepared);
      const stream = streams.get(key) ?? new SharedStream(key, streams, open);
      const member = new StreamMember(stream.results, subscriber.socket, subscriber.id);
      try {
        await stream.admit(() => admit(fieldArgs, ctx));
      } catch (err) {
        await member.return();
        return { errors: sourceErrors(err).map(toClientError) };
      }
      member.admitted();
      return member;
    },
  };
}
