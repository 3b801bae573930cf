import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { OperationStatus } from '@protector/schema';
import { type DocumentNode, print } from 'graphql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createChannel } from './channel.js';
import { documents, siteVolumeTypesDocument } from './documents.js';
import {
  type GraphQLErrorInfo,
  ProtectorClientError,
  ProtectorConnectionError,
  toGraphQLErrorInfo,
} from './errors.js';
import {
  authConnectionParams,
  authHeaders,
  type CompiledClientOptions,
  compileClientOptions,
  type ProtectorClientOptions,
} from './options.js';
import { redactSecrets } from './redact.js';
import type {
  AddMemberInput,
  AddMembersInput,
  CancelOperationInput,
  Connection,
  CreateProtectionGroupInput,
  CreateReplicationPolicyInput,
  DeletedProtectionGroup,
  DeleteProtectionGroupInput,
  FailbackInput,
  FailoverInput,
  ListArgs,
  Operation,
  OperationEvent,
  OperationFilterInput,
  OperationSummary,
  ProtectionGroup,
  ProtectionGroupFilterInput,
  ProtectionGroupSummary,
  ProtectionGroupSyncState,
  ReadonlyInput,
  RecoveryPoint,
  RegisterSiteInput,
  RemoveMemberInput,
  ResumeOperationInput,
  SetResourceMappingsInput,
  Site,
  SiteValidation,
  SiteWithHealth,
  SyncProtectionGroupInput,
  TestCleanupInput,
  TestFailoverInput,
  VolumeType,
} from './types.js';

/**
 * A GraphQL document: source text, or a parsed `DocumentNode` (printed with `graphql` when sent). A
 * `TypedDocumentNode` (each of {@link documents}) also gives a request its result and variable types.
 */
export type GraphQLDocument = string | DocumentNode;

/** A document, typed when it is a `TypedDocumentNode` (the result `T`, the variables `V`). */
export type TypedGraphQLDocument<T, V> = GraphQLDocument | TypedDocumentNode<T, V>;

/** Variables of a request. */
export type Variables = Readonly<Record<string, unknown>>;

/** A result with its GraphQL errors, for callers that accept partial data (e.g. one site unreachable). */
export interface ResultWithErrors<T> {
  /** Null when nothing could be resolved; otherwise may be partial (failed nullable fields are null). */
  readonly data: T | null;
  readonly errors: readonly GraphQLErrorInfo[];
}

/** Which group: by id or by name (exactly one). */
export type ProtectionGroupRef = { readonly id: string } | { readonly name: string };

/** An event of {@link ProtectorClient.watchOperation}: a subscription event, or a refetched snapshot. */
export type OperationWatchEvent = OperationEvent & {
  /** `snapshot` when the state was read with `operation(id)` (at start, or when an event was missed). */
  readonly source: 'subscription' | 'snapshot';
};

/** The typed SDK of the Protector gateway. */
export interface ProtectorClient {
  /** The compiled options (tokens included: do not log this object). */
  readonly options: CompiledClientOptions;
  /**
   * Runs a query or mutation; returns its data or throws {@link ProtectorClientError} (with partial data).
   * A typed document (e.g. `documents.site`) types the data and the variables.
   */
  request<T = Record<string, unknown>, V extends Variables = Variables>(
    document: TypedGraphQLDocument<T, V>,
    variables?: V,
  ): Promise<T>;
  /** Runs a query or mutation and returns data and errors together; throws only when no GraphQL answer came. */
  requestWithErrors<T = Record<string, unknown>, V extends Variables = Variables>(
    document: TypedGraphQLDocument<T, V>,
    variables?: V,
  ): Promise<ResultWithErrors<T>>;
  /** Runs a subscription over graphql-ws; each item is one event's data. */
  subscribe<T = Record<string, unknown>, V extends Variables = Variables>(
    document: TypedGraphQLDocument<T, V>,
    variables?: V,
  ): AsyncIterable<T>;
  /**
   * Events of one operation until it finishes (SUCCEEDED, FAILED, PARTIAL, CANCELLED, ROLLED_BACK).
   * Starts with a snapshot of the current state, and refetches the operation periodically, so an
   * operation that finished before the subscription started (or whose last event was missed) still ends.
   */
  watchOperation(id: string): AsyncIterable<OperationWatchEvent>;
  /** Closes the subscription socket, if any. */
  close(): Promise<void>;

