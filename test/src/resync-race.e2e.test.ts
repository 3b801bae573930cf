/**
 * A site that returns while the unplanned failover that went on without it is still running: the
 * gateway's re-sync finds the group busy and looks again every health interval until the failover has
 * ended, then stops; the site ends level with its peer. (Here the site is back before the failover's
 * role swap, which then writes to it too; a site back after the swap but before the failover ended is
 * levelled only by the re-sync looking again, a window this test cannot hit on purpose.) The simulated
 * VMs take 15 s to boot, so the failover is still recovering when the site is back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '@protector/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupOfNewVms, labClient, OPERATION, until } from './e2e-kit.js';
import { type Lab, startLab } from './lab.js';

describe('a site returning during an unplanned failover', () => {
  let lab: Lab;
  let dir: string;
  let tokens: Record<string, string>;
  const { gql } = labClient(
    () => lab,
    () => tokens,
  );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'protector-resync-e2e-'));
    lab = await startLab({
      dir,
      gatewayPort: 0,
      transferMs: 300,
      bootSeconds: 15,
      replicationIntervalSeconds: 5,
      healthIntervalSeconds: 1,
      demo: false,
    });
    tokens = await lab.tenantTokens();
  }, 180_000);

  afterAll(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is re-synced once the failover has ended', async () => {
    await groupOfNewVms(lab, tokens, gql, 'race', 1);
    await lab.killSite('boston');
    const seattle = { seattle: tokens.seattle! };
    const { failover } = await gql<{ failover: Json }>(
      'mutation { failover(input: { protectionGroup: "race", type: UNPLANNED }) { id } }',
      {},
      seattle,
    );
    const operation = async () =>
      (
        await gql<{ operation: Json }>(
          `query($id: ID!) { operation(id: $id) { ${OPERATION} } }`,
          { id: failover.id },
          seattle,
        )
      ).operation;
    await until('the failover recovering', async () =>
      ((await operation()).steps as Json[]).some((s) => s.key === 'recover' && s.status === 'RUNNING'),
    );
    await lab.startSite('boston');
    const g = await until(
      'boston re-synced after the failover',
      async () => {
        const { protectionGroup } = await gql<{ protectionGroup: Json }>(
          '{ protectionGroup(name: "race") { status syncStatus boston { status } seattle { status } } }',
        );
        return protectionGroup.syncStatus === 'IN_SYNC' ? protectionGroup : null;
      },
      120_000,
    );
    expect((await operation()).status).toBe('SUCCEEDED');
    expect(g).toMatchObject({ status: 'FAILED_OVER', boston: { status: 'FAILED_OVER' } });
    // The site was back while the failover ran: the re-sync found the group busy and looked again,
    // and stopped looking once the failover had ended.
    const log = readFileSync(join(dir, 'gateway', 'gateway.log'), 'utf8');
    const waits = log.match(/re-sync of site boston: race still running an operation; looking again in 1 s/g);
    expect(waits?.length).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 3000));
    expect(
      readFileSync(join(dir, 'gateway', 'gateway.log'), 'utf8').match(/still running an operation/g)?.length,
    ).toBe(waits?.length);
  }, 300_000);
});
