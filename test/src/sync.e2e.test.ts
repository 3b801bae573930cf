/**
 * Sync (ActiveCluster pod) Protection Groups end to end on the lab (mock arrays): a drill, a planned
 * failover with zero data loss, failback, and an unplanned failover with boston and its array lost,
 * which recovers the last write (the pod mirrored it). Content versions on the simulated arrays prove
 * which data each recovered volume holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { FlashArrayStore } from '@protector/storage-drivers/mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labClient, until } from './e2e-kit.js';
import { bootVm, cloudCall, type Lab, startLab } from './lab.js';

describe.each([
  'mock',
  'fa-sim',
] as const)('a sync (pod) Protection Group through its DR lifecycle on %s arrays', (storage) => {
  let lab: Lab;
  let dir: string;
  let store: FlashArrayStore;
  let tokens: Record<string, string>;
  const { gql, waitForOperation } = labClient(
    () => lab,
    () => tokens,
  );

  const PG = 'db-sync';
  const A = 'mock-array-a';
  const B = 'mock-array-b';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-sync-e2e-'));
    lab = await startLab({
      dir,
      gatewayPort: 0,
      transferMs: 300,
      bootSeconds: 1,
      demo: false,
      healthIntervalSeconds: 1,
      storage,
    });
    store = FlashArrayStore.open({ file: lab.arrayStoreFile });
    tokens = await lab.tenantTokens();
    await gql(
      `mutation { createProtectionGroup(input: { name: "${PG}", replicationType: SYNC, primarySite: "boston",
         secondarySite: "seattle", volumeType: "replicated-sync" }) { id } }`,
    );
    const idOf = async (site: 'boston' | 'seattle', kind: 'network' | 'flavor') =>
      kind === 'network'
        ? String(
            (
              (await cloudCall(lab.sites[site]!, tokens[site]!, 'network', 'GET', '/networks?name=private'))
                .networks as Json[]
            )[0]!.id,
          )
        : String(
            (
              (await cloudCall(lab.sites[site]!, tokens[site]!, 'compute', 'GET', '/flavors'))
                .flavors as Json[]
            ).find((f) => f.name === 'm1.small')!.id,
          );
    const mappings = [];
    for (const kind of ['network', 'flavor'] as const) {
      mappings.push({
        kind: kind.toUpperCase(),
        sourceSite: 'boston',
        sourceId: await idOf('boston', kind),
        targetSite: 'seattle',
        targetId: await idOf('seattle', kind),
      });
    }
    await gql(
      `mutation($m: [ResourceMappingInput!]!) { setResourceMappings(input: { protectionGroup: "${PG}", mappings: $m }) { id } }`,
      { m: mappings },
    );
    await bootVm(lab.sites.boston!, tokens.boston!, 'db-1', 'replicated-sync');
    await gql(`mutation { addMember(input: { protectionGroup: "${PG}", server: "db-1" }) { id } }`);
  }, 240_000);

  afterAll(async () => {
    store?.close();
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function group(): Promise<Json> {
    return (
      await gql<{ protectionGroup: Json }>(`{ protectionGroup(name: "${PG}") { status storageGroupName
        currentPrimarySite { name } members { name status volumes { storageVolumeName } } } }`)
    ).protectionGroup;
  }

  /** Runs an operation mutation and waits for it to end. */
  async function run(mutation: string): Promise<Json> {
    const res = await gql<Record<string, { id: string }>>(`mutation { ${mutation} { id } }`);
    return waitForOperation(Object.values(res)[0]!.id);
  }

  /** The content (origin serial, write count) of a volume on an array: sim-only data. */
  function content(array: string, name: string): { origin: string | null; version: number } {
    const [c] = store.content(array, [name]);
    return { origin: c!.origin, version: c!.version };
  }

  /** The recovered volumes on `array` (managed by Cinder: volume-<id>-cinder, outside the pod) whose data came from `origin`. */
  function copies(array: string, origin: string): { name: string; version: number }[] {
    return store
      .content(array)
      .filter((c) => c.kind === 'volume' && c.origin === origin && c.name.startsWith('volume-'))
      .map((c) => ({ name: c.name, version: c.version }));
  }

  describe('lifecycle', () => {
    let podVolume: string;

    it('keeps its member volumes in a pod stretched over both arrays', async () => {
      const g = await group();
      const pod = String(g.storageGroupName);
      const [vol] = (g.members as Json[])[0]!.volumes as Json[];
      podVolume = `${pod}::${String(vol!.storageVolumeName).replace(`${pod}::`, '')}`;
      store.simulateWrite(A, podVolume);
      // The pod mirrors the write to the other array at once.
      expect(content(B, podVolume)).toEqual(content(A, podVolume));
    });

    it('runs a drill from the mirrored copy and cleans it up', async () => {
      const drill = await run(`testFailover(input: { protectionGroup: "${PG}" })`);
      expect(drill).toMatchObject({ status: 'SUCCEEDED' });
      expect(await group()).toMatchObject({ status: 'TEST_FAILED_OVER' });
      const cleanup = await run(`testCleanup(input: { protectionGroup: "${PG}" })`);
      expect(cleanup).toMatchObject({ status: 'SUCCEEDED' });
      expect(await group()).toMatchObject({ status: 'ACTIVE' });
    });

    it('fails over as planned with zero data loss', async () => {
      const last = store.simulateWrite(A, podVolume);
      const op = await run(`failover(input: { protectionGroup: "${PG}", type: PLANNED })`);
      expect(op).toMatchObject({ status: 'SUCCEEDED' });
      expect(await group()).toMatchObject({
        status: 'FAILED_OVER',
        currentPrimarySite: { name: 'seattle' },
        members: [{ status: 'FAILED_OVER' }],
      });
      expect(Math.max(...copies(B, last.origin).map((c) => c.version))).toBe(last.version);
      // The pod is demoted on boston's array: a VM left running there could not write.
      expect(() => store.simulateWrite(A, podVolume)).toThrow(`not writable on array '${A}'`);
    });

    it('fails back to boston', async () => {
      const op = await run(`failback(input: { protectionGroup: "${PG}" })`);
      expect(op).toMatchObject({ status: 'SUCCEEDED' });
      expect(await group()).toMatchObject({
        status: 'ACTIVE',
        currentPrimarySite: { name: 'boston' },
        members: [{ status: 'PROTECTED' }],
      });
      // boston's side of the pod is writable again.
      const g = await group();
      const vol = String(((g.members as Json[])[0]!.volumes as Json[])[0]!.storageVolumeName);
      expect(() =>
        store.simulateWrite(A, vol.includes('::') ? vol : `${g.storageGroupName}::${vol}`),
      ).not.toThrow();
    });

    it('fails over unplanned with boston and its array lost, recovering the last write', async () => {
      const g = await group();
      const vol = String(((g.members as Json[])[0]!.volumes as Json[])[0]!.storageVolumeName);
      const onArray = vol.includes('::') ? vol : `${g.storageGroupName}::${vol}`;
      const last = store.simulateWrite(A, onArray);
      await lab.killSite('boston');
      store.setFaults(A, { down: true });
      try {
        const op = await run(`failover(input: { protectionGroup: "${PG}", type: UNPLANNED })`).catch(
          async (err) => {
            throw err;
          },
        );
        expect(op).toMatchObject({ status: 'SUCCEEDED' });
        expect(Math.max(...copies(B, last.origin).map((c) => c.version))).toBe(last.version);
      } finally {
        store.setFaults(A, { down: false });
        await lab.startSite('boston');
      }
      await until('boston fenced and re-synced', async () => {
        const now = await group();
        return now.status === 'FAILED_OVER' ? now : null;
      });
    });
  });
});