  sites(): Promise<readonly Site[]>;
  site(name: string): Promise<Site | null>;
  /** Every site with its health (a site whose health could not be read comes with an error). */
  sitesHealth(): Promise<ResultWithErrors<{ readonly sites: readonly SiteWithHealth[] }>>;
  /** Cinder volume types of a site, read from the site's own root field. */
  siteVolumeTypes(siteKey: string): Promise<readonly VolumeType[]>;
  protectionGroups(args?: ListArgs<ProtectionGroupFilterInput>): Promise<Connection<ProtectionGroupSummary>>;
  protectionGroup(ref: ProtectionGroupRef): Promise<ProtectionGroup | null>;
  /** A group by id or name, in one round trip (what the CLI's `<protection-group>` arguments accept). */
  findProtectionGroup(idOrName: string): Promise<ProtectionGroup | null>;
  protectionGroupSyncState(ref: ProtectionGroupRef): Promise<ProtectionGroupSyncState | null>;
  operations(args?: ListArgs<OperationFilterInput>): Promise<Connection<OperationSummary>>;
  operation(id: string): Promise<Operation | null>;
  recoveryPoints(protectionGroup: string, site?: string): Promise<readonly RecoveryPoint[]>;

  registerSite(input: RegisterSiteInput): Promise<Site>;
  unregisterSite(name: string): Promise<Site>;
  validateSite(name: string): Promise<SiteValidation>;
  createProtectionGroup(input: CreateProtectionGroupInput): Promise<ProtectionGroup>;
  deleteProtectionGroup(input: DeleteProtectionGroupInput): Promise<DeletedProtectionGroup>;
  addMember(input: AddMemberInput): Promise<ProtectionGroup>;
  /** Adds several VMs in one change: all or nothing. */
  addMembers(input: AddMembersInput): Promise<ProtectionGroup>;
  removeMember(input: RemoveMemberInput): Promise<ProtectionGroup>;
  createReplicationPolicy(input: CreateReplicationPolicyInput): Promise<ProtectionGroup>;
  setResourceMappings(input: SetResourceMappingsInput): Promise<ProtectionGroup>;
  syncProtectionGroup(input: SyncProtectionGroupInput): Promise<Operation>;
  failover(input: FailoverInput): Promise<Operation>;
  testFailover(input: TestFailoverInput): Promise<Operation>;
  testCleanup(input: TestCleanupInput): Promise<Operation>;
  failback(input: FailbackInput): Promise<Operation>;
  cancelOperation(input: CancelOperationInput): Promise<Operation>;
  resumeOperation(input: ResumeOperationInput): Promise<Operation>;
}

/** Whether an operation in this status will not change any more (by itself). */
const TERMINAL_STATUSES: Readonly<Record<OperationStatus, boolean>> = {
  PENDING: false,
  RUNNING: false,
  SUCCEEDED: true,
  FAILED: true,
  PARTIAL: true,
  CANCELLING: false,
  CANCELLED: true,
  ROLLING_BACK: false,
  ROLLED_BACK: true,
};

/** Guard: is the operation finished (SUCCEEDED, FAILED, PARTIAL, CANCELLED, ROLLED_BACK)? */
export const isTerminalOperationStatus = (status: OperationStatus): boolean =>
  TERMINAL_STATUSES[status] === true;

const OPERATION_NAME = /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/;

/** Printed documents (the SDK's own are printed once each). */
const printed = new WeakMap<DocumentNode, string>();

const toSource = (document: GraphQLDocument): string => {
  if (typeof document === 'string') return document;
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
};

const describeCause = (error: unknown): string => {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code)
      ? `${code} ${cause.message}`
      : cause.message;
  }
  return String(cause);
};

/** Maps what graphql-ws throws (a CloseEvent, an Error, or the GraphQL errors of an `error` message). */
function toSubscriptionError(error: unknown, url: string): Error {
  if (Array.isArray(error)) return new ProtectorClientError(error.map(toGraphQLErrorInfo), null);
  if (error instanceof Error) {
    return new ProtectorConnectionError(
      'CONNECTION_FAILED',
      `Cannot reach the gateway at ${url}: ${describeCause(error)}`,
      { url, cause: error },
    );
  }
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code, reason } = error as { code: unknown; reason?: unknown };
    const why = typeof reason === 'string' && reason.length > 0 ? `: ${reason}` : '';
    return new ProtectorConnectionError(
      code === 1006 ? 'CONNECTION_FAILED' : 'SUBSCRIPTION_CLOSED',
      `The subscription socket to ${url} closed (code ${String(code)}${why})`,
      { url },
    );
  }
  return new ProtectorConnectionError(
    'SUBSCRIPTION_CLOSED',
    `The subscription to ${url} failed: ${String(error)}`,
    {
      url,
    },
  );
}

/**
 * Creates a client of the gateway.
 * @throws TypeError when an option is invalid (the message names it and the fix).
 */
