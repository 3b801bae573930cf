/**
 * `[DEFAULT] recovery_concurrency` decides how many members a recovery boots at once, on the lab: with
 * 2, a drill of four VMs boots them two by two (each pair a boot time after the one before), where the
 * product's default (8) boots all four together. The four join in one `addMembers`, which is tested
 * here too: all or nothing, one metadata version for many VMs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupOfNewVms, labClient } from './e2e-kit.js';
import { bootVm, cloudCall, type Lab, startLab } from './lab.js';

const BOOT_SECONDS = 1;

describe('recovery_concurrency', () => {
  let lab: Lab;
  let dir: string;
  let tokens: Record<string, string>;
  const { gql, waitForOperation } = labClient(
    () => lab,
    () => tokens,
  );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-concurrency-e2e-'));
    lab = await startLab({
      dir,
      gatewayPort: 0,
      transferMs: 300,
      bootSeconds: BOOT_SECONDS,
      replicationIntervalSeconds: 5,
      demo: false,
      recoveryConcurrency: 2,
    });
    tokens = await lab.tenantTokens();
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('boots a drill of four VMs two at a time when it is 2', async () => {
    // The four join in one addMembers.
    await groupOfNewVms(lab, tokens, gql, 'four', 4);

    const { testFailover } = await gql<{ testFailover: Json }>(
      'mutation { testFailover(input: { protectionGroup: "four" }) { id } }',
    );
    const op = await waitForOperation(String(testFailover.id));
    expect(op.status, JSON.stringify(op)).toBe('SUCCEEDED');

    // When Nova launched each drill server on seattle, in order.
    const { servers } = (await cloudCall(
      lab.sites.seattle!,
      tokens.seattle!,
      'compute',
      'GET',
      '/servers/detail',
    )) as {
      servers: Json[];
    };
    const drills = servers.filter((s) => String(s.name).endsWith('-drill'));
    expect(drills.map((s) => s.name).sort()).toEqual([
      'four-0-drill',
      'four-1-drill',
      'four-2-drill',
      'four-3-drill',
    ]);
    const launched = drills.map((s) => Date.parse(`${s['OS-SRV-USG:launched_at']}Z`)).sort((a, b) => a - b);
    const gaps = launched.slice(1).map((t, i) => t - launched[i]!);
    // Two together, a boot time, then the other two together.
    expect(gaps[0], JSON.stringify(gaps)).toBeLessThan(500);
    expect(gaps[1], JSON.stringify(gaps)).toBeGreaterThanOrEqual(BOOT_SECONDS * 1000 - 100);
    expect(gaps[2], JSON.stringify(gaps)).toBeLessThan(500);
  }, 180_000);

  describe('addMembers', () => {
    const REPLICAS =
      '{ metadataVersion replicas { site { name } replica { metadataVersion members { name bootPriority volumes { id storageVolumeName } } } } }';
    type Replicas = {
      metadataVersion: number;
      replicas: {
        site: { name: string };
        replica: {
          metadataVersion: number;
          members: {
            name: string;
            bootPriority: number;
            volumes: { id: string; storageVolumeName: string }[];
          }[];
        };
      }[];
    };
    const group = async () =>
      (await gql<{ protectionGroup: Replicas }>(`{ protectionGroup(id: "many") ${REPLICAS} }`))
        .protectionGroup;
    const addMembers = (servers: string[], more = '') =>
      gql(
        `mutation { addMembers(input: { protectionGroup: "many", servers: ${JSON.stringify(servers)}${more} }) { id } }`,
      ).then(
        () => null,
        (err: Error & { code?: string }) => err,
      );

    beforeAll(async () => {
      await gql(`mutation { createProtectionGroup(input: { name: "many", replicationType: ASYNC, primarySite: "boston",
        secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`);
      for (const name of ['many-0', 'many-1', 'many-2'])
        await bootVm(lab.sites.boston!, tokens.boston!, name);
      await bootVm(lab.sites.boston!, tokens.boston!, 'many-plain', 'standard-ssd');
    }, 120_000);

    it('refuses the whole list for one bad server, naming it, and changes nothing on either site', async () => {
      const before = await group();
      const refusals = [
        [['many-0', 'many-plain'], '', /Volume type 'standard-ssd' does not support replication/],
        [['many-0', 'nope'], '', /Server 'nope' does not exist on site 'boston'/],
        [['many-0', 'many-0'], '', /Server 'many-0' is listed twice in servers/],
        [[], '', /servers must name 1 to 1000 servers, got 0/],
        [['many-0'], ', bootPriority: 9', /bootPriority must be a whole number from 1/],
      ] as const;
      for (const [servers, more, message] of refusals) {
        const err = await addMembers([...servers], more);
        expect(err?.message, JSON.stringify(servers)).toMatch(message);
      }
      expect(await group()).toEqual(before);
      expect(before.replicas.every((r) => r.replica.members.length === 0)).toBe(true);
    }, 120_000);

    it('adds several VMs in one version on both sites, with their volumes; a member already there is refused', async () => {
      const before = await group();
      expect(await addMembers(['many-0', 'many-1', 'many-2'], ', bootPriority: 2')).toBeNull();
      const after = await group();
      expect(after.metadataVersion).toBe(before.metadataVersion + 1);
      for (const { site, replica } of after.replicas) {
        expect(replica.metadataVersion, site.name).toBe(after.metadataVersion);
        expect(replica.members.map((m) => m.name).sort()).toEqual(['many-0', 'many-1', 'many-2']);
        expect(replica.members.every((m) => m.bootPriority === 2 && m.volumes.length === 1)).toBe(true);
        expect(replica.members.every((m) => /^volume-.*-cinder$/.test(m.volumes[0]!.storageVolumeName))).toBe(
          true,
        );
      }
      // Both sites hold the same member volumes.
      const volumes = after.replicas.map((r) =>
        r.replica.members
          .flatMap((m) => m.volumes.map((v) => v.id))
          .sort()
          .join(),
      );
      expect(volumes[0]).toBe(volumes[1]);
      const err = await addMembers(['many-1']);
      expect(err?.message).toMatch(/Server 'many-1' is already a member of 'many'/);
      expect((await group()).metadataVersion).toBe(after.metadataVersion);
    }, 120_000);
  });
});
