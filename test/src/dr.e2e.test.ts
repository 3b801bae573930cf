/**
 * End to end: two site processes and the gateway on loopback (the lab), driven over HTTP and graphql-ws
 * as an SRE's tooling would. One lab, one Protection Group, a whole DR lifecycle in order: drill, planned
 * failover with zero loss, failback, unplanned failover to an older point with the primary killed,
 * changes refused while the peer is down, re-sync and fencing when it returns, and a gateway killed
 * mid-operation. Data is proved with the mock arrays' content versions.
 */
import { driveThePlayground } from '@protector/gateway/playground/browser';
import type { Json } from '@protector/schema';
import type { FlashArrayStore } from '@protector/storage-drivers/mock';
import { chromium, needs } from '@protector/test-kit';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { labClient, OPERATION, startDemoLab, stopDemoLab, until } from './e2e-kit.js';
import type { Lab } from './lab.js';

let lab: Lab;
let dir: string;
let store: FlashArrayStore;
let tokens: Record<string, string>;
let admin: Record<string, string>;

const PG = 'prod-web-app';
/** The last test drives the playground in Chromium: it fails in CI without it, and is skipped elsewhere. */
const withChromium = needs(chromium);

beforeAll(async () => {
  ({ dir, lab, store, tokens, admin } = await startDemoLab('protector-e2e-'));
}, 180_000);

afterAll(() => stopDemoLab({ dir, lab, store }));

const { gql, waitForOperation } = labClient(
  () => lab,
  () => tokens,
);

async function group(): Promise<Json> {
  return (
    await gql<{
      protectionGroup: Json;
    }>(`{ protectionGroup(name: "${PG}") { id status syncStatus metadataVersion
      currentPrimarySite { name } secondarySite { name }
      members { id name status volumes { id storageVolumeName } placements { site { name } serverId flavorId networkIds volumes { memberVolumeId volumeId } } }
      boston { status metadataVersion } seattle { status metadataVersion } } }`)
  ).protectionGroup;
}

/** Live volumes on an array whose data came from the volume with serial `origin` (sim-only content). */
function copiesOf(array: string, origin: string): { name: string; version: number }[] {
  return store
    .content(array)
    .filter((c) => c.kind === 'volume' && c.origin === origin)
    .map((c) => ({ name: c.name, version: c.version }));
}

function volumeOn(array: string, name: string): { serial: string; origin: string; version: number } {
  const res = store.handle(array, { method: 'GET', path: '/volumes', query: { names: name } });
  const v = (res.body as { items: Json[] }).items[0]!;
  const [c] = store.content(array, [name]);
  return { serial: String(v.serial), origin: String(c!.origin), version: c!.version };
}