export function createProtectorClient(rawOptions: ProtectorClientOptions = {}): ProtectorClient {
  const options = compileClientOptions(rawOptions, { webSocketImpl: WebSocket });
  let wsClient: WsClient | undefined;

  const getWsClient = (): WsClient => {
    wsClient ??= createWsClient({
      url: options.wsUrl,
      webSocketImpl: options.webSocketImpl,
      connectionParams: authConnectionParams(options),
      lazy: true,
      retryAttempts: options.subscriptionRetryAttempts,
    });
    return wsClient;
  };

  async function requestWithErrors<T, V extends Variables = Variables>(
    document: TypedGraphQLDocument<T, V>,
    variables: V | Variables = {},
  ) {
    const query = toSource(document);
    const operationName = OPERATION_NAME.exec(query)?.[1];
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...options.headers,
      ...authHeaders(options),
    };
    options.onRequest?.({
      url: options.url,
      operationName,
      variables: redactSecrets(variables),
      headers: redactSecrets(headers),
    });
    const { url } = options;
    let status: number | undefined;
    let text: string;
    try {
      const response = await options.fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables, ...(operationName ? { operationName } : {}) }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new ProtectorConnectionError(
          'TIMEOUT',
          `The gateway at ${url} did not answer within ${options.timeoutMs} ms`,
          { url, status, cause: error },
        );
      }
      throw new ProtectorConnectionError(
        'CONNECTION_FAILED',
        `Cannot reach the gateway at ${url}: ${describeCause(error)}`,
        {
          url,
          cause: error,
        },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
    if (!record || (!('data' in record) && !Array.isArray(record['errors']))) {
      const ok = status !== undefined && status >= 200 && status < 300;
      throw new ProtectorConnectionError(
        ok ? 'BAD_RESPONSE' : 'HTTP_ERROR',
        ok
          ? `The answer of ${url} is not a GraphQL response; check the URL (it should end in /graphql)`
          : `The gateway at ${url} answered HTTP ${status}: ${text.slice(0, 200)}`,
        { url, status },
      );
    }
    const errors = Array.isArray(record['errors']) ? record['errors'].map(toGraphQLErrorInfo) : [];
    return { data: (record['data'] ?? null) as T | null, errors } satisfies ResultWithErrors<T>;
  }

  async function request<T, V extends Variables = Variables>(
    document: TypedGraphQLDocument<T, V>,
    variables?: V,
  ): Promise<T> {
    const { data, errors } = await requestWithErrors<T>(document, variables);
    if (errors.length > 0 || data === null) throw new ProtectorClientError(errors, data);
    return data;
  }

  /** Runs one of the SDK's typed documents and returns one root field of its data. */
  const field = async <R, V, K extends keyof R>(
    name: K,
    document: TypedDocumentNode<R, V>,
    variables?: ReadonlyInput<V>,
  ): Promise<R[K]> => (await request<R>(document, variables as Variables | undefined))[name];

  function subscribe<T, V extends Variables = Variables>(
    document: TypedGraphQLDocument<T, V>,
    variables: V | Variables = {},
  ): AsyncIterable<T> {
    return {
      // A hand-written iterator rather than a generator: return() must cancel a pending next() at once
      // (graphql-ws's iterator does), where a generator would wait for the next event first.
      [Symbol.asyncIterator](): AsyncIterator<T> {
        type Result = { data?: T | null; errors?: readonly unknown[] };
        let inner: AsyncIterator<Result> | undefined;
        let finished = false;
        const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
        const stop = async () => {
          finished = true;
          await inner?.return?.();
        };
        return {
          async next() {
            if (finished) return done();
            if (!inner) {
              const query = toSource(document);
              inner = getWsClient().iterate<T>({ query, variables: { ...variables } });
              if (finished) {
                await stop();
                return done();
              }
            }
            for (;;) {
              let result: IteratorResult<Result>;
              try {
                result = await (inner as AsyncIterator<Result>).next();
              } catch (error) {
                finished = true;
                throw toSubscriptionError(error, options.wsUrl);
              }
              if (result.done) {
                finished = true;
                return done();
              }
              const { data, errors } = result.value;
              if (errors && errors.length > 0) {
                await stop();
                throw new ProtectorClientError(errors.map(toGraphQLErrorInfo), data ?? null);
              }
              if (data) return { done: false, value: data };
            }
          },
          async return() {
            await stop();
            return done();
          },
        };
      },
    };
  }

  async function* watchOperation(id: string): AsyncGenerator<OperationWatchEvent> {
    const channel = createChannel<OperationWatchEvent>();
    const events = subscribe(documents.operationProgress, { id });
    const iterator = events[Symbol.asyncIterator]();
    let closed = false;
    let seen = 0;
    const snapshot = async (final = false): Promise<void> => {
      try {
        const operation = await client.operation(id);
        if (!operation) {
          channel.fail(
            new ProtectorClientError(
              [
                {
                  message: `Operation '${id}' does not exist`,
                  code: 'NOT_FOUND',
                  path: ['operation'],
                  extensions: {},
                },
              ],
              null,
            ),
          );
          return;
        }
        // The first snapshot shows where the operation stands; later ones only end a watch whose last event was missed.
        if (seen > 0 && !final && !isTerminalOperationStatus(operation.status)) return;
        channel.push({
          source: 'snapshot',
          sequence: 0,
          kind: 'STATUS_CHANGED',
          occurredAt: new Date().toISOString(),
          status: operation.status,
          percentComplete: operation.percentComplete,
          message: null,
          step: operation.currentStep,
          member: null,
          operation,
        });
      } catch (error) {
        channel.fail(error);
      }
    };
    void (async () => {
      try {
        for (;;) {
          const next = await iterator.next();
          if (closed) return;
          if (next.done) {
            // The server ended the stream: show the current state; if the operation is still running,
            // the periodic refetch below ends the watch once it finishes.
            await snapshot(true);
            return;
          }
          channel.push({ ...next.value.operationProgress, source: 'subscription' });
        }
      } catch (error) {
        channel.fail(error);
      }
    })();
    void snapshot();
    const timer = setInterval(() => void snapshot(), options.watchPollIntervalMs);
    let lastSequence = 0;
    try {
      for await (const event of channel) {
        if (event.source === 'subscription') {
          if (event.sequence <= lastSequence) continue;
          lastSequence = event.sequence;
        }
        seen += 1;
        yield event;
        if (isTerminalOperationStatus(event.status)) return;
      }
    } finally {
      closed = true;
      clearInterval(timer);
      channel.end();
      await iterator.return?.();
    }
  }

  const client: ProtectorClient = {
    options,
    request,
    requestWithErrors,
    subscribe,
    watchOperation,
    async close() {
      const current = wsClient;
      wsClient = undefined;
      await current?.dispose();
    },

    sites: () => field('sites', documents.sites),
    site: (name) => field('site', documents.site, { name }),
    sitesHealth: () => requestWithErrors(documents.sitesHealth),
    async siteVolumeTypes(siteKey) {
      const data = await request<Record<string, { volumeTypes: VolumeType[] } | null>>(
        siteVolumeTypesDocument(siteKey),
      );
      return data[siteKey]?.volumeTypes ?? [];
    },
    protectionGroups: (args = {}) => field('protectionGroups', documents.protectionGroups, { ...args }),
    protectionGroup: (ref) => field('protectionGroup', documents.protectionGroup, { ...ref }),
    async findProtectionGroup(idOrName) {
      const { data, errors } = await requestWithErrors(documents.findProtectionGroup, {
        ref: idOrName,
        name: idOrName,
      });
      // A name that is not a well-formed id may make the byId lookup fail; the other lookup decides then.
      const found = data?.byName ?? data?.byId ?? null;
      if (found) return found;
      if (errors.length > 0) throw new ProtectorClientError(errors, data);
      return null;
    },
    protectionGroupSyncState: (ref) =>
      field('protectionGroup', documents.protectionGroupSyncState, { ...ref }),
    operations: (args = {}) => field('operations', documents.operations, { ...args }),
    operation: (id) => field('operation', documents.operation, { id }),
    recoveryPoints: (protectionGroup, site) =>
      field('recoveryPoints', documents.recoveryPoints, { protectionGroup, ...(site ? { site } : {}) }),

    registerSite: (input) => field('registerSite', documents.registerSite, { input }),
    unregisterSite: (name) => field('unregisterSite', documents.unregisterSite, { name }),
    validateSite: (name) => field('validateSite', documents.validateSite, { name }),
    createProtectionGroup: (input) =>
      field('createProtectionGroup', documents.createProtectionGroup, { input }),
    deleteProtectionGroup: (input) =>
      field('deleteProtectionGroup', documents.deleteProtectionGroup, { input }),
    addMember: (input) => field('addMember', documents.addMember, { input }),
    addMembers: (input) => field('addMembers', documents.addMembers, { input }),
    removeMember: (input) => field('removeMember', documents.removeMember, { input }),
    createReplicationPolicy: (input) =>
      field('createReplicationPolicy', documents.createReplicationPolicy, { input }),
    setResourceMappings: (input) => field('setResourceMappings', documents.setResourceMappings, { input }),
    syncProtectionGroup: (input) => field('syncProtectionGroup', documents.syncProtectionGroup, { input }),
    failover: (input) => field('failover', documents.failover, { input }),
    testFailover: (input) => field('testFailover', documents.testFailover, { input }),
    testCleanup: (input) => field('testCleanup', documents.testCleanup, { input }),
    failback: (input) => field('failback', documents.failback, { input }),
    cancelOperation: (input) => field('cancelOperation', documents.cancelOperation, { input }),
    resumeOperation: (input) => field('resumeOperation', documents.resumeOperation, { input }),
  };
  return client;
}
