/** What the end-to-end tests share: GraphQL calls through the lab's gateway, polling, operation waits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { FlashArrayStore } from '@protector/storage-drivers/mock';
import { type Lab, startLab, waitForReplication } from './lab.js';

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

export const OPERATION = `id type status percentComplete error { code message } steps { key name status attempt site { name } startedAt finishedAt }
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

/** The demo lab of an end-to-end file, with its arrays' store and both users' tokens. */
export interface DemoLab {
  readonly dir: string;
  readonly lab: Lab;
  readonly store: FlashArrayStore;
  readonly tokens: Record<string, string>;
  readonly admin: Record<string, string>;
}

/** Starts the demo lab in a fresh temp dir, tuned for tests: 2 s replication, 1 s boots and health checks. */
export async function startDemoLab(prefix: string): Promise<DemoLab> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const lab = await startLab({
    dir,
    gatewayPort: 0,
    transferMs: 300,
    bootSeconds: 1,
    replicationIntervalSeconds: 2,
    healthIntervalSeconds: 1,
  });
  const store = FlashArrayStore.open({ file: lab.arrayStoreFile });
  const tokens = await lab.tenantTokens();
  // A recovery point that holds every member (one taken after the last joined) before any test runs:
  // a drill started sooner recovers the newest point, which may predate a member (that member FAILED).
  await waitForReplication(lab, tokens, lab.demoChangedAt);
  return { dir, lab, store, tokens, admin: await lab.adminTokens() };
}

/** Stops what `startDemoLab` started and removes its dir. */
export async function stopDemoLab(demo: Partial<DemoLab>): Promise<void> {
  demo.store?.close();
  await demo.lab?.stop();
  if (demo.dir) rmSync(demo.dir, { recursive: true, force: true });
}
