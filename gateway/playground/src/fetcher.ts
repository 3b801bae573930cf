/**
 * The playground's fetcher: HTTP POST to the GraphQL path for queries and mutations (GraphiQL's toolkit
 * fetcher, with the headers of the editor), graphql-ws (`graphql-transport-ws`) on the same path for
 * subscriptions, with the editor's site tokens in `connection_init`.
 */
import { createGraphiQLFetcher, type Fetcher, type FetcherOpts, type FetcherParams } from '@graphiql/toolkit';
import { type DocumentNode, Kind, type OperationDefinitionNode } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { cleanHeaders, headersToConnectionParams } from '../../src/playground/headers.js';

export interface ProtectorFetcherOptions {
  /** GraphQL over HTTP, e.g. `http://localhost:4000/graphql`. */
  readonly url: string;
  /** graphql-ws endpoint, e.g. `ws://localhost:4000/graphql`. */
  readonly subscriptionUrl: string;
}

/** `ws(s)://<host of the page><path>` for the GraphQL path of the page's origin. */
export function socketUrlFor(path: string, base: string): string {
  const url = new URL(path, base);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  return url.toString();
}

/** The operation GraphiQL is about to run: the named one, or the only one of the document. */
function selectedOperation(doc: DocumentNode | undefined, name: string | null | undefined) {
  const ops = (doc?.definitions ?? []).filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  return name ? ops.find((op) => op.name?.value === name) : ops.length === 1 ? ops[0] : undefined;
}

/** What GraphiQL shows for a failed subscription: graphql-ws gives errors arrays or CloseEvents. */
function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof CloseEvent !== 'undefined' && err instanceof CloseEvent) {
    return new Error(`The subscription socket closed: ${err.code} ${err.reason || ''}`.trim());
  }
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}

export function createProtectorFetcher(opts: ProtectorFetcherOptions): Fetcher {
  const http = createGraphiQLFetcher({ url: opts.url });
  // One lazy client per set of credentials: it opens its socket with the first subscription and closes
  // it after the last one, so a changed token takes effect with the next subscription.
  const clients = new Map<string, Client>();
  const clientFor = (headers: Record<string, string>): Client => {
    const connectionParams = headersToConnectionParams(headers);
    const key = JSON.stringify(connectionParams);
    let client = clients.get(key);
    if (!client) {
      client = createClient({ url: opts.subscriptionUrl, connectionParams, lazy: true, retryAttempts: 2 });
      clients.set(key, client);
    }
    return client;
  };

  return (params: FetcherParams, fetcherOpts?: FetcherOpts) => {
    const headers = cleanHeaders(fetcherOpts?.headers);
    const op = selectedOperation(fetcherOpts?.documentAST, params.operationName);
    if (op?.operation !== 'subscription') return http(params, { ...fetcherOpts, headers });
    const client = clientFor(headers);
    const request = {
      query: params.query,
      variables: params.variables ?? undefined,
      operationName: params.operationName ?? undefined,
    };
    return {
      subscribe(observer: {
        next: (value: unknown) => void;
        error: (error: unknown) => void;
        complete: () => void;
      }) {
        const dispose = client.subscribe(request, {
          next: (value) => observer.next(value),
          error: (err) => {
            if (Array.isArray(err)) {
              // Errors of the subscribe request itself (validation, auth): show them as a result.
              observer.next({ errors: err });
              observer.complete();
            } else observer.error(toError(err));
          },
          complete: () => observer.complete(),
        });
        return { unsubscribe: dispose };
      },
    };
  };
}