/** A graphql-ws subscription collecting every payload until the server completes it. */
function subscribe(query: string, variables: Json, siteTokens: Record<string, string>) {
  const client = createClient({
    url: lab.gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { siteTokens },
    retryAttempts: 0,
  });
  const events: Json[] = [];
  const done = new Promise<Json[]>((resolve, reject) => {
    client.subscribe(
      { query, variables },
      {
        next: (r) => {
          if (r.errors?.length) reject(new Error(r.errors[0]!.message));
          else events.push(r.data as Json);
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => resolve(events),
      },
    );
  });
  return { events, done, close: () => client.dispose() };
}

describe('a DR lifecycle across two sites', () => {
  it('serves the demo group from both sites through the gateway', async () => {
    const pg = await group();
    expect(pg).toMatchObject({
      status: 'ACTIVE',
      syncStatus: 'IN_SYNC',
      currentPrimarySite: { name: 'boston' },
      boston: { status: 'ACTIVE' },
      seattle: { status: 'ACTIVE' },
    });
    expect((pg.members as Json[]).map((m) => m.name).sort()).toEqual(['web-1', 'web-2']);
    expect((pg.boston as Json).metadataVersion).toBe((pg.seattle as Json).metadataVersion);
    const { protectionGroup } = await gql<{ protectionGroup: { health: Json } }>(
      `{ protectionGroup(name: "${PG}") { health { lastTestedAt issues { code } } } }`,
    );
    expect(protectionGroup.health.lastTestedAt).toBeNull();
    expect((protectionGroup.health.issues as Json[]).map((i) => i.code)).toContain('NEVER_TESTED');

    // Its lag, as seattle's replication monitor recorded the points landing (every 2 s in this lab),
    // in the group's health and in seattle's, which the tenant sees for its own groups.
    const health = await until('the demo group replicated to seattle', async () => {
      const { sites } = await gql<{ sites: { name: string; health: Json }[] }>(
        `{ sites { name health { reachable maxReplicationLagSeconds rpoCompliance
            protectionGroups { protectionGroup { name } replicationLagSeconds rpoCompliance } } } }`,
      );
      const seattle = sites.find((x) => x.name === 'seattle')!.health;
      return seattle.rpoCompliance === 'COMPLIANT' ? { sites, seattle } : null;
    });
    expect(health.seattle).toMatchObject({
      reachable: true,
      protectionGroups: [{ protectionGroup: { name: PG }, rpoCompliance: 'COMPLIANT' }],
    });
    expect(health.seattle.maxReplicationLagSeconds).toBeLessThan(60);
    // Boston is secondary for none of the tenant's groups: nothing to be behind on.
    expect(health.sites.find((x) => x.name === 'boston')!.health).toMatchObject({
      reachable: true,
      maxReplicationLagSeconds: null,
      rpoCompliance: 'UNKNOWN',
      protectionGroups: [],
    });

    // The same health in a siteHealth event (its first: the site's current status), read with the
    // subscriber's own tokens.
    const sub = subscribe(
      `subscription { siteHealth(site: "seattle") { site { name } status
        health { rpoCompliance protectionGroups { protectionGroup { name } rpoCompliance } } } }`,
      {},
      tokens,
    );
    try {
      const [first] = await until(
        'the first siteHealth event',
        async () => sub.events.length > 0 && sub.events,
      );
      expect(first).toMatchObject({
        siteHealth: {
          site: { name: 'seattle' },
          status: 'ACTIVE',
          health: {
            rpoCompliance: 'COMPLIANT',
            protectionGroups: [{ protectionGroup: { name: PG }, rpoCompliance: 'COMPLIANT' }],
          },
        },
      });
    } finally {
      await sub.close();
    }
  });

  it('runs a DR drill: a subscriber sees every step, test VMs boot on an isolated network, cleanup removes them', async () => {
    // A point replicated after both VMs joined the group.
    const joined = Date.now();
    await until('a complete recovery point on seattle', async () => {
      const { recoveryPoints } = await gql<{ recoveryPoints: Json[] }>(
        `{ recoveryPoints(protectionGroup: "${PG}") { name complete createdAt } }`,
      );
      return recoveryPoints.some((p) => p.complete && Date.parse(String(p.createdAt)) > joined);
    });
    const { testFailover } = await gql<{ testFailover: Json }>(
      `mutation { testFailover(input: { protectionGroup: "${PG}" }) { id status } }`,
    );
    const sub = subscribe(
      `subscription($id: ID!) { operationProgress(id: $id) { sequence kind status percentComplete message
         step { name status site { name } }
         operation { id type protectionGroup { name boston { status } seattle { status } } } } }`,
      { id: testFailover.id },
      tokens,
    );
    const events = await sub.done;
    sub.close();
    const op = await waitForOperation(String(testFailover.id));
    expect(op.status, JSON.stringify(op)).toBe('SUCCEEDED');
    // In order, no gaps after the first (current state) event, ending with the final status.
    const seqs = events.map((e) => (e.operationProgress as Json).sequence as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const last = events.at(-1)!.operationProgress as Json;
    expect(last).toMatchObject({ status: 'SUCCEEDED', percentComplete: 100 });
    const finished = events.map((e) => e.operationProgress as Json).filter((e) => e.kind === 'STEP_FINISHED');
    expect(finished.map((e) => (e.step as Json).name)).toEqual(
      (op.steps as Json[]).map((s) => s.name).slice((op.steps as Json[]).length - finished.length),
    );
    // Fields of other subgraphs are resolved for each event.
    expect(((last.operation as Json).protectionGroup as Json).seattle).toEqual({
      status: 'TEST_FAILED_OVER',
    });
    // The test VMs run on seattle on the drill's network; boston keeps running.
    const servers = await gql<{ seattle: { servers: Json[] }; boston: { servers: Json[] } }>(
      '{ seattle { servers { name status networks { networkName } } } boston { servers { name status } } }',
      {},
      admin,
    );
    const drill = servers.seattle.servers.filter((s) => String(s.name).endsWith('-drill'));
    expect(drill.map((s) => [s.name, s.status]).sort()).toEqual([
      ['web-1-drill', 'ACTIVE'],
      ['web-2-drill', 'ACTIVE'],
    ]);
    expect((drill[0]!.networks as Json[])[0]!.networkName).toMatch(/^drill-/);
    expect(
      servers.boston.servers
        .filter((s) => s.status === 'ACTIVE')
        .map((s) => s.name)
        .sort(),
    ).toEqual(['web-1', 'web-2']);
    // A drill in progress blocks a failover.
    const refused = await lab.gql(
      `mutation { failover(input: { protectionGroup: "${PG}", type: PLANNED }) { id } }`,
      {},
      tokens,
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('INVALID_STATE');
    expect(refused.errors?.[0]?.message).toMatch(/TEST_FAILED_OVER/);

    // The group now records when it was last proven to recover, and from which point.
    const { protectionGroup } = await gql<{ protectionGroup: { health: Json } }>(
      `{ protectionGroup(name: "${PG}") { health { lastTestedAt lastTestedRecoveryPoint issues { code } } } }`,
    );
    expect(protectionGroup.health.lastTestedAt).toEqual(expect.any(String));
    // The demo policy names the array group (purePgName), so its recovery points carry that name.
    expect(protectionGroup.health.lastTestedRecoveryPoint).toMatch(/^mock-array-a:pg-prod-web-app\./);
    expect((protectionGroup.health.issues as Json[]).map((i) => i.code)).not.toContain('NEVER_TESTED');

    const { testCleanup } = await gql<{ testCleanup: Json }>(
      `mutation { testCleanup(input: { protectionGroup: "${PG}" }) { id } }`,
    );
    expect((await waitForOperation(String(testCleanup.id))).status).toBe('SUCCEEDED');
    const after = await gql<{ seattle: { servers: Json[]; networks: Json[] } }>(
      '{ seattle { servers { name } networks { name testNetwork } } }',
      {},
      admin,
    );
    expect(after.seattle.servers.filter((s) => String(s.name).endsWith('-drill'))).toEqual([]);
    expect(after.seattle.networks.filter((n) => n.testNetwork)).toEqual([]);
    expect((await group()).status).toBe('ACTIVE');
  });

  /** Serial of the volume first written to, followed through every copy. */
  let dataOrigin = '';

  it('fails over as planned with zero data loss', async () => {
    // A bad mapping given with the operation is refused before the group's status changes.
    const before = await group();
    const badMapping = await lab.gql(
      `mutation { failover(input: { protectionGroup: "${PG}", type: PLANNED, resourceMappings: [
        { kind: NETWORK, sourceSite: "boston", sourceId: "n-1", targetSite: "nowhere", targetId: "n-2" }] }) { id } }`,
      {},
      tokens,
    );
    expect(badMapping.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(badMapping.errors?.[0]?.message).toMatch(/targetSite 'nowhere' is not one of the group's sites/);
    expect(await group()).toMatchObject({ status: before.status, metadataVersion: before.metadataVersion });
    const pg = await group();
    const vol = String(((pg.members as Json[])[0]!.volumes as Json[])[0]!.storageVolumeName);
    for (let i = 0; i < 3; i++) store.simulateWrite('mock-array-a', vol);
    const written = volumeOn('mock-array-a', vol);
    dataOrigin = written.origin;
    const { failover } = await gql<{ failover: Json }>(
      `mutation { failover(input: { protectionGroup: "${PG}", type: PLANNED }) { id } }`,
    );
    const op = await waitForOperation(String(failover.id));
    expect(op.status).toBe('SUCCEEDED');
    expect((op.steps as Json[]).map((s) => s.name)).toEqual([
      'setGroupStatus',
      'stopServers',
      'replicateNow',
      'materializeRecoveryPoint',
      'swapRoles',
    ]);
    // The recovered volume on seattle holds every write made before the failover.
    const copies = copiesOf('mock-array-b', written.origin);
    expect(Math.max(...copies.map((c) => c.version))).toBe(written.version);
    const now = await group();
    expect(now).toMatchObject({
      status: 'FAILED_OVER',
      syncStatus: 'IN_SYNC',
      currentPrimarySite: { name: 'seattle' },
    });
    // Each VM booted on seattle with its own flavor and networks, mapped from boston's.
    for (const m of now.members as Json[]) {
      const placements = m.placements as Json[];
      expect(placements.map((p) => (p.site as Json).name).sort()).toEqual(['boston', 'seattle']);
      for (const p of placements) {
        expect(p.flavorId).toEqual(expect.any(String));
        expect((p.networkIds as string[]).length).toBe(1);
      }
    }
    // Priority groups: web-1 (priority 1) was ACTIVE before web-2 (priority 2) was even created.
    const created = await gql<{ seattle: { servers: Json[] } }>('{ seattle { servers { name createdAt } } }');
    const at = (name: string) =>
      Date.parse(String(created.seattle.servers.find((s) => s.name === name)!.createdAt));
    expect(at('web-2') - at('web-1')).toBeGreaterThanOrEqual(1000);
    // The tenant sees its recovered VMs in its own project on seattle (its token, not an admin's).
    const servers = await gql<{ seattle: { servers: Json[] }; boston: { servers: Json[] } }>(
      '{ seattle { servers { name status } } boston { servers { name status } } }',
    );
    expect(
      servers.seattle.servers.filter((s) => ['web-1', 'web-2'].includes(String(s.name))).map((s) => s.status),
    ).toEqual(['ACTIVE', 'ACTIVE']);
    expect(servers.boston.servers.filter((s) => s.status === 'ACTIVE')).toEqual([]);
  });

  it('fails back to boston, reprotecting first, with the data written on seattle', async () => {
    // The workload wrote more on seattle while it ran there.
    // Cinder's Pure driver renamed the recovered copies it managed volume-<id>-cinder.
    const running = copiesOf('mock-array-b', dataOrigin).filter((c) => c.name.startsWith('volume-'));
    const live = running.sort((a, b) => b.version - a.version)[0]!;
    store.simulateWrite('mock-array-b', live.name);
    const onSeattle = volumeOn('mock-array-b', live.name);
    const { failback } = await gql<{ failback: Json }>(
      `mutation { failback(input: { protectionGroup: "${PG}" }) { id } }`,
    );
    const op = await waitForOperation(String(failback.id));
    expect(op.status).toBe('SUCCEEDED');
    expect((op.steps as Json[]).map((s) => `${s.name}${s.site ? `@${(s.site as Json).name}` : ''}`)).toEqual([
      'setGroupStatus',
      'reverseReplication@seattle',
      'syncMetadata',
      'stopServers@seattle',
      'replicateNow@seattle',
      'materializeRecoveryPoint@boston',
      'swapRoles',
      'reverseReplication@boston',
      'syncMetadata',
    ]);
    // The sync after reprotecting and the stop on seattle ran at the same time: both began before
    // either ended.
    const step = (key: string) => (op.steps as Json[]).find((s) => s.key === key)!;
    const together = [step('sync-after-reprotect'), step('stop')];
    expect(
      Math.max(...together.map((s) => Date.parse(String(s.startedAt)))),
      JSON.stringify(together),
    ).toBeLessThan(Math.min(...together.map((s) => Date.parse(String(s.finishedAt)))));
    const back0 = await group();
    expect(back0).toMatchObject({
      status: 'ACTIVE',
      syncStatus: 'IN_SYNC',
      currentPrimarySite: { name: 'boston' },
    });
    // The members say where their workload is: protected again, not failed over.
    expect((back0.members as Json[]).map((m) => m.status)).toEqual(
      (back0.members as Json[]).map(() => 'PROTECTED'),
    );
    // Back on boston with nothing lost from seattle, in the original volumes of the original VMs (recovered
    // in place, as SRM does: no second copy of each VM on boston).
    const back = copiesOf('mock-array-a', dataOrigin);
    expect(back.filter((c) => c.name.startsWith('volume-')).map((c) => c.version)).toContain(
      onSeattle.version,
    );
    const originals = (back0.members as Json[]).flatMap((m) =>
      ((m.placements as Json[]).find((p) => (p.site as Json).name === 'boston')!.volumes as Json[]).map(
        (v) => `volume-${String(v.volumeId)}-cinder`,
      ),
    );
    expect(back.map((c) => c.name).filter((n) => !originals.includes(n))).toEqual([]);
    const { boston } = await gql<{ boston: { servers: Json[] } }>('{ boston { servers { name status } } }');
    const names = boston.servers.filter((s) => ['web-1', 'web-2'].includes(String(s.name)));
    expect(names.map((s) => s.status).sort()).toEqual(['ACTIVE', 'ACTIVE']);
  });

  let olderPoint: { name: string; version: number; origin: string } | null = null;

  it('refuses changes while seattle is down, answers with boston data plus an error naming seattle', async () => {
    // Two complete points with different data on seattle's array, for the point-in-time failover below.
    const pg = await group();
    const vol = String(((pg.members as Json[])[0]!.volumes as Json[])[0]!.storageVolumeName);
    store.simulateWrite('mock-array-a', vol);
    const first = volumeOn('mock-array-a', vol);
    const p1 = await until('a point holding the first write', async () => {
      const { recoveryPoints } = await gql<{ recoveryPoints: Json[] }>(
        `{ recoveryPoints(protectionGroup: "${PG}") { name complete createdAt } }`,
      );
      const held = store.content('mock-array-b');
      return recoveryPoints.find(
        (p) =>
          p.complete &&
          held.some(
            (s) => s.name === `${p.name}.${vol}` && s.kind === 'snapshot' && s.version === first.version,
          ),
      );
    });
    olderPoint = { name: String(p1.name), version: first.version, origin: first.origin };
    store.simulateWrite('mock-array-a', vol);
    store.simulateWrite('mock-array-a', vol);

    await lab.killSite('seattle');
    const res = await lab.gql<{ protectionGroup: Json }>(
      `{ protectionGroup(name: "${PG}") { name boston { status } seattle { status } } }`,
      {},
      tokens,
    );
    expect(res.data?.protectionGroup).toMatchObject({
      name: PG,
      boston: { status: 'ACTIVE' },
      seattle: null,
    });
    const siteError = res.errors?.find((e) => e.extensions?.site === 'seattle');
    expect(siteError?.extensions?.code).toBe('SITE_UNREACHABLE');
    const version = async () =>
      (
        await gql<{ protectionGroup: { metadataVersion: number } }>(
          `{ protectionGroup(name: "${PG}") { metadataVersion } }`,
        )
      ).protectionGroup.metadataVersion;
    const before = await version();
    const refused = await lab.gql(
      `mutation { createReplicationPolicy(input: { protectionGroup: "${PG}", policy: { rpoMinutes: 7 } }) { id } }`,
      {},
      tokens,
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('PEER_SITE_UNREACHABLE');
    expect(refused.errors?.[0]?.message).toMatch(/seattle/);
    expect(await version()).toBe(before);
    await lab.startSite('seattle');
    await until('seattle back', async () => (await group()).syncStatus === 'IN_SYNC');
  });

  it('fails over unplanned to an older recovery point with boston killed, and re-syncs and fences boston when it returns', async () => {
    expect(olderPoint).not.toBeNull();
    // boston's datacenter is lost, its array with it, and seattle's service restarts during the disaster:
    // it starts without the peer's array (named as last seen), degraded but ready.
    await lab.killSite('boston');
    store.setFaults('mock-array-a', { down: true });
    await lab.killSite('seattle');
    await lab.startSite('seattle');
    const readyz = await fetch(lab.sites.seattle!.url.replace(/\/graphql$/, '/readyz'));
    const ready = (await readyz.json()) as Json;
    expect(readyz.status).toBe(200);
    expect(ready).toMatchObject({
      status: 'degraded',
      checks: { storage: { ok: true }, peer_storage: { ok: false } },
    });
    expect(String(((ready.checks as Json).peer_storage as Json).error)).toMatch(/mock-array-a.* is down/);
    // `site validate` reports the storage-layer error, naming the array and what to do.
    const { validateSite } = await gql<{ validateSite: { valid: boolean; checks: Json[] } }>(
      'mutation { validateSite(name: "seattle") { valid checks { name status message } } }',
      {},
      { seattle: admin.seattle! },
    );
    expect(validateSite.valid).toBe(false);
    // The Cinder host recovered volumes go to ([cinder] volume_host) is in seattle's cloud.
    expect(validateSite.checks.find((c) => c.name === 'cinder')).toMatchObject({
      status: 'PASSED',
      message: '[cinder] volume_host cinder@pure#pure: volume service cinder@pure up, pool present',
    });
    expect(validateSite.checks.find((c) => c.name === 'storage')).toMatchObject({
      status: 'FAILED',
      message: expect.stringMatching(
        /mock-array-a: Array at mock:\/\/mock-array-a is unreachable.*clear the fault/,
      ),
    });
    const { failover } = await gql<{ failover: Json }>(
      `mutation($rp: String) { failover(input: { protectionGroup: "${PG}", type: UNPLANNED, recoveryPoint: $rp }) { id } }`,
      { rp: olderPoint!.name },
      { seattle: tokens.seattle! },
    );
    const op = await until('unplanned failover', async () => {
      const r = await lab.gql<{ operation: Json }>(
        `query($id: ID!) { operation(id: $id) { ${OPERATION} } }`,
        { id: failover.id },
        { seattle: tokens.seattle! },
      );
      const o = r.data?.operation;
      return o && ['SUCCEEDED', 'FAILED', 'PARTIAL'].includes(String(o.status)) ? o : null;
    });
    expect(op.status).toBe('SUCCEEDED');
    expect((op.steps as Json[]).find((s) => s.name === 'fenceServers')?.status).toBe('SKIPPED');
    // The recovered data is exactly the chosen point's: later writes are not in it.
    const copies = copiesOf('mock-array-b', olderPoint!.origin);
    const newest = copies.filter((c) => c.name.startsWith('volume-')).map((c) => c.version);
    expect(newest).toContain(olderPoint!.version);
    expect(Math.max(...newest)).toBe(olderPoint!.version);

    // boston returns, array first, with its VMs running and stale metadata: the gateway re-syncs it and
    // fences them.
    store.setFaults('mock-array-a', { down: false });
    await lab.startSite('boston');
    await until(
      'boston re-synced',
      async () => {
        const g = await group();
        return g.syncStatus === 'IN_SYNC' && (g.boston as Json | null)?.status === 'FAILED_OVER' ? g : null;
      },
      120_000,
    );
    const { boston } = await gql<{ boston: { servers: Json[] } }>(
      '{ boston { servers { name status } } }',
      {},
      admin,
    );
    expect(
      boston.servers.filter((s) => ['web-1', 'web-2'].includes(String(s.name)) && s.status === 'ACTIVE'),
    ).toEqual([]);
    const sync = await gql<{ operations: { nodes: Json[] } }>(
      `{ operations(filter: { type: [SYNC] }) { nodes { status requestedBy } } }`,
    );
    expect(sync.operations.nodes[0]).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('resumes an operation after the gateway is killed in the middle of it', async () => {
    const { failback } = await gql<{ failback: Json }>(
      `mutation { failback(input: { protectionGroup: "${PG}" }) { id } }`,
    );
    await until('failback past its first steps', async () => {
      const { operation } = await gql<{ operation: Json }>(
        `query($id: ID!) { operation(id: $id) { stepsCompleted } }`,
        { id: failback.id },
      );
      return Number(operation.stepsCompleted) >= 2;
    });
    await lab.killGateway();
    await lab.startGateway();
    const op = await waitForOperation(String(failback.id));
    expect(op.status).toBe('SUCCEEDED');
    expect(await group()).toMatchObject({
      status: 'ACTIVE',
      syncStatus: 'IN_SYNC',
      currentPrimarySite: { name: 'boston' },
    });
  });

  withChromium.it(
    'works from the playground in a real browser: the page loads offline, a query runs, a subscription shows a drill',
    async () => {
      const headers = Object.fromEntries(Object.entries(tokens).map(([k, v]) => [`X-Site-Token-${k}`, v]));
      // The drill starts once the page subscribed to the group's events, and the page watches it to its end.
      let started: Promise<{ testFailover: Json }> | null = null;
      const result = await driveThePlayground(lab.gatewayUrl.replace(/\/graphql$/, '/'), {
        run: {
          query: `{ protectionGroup(name: "${PG}") { name status boston { status } seattle { status } } }`,
          headers,
        },
        subscribe: {
          query: `subscription { operationEvents(protectionGroup: "${PG}") { sequence kind status percentComplete step { name } } }`,
          headers,
          onSubscribed: () => {
            started = gql<{ testFailover: Json }>(
              `mutation { testFailover(input: { protectionGroup: "${PG}" }) { id } }`,
            );
          },
          until: (seen) =>
            seen.some((e) =>
              ['SUCCEEDED', 'FAILED'].includes(
                String((e as { data?: { operationEvents?: Json } }).data?.operationEvents?.status),
              ),
            ),
        },
        timeoutMs: 60_000,
      });
      expect(result.externalRequests).toEqual([]);
      expect(result.consoleErrors).toEqual([]);
      expect(result.run?.response).toMatchObject({
        data: { protectionGroup: { name: PG, boston: { status: 'ACTIVE' } } },
      });
      const events = (result.subscription?.events ?? []).map(
        (e) => ((e as { data?: { operationEvents?: Json } }).data?.operationEvents ?? {}) as Json,
      );
      expect(events.length, JSON.stringify(result.subscription).slice(0, 500)).toBeGreaterThan(1);
      expect(events.map((e) => e.kind)).toContain('STEP_STARTED');
      expect(started).not.toBeNull();
      const { testFailover } = await started!;
      expect((await waitForOperation(String(testFailover.id))).status).toBe('SUCCEEDED');
      const { testCleanup } = await gql<{ testCleanup: Json }>(
        `mutation { testCleanup(input: { protectionGroup: "${PG}" }) { id } }`,
      );
      expect((await waitForOperation(String(testCleanup.id))).status).toBe('SUCCEEDED');
    },
  );
});
