/**
 * `[DEFAULT] recovery_concurrency` decides how many members a recovery boots at once, on the lab: with
 * 2, a drill of four VMs boots them two by two (each pair a boot time after the one before), where the
 * product's default (8) boots all four together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labClient, until } from './e2e-kit.js';
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
    await gql(`mutation { createProtectionGroup(input: { name: "four", replicationType: ASYNC, primarySite: "boston",
      secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`);
    await gql(`mutation { createReplicationPolicy(input: { protectionGroup: "four", policy: { primaryArrayUrl: "https://a.lab",
      primaryArrayToken: "t", secondaryArrayUrl: "https://b.lab", secondaryArrayToken: "t", purePgName: "four",
      replicationIntervalSeconds: 5, rpoMinutes: 5 } }) { id } }`);
    for (let i = 0; i < 4; i++) {
      await bootVm(lab.sites.boston!, tokens.boston!, `four-${i}`);
      await gql(`mutation { addMember(input: { protectionGroup: "four", server: "four-${i}" }) { id } }`);
    }
    // A point taken after the last member joined holds all four.
    const joined = Date.now();
    await until('a recovery point of all four', async () => {
      const { recoveryPoints } = await gql<{ recoveryPoints: { complete: boolean; createdAt: string }[] }>(
        '{ recoveryPoints(protectionGroup: "four") { complete createdAt } }',
      );
      return recoveryPoints.some((p) => p.complete && Date.parse(p.createdAt) > joined);
    });

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
});
