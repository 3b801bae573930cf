/** What the end-to-end tests share: GraphQL calls through the lab's gateway, polling, operation waits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { FlashArrayStore } from '@protector/storage-drivers/mock';
import { bootVm, type Lab, startLab, waitForReplication } from './lab.js';

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

/**
 * A new ASYNC group `name` (boston to seattle, volume type replicated-ssd) of `vms` new VMs named
 * `<name>-<i>`, made through `gql` (the test's client as the tenant), with a complete recovery point
 * taken after they all joined.
 */
export async function groupOfNewVms(
  lab: Lab,
  tenantTokens: Record<string, string>,
  gql: <T = Json>(query: string) => Promise<T>,
  name: string,
  vms: number,
): Promise<void> {
  await gql(`mutation { createProtectionGroup(input: { name: "${name}", replicationType: ASYNC, primarySite: "boston",
    secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`);
  await gql(`mutation { createReplicationPolicy(input: { protectionGroup: "${name}", policy: { primaryArrayUrl: "https://a.lab",
    primaryArrayToken: "t", secondaryArrayUrl: "https://b.lab", secondaryArrayToken: "t", purePgName: "${name}",
    replicationIntervalSeconds: 5, rpoMinutes: 5 } }) { id } }`);
  const names = Array.from({ length: vms }, (_, i) => `${name}-${i}`);
  for (const vm of names) await bootVm(lab.sites.boston!, tenantTokens.boston!, vm);
  await gql(
    `mutation { addMembers(input: { protectionGroup: "${name}", servers: ${JSON.stringify(names)} }) { id } }`,
  );
  // A point taken after the last member joined holds them all.
  const joined = Date.now();
  await until(
    `a recovery point of ${name}'s ${vms} VMs`,
    async () => {
      const { recoveryPoints } = await gql<{ recoveryPoints: { complete: boolean; createdAt: string }[] }>(
        `{ recoveryPoints(protectionGroup: "${name}") { complete createdAt } }`,
      );
      return recoveryPoints.some((p) => p.complete && Date.parse(p.createdAt) > joined);
    },
    120_000,
  );
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
