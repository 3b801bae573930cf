/**
 * GraphQL as a test speaks it: a request over HTTP ({@link gql}, {@link gqlOk}) with a Keystone token
 * or any headers, and a graphql-ws subscription that collects its results ({@link subscribe}).
 * Uses the global fetch; graphql and graphql-ws are type imports only.
 */
import type { FormattedExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { deferred } from './waiting.js';

export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [k: string]: unknown };
}

export interface GraphQLResult<T = Record<string, unknown>> {
  status: number;
  data: T | null;
  errors: GraphQLErrorShape[];
}

/**
 * POSTs a GraphQL request. `auth` is a token sent as `X-Auth-Token`, or the request's headers
 * (`{ 'X-Site-Token-boston': ... }`), or null for none. Fails when the answer is not JSON.
 */
export async function gql<T = Record<string, unknown>>(
  url: string,
  auth: string | Readonly<Record<string, string>> | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResult<T>> {
  const headers = typeof auth === 'string' ? { 'x-auth-token': auth } : (auth ?? {});
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: { data?: T | null; errors?: GraphQLErrorShape[] };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`not JSON (HTTP ${res.status}): ${text.slice(0, 500)}`);
  }
  return { status: res.status, data: body.data ?? null, errors: body.errors ?? [] };
}

/** Like {@link gql}, but any GraphQL error fails with its codes and messages. */
export async function gqlOk<T = Record<string, unknown>>(
  url: string,
  auth: string | Readonly<Record<string, string>> | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const r = await gql<T>(url, auth, query, variables);
  if (r.errors.length || !r.data) {
    throw new Error(
      `GraphQL errors (HTTP ${r.status}): ${r.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ')}`,
    );
  }
  return r.data;
}

export interface Collected {
  readonly results: FormattedExecutionResult[];
  readonly completed: Promise<void>;
  readonly failed: Promise<readonly unknown[]>;
  /** The next result not read yet; waits for it. */
  next(): Promise<FormattedExecutionResult>;
  dispose(): void;
}

/** Subscribes with a graphql-ws client and collects the results; `next()` waits for the next one. */
export function subscribe(client: Client, query: string, variables: Record<string, unknown> = {}): Collected {
  const results: FormattedExecutionResult[] = [];
  const waiters: ((r: FormattedExecutionResult) => void)[] = [];
  let read = 0;
  const completed = deferred<void>();
  const failed = deferred<readonly unknown[]>();
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        results.push(value as FormattedExecutionResult);
        waiters.shift()?.(value as FormattedExecutionResult);
      },
      error: (err) => failed.resolve(Array.isArray(err) ? err : [err]),
      complete: () => completed.resolve(),
    },
  );
  return {
    results,
    completed: completed.promise,
    failed: failed.promise,
    next: () => {
      const i = read++;
      if (results[i]) return Promise.resolve(results[i]!);
      return new Promise((resolve) => waiters.push(resolve));
    },
    dispose,
  };
}
