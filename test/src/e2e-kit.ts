/** What the end-to-end tests share: GraphQL calls through the lab's gateway, polling, operation waits. */
import type { Json } from '@protector/schema';
import type { Lab } from './lab.js';

/** Polls `fn` every 250 ms until it answers a truthy value; fails with the last error after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const OPERATION = `id type status percentComplete error { code message } steps { key name status attempt site { name } }
  members { memberName status serverId error { message } }`;

/** A GraphQL client of the lab's gateway with default per-site tokens. */
export function labClient(lab: () => Lab, defaultTokens: () => Record<string, string>) {
  async function gql<T = Json>(query: string, variables: Json = {}, as?: Record<string, string>): Promise<T> {
    const res = await lab().gql<T>(query, variables, as ?? defaultTokens());
    if (res.errors?.length)
      throw new Error(`${res.errors[0]!.message} (${JSON.stringify(res.errors[0]!.extensions)})`);
    return res.data!;
  }
  /** Waits for an operation to end and answers it. */
  async function waitForOperation(id: string, as?: Record<string, string>): Promise<Json> {
    return until(`operation ${id}`, async () => {
      const { operation } = await gql<{ operation: Json }>(
        `query($id: ID!) { operation(id: $id) { ${OPERATION} } }`,
        { id },
        as,
      );
      return ['SUCCEEDED', 'FAILED', 'PARTIAL', 'CANCELLED', 'ROLLED_BACK'].includes(String(operation.status))
        ? operation
        : null;
    });
  }
  return { gql, waitForOperation };
}
