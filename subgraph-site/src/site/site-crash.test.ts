/**
 * Crashed-and-repeated steps: the site process is SIGKILLed in the middle of a long step, restarted
 * from the same config, and the coordinator repeats the step with the same key. It must complete
 * without duplicates, and the step audit must show the second attempt.
 */
import { randomUUID } from 'node:crypto';
import { waitFor } from '@protector/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootTenantServer,
  groupMetadata,
  RECEIPT,
  REPLICA_FIELDS,
  readSite,
  type SitePair,
  startSitePair,
  stepOk,
} from '../../test-support/site-pair.js';

let lab: SitePair;
beforeAll(async () => {
  // Seattle boots servers slowly, so a materialize is still running when we kill it.
  lab = await startSitePair({ bootSeconds: { boston: 0, seattle: 5 } });
}, 60_000);
afterAll(async () => {
  await lab?.stop();
});

describe('a site killed in the middle of materializeRecoveryPoint', () => {
  it('completes the repeated step after a restart, with one server and one set of volumes', async () => {
    const md = groupMetadata({ name: 'crash-app', storageGroupName: 'pg-crash-app' });
    md.projectId = lab.boston.tokens.tenantProjectId;
    for (const site of [lab.boston, lab.seattle]) {
      await stepOk(
        site,
        'applyProtectionGroupMetadata',
        { operationId: 'c-create', stepKey: site.name },
        { expectedVersion: 0, metadata: md },
        RECEIPT,
      );
    }
    await stepOk(
      lab.boston,
      'ensureStorageGroup',
      { operationId: 'c-create', stepKey: 'sg' },
      {
        protectionGroupId: md.id,
        name: 'pg-crash-app',
        replicationType: 'ASYNC',
        source: true,
        replicationIntervalSeconds: 3600,
      },
      'name',
    );
    const vm = await bootTenantServer(lab.boston, 'db-1', 'replicated-ssd');
    const added = await stepOk<{
      replica: {
        members: {
          id: string;
          name: string;
          status: string;
          volumes: Record<string, unknown>[];
          placements: { site: { name: string }; serverId: string; volumes: unknown[] }[];
        }[];
      };
    }>(
      lab.boston,
      'addMembers',
      { operationId: 'c-add', stepKey: 'boston' },
      {
        protectionGroupId: md.id,
        expectedVersion: 1,
        members: [
          {
            id: randomUUID(),
            name: 'db-1',
            status: 'PROTECTING',
            volumes: [],
            placements: [{ site: 'boston', serverId: vm.serverId, networkIds: [], volumes: [] }],
          },
        ],
      },
      `replica { ${REPLICA_FIELDS} }`,
    );
    const member = added.replica.members[0]!;
    await stepOk(
      lab.seattle,
      'addMembers',
      { operationId: 'c-add', stepKey: 'seattle' },
      {
        protectionGroupId: md.id,
        expectedVersion: 1,
        members: [
          {
            id: member.id,
            name: member.name,
            status: member.status,
            volumes: member.volumes.map((v) => ({ ...v, name: 'vda', bootable: v.bootIndex === 0 })),
            placements: member.placements.map((p) => ({
              site: p.site.name,
              serverId: p.serverId,
              networkIds: [],
              volumes: p.volumes,
            })),
          },
        ],
      },
      RECEIPT,
    );
    await stepOk(
      lab.boston,
      'replicateNow',
      { operationId: 'c-failover', stepKey: 'replicate' },
      { protectionGroupId: md.id, wait: true, timeoutSeconds: 30 },
      'recoveryPoint { name }',
    );

    const key = { operationId: 'c-failover', stepKey: 'materialize' };
    const input = { protectionGroupId: md.id, resourceMappings: [] };
    const sel = `${RECEIPT} members { memberId status serverId volumes { volumeId } error { code message } }`;
    // Start the step and kill the site while the server is still building.
    const inflight = stepOk(lab.seattle, 'materializeRecoveryPoint', key, input, sel).then(
      () => 'finished',
      () => 'interrupted',
    );
    const building = await waitFor(
      'the recovered server to be building on seattle',
      async () => (await lab.seattle.serviceCloud.listServers()).find((s) => s.name === 'db-1'),
      15_000,
    );
    expect(building.status).toBe('BUILD');
    await lab.restart(lab.seattle, 'kill');
    expect(await inflight).toBe('interrupted');

    const running = await readSite<{
      stepExecutions: { stepKey: string; status: string; attempt: number }[];
    }>(
      lab.seattle,
      'stepExecutions(filter: { operationId: "c-failover" }) { stepKey status attempt }',
      lab.seattle.tokens.admin,
    );
    expect(running.stepExecutions).toEqual([{ stepKey: 'materialize', status: 'RUNNING', attempt: 1 }]);

    const r = await stepOk<{
      step: { replayed: boolean };
      members: { status: string; serverId: string; volumes: { volumeId: string }[]; error: unknown }[];
    }>(lab.seattle, 'materializeRecoveryPoint', { ...key, attempt: 2 }, input, sel);
    expect(r.step.replayed).toBe(false);
    expect(r.members).toHaveLength(1);
    expect(r.members[0]).toMatchObject({ status: 'SUCCEEDED', serverId: building.id, error: null });

    const servers = (await lab.seattle.serviceCloud.listServers()).filter((s) => s.name === 'db-1');
    expect(servers.map((s) => [s.id, s.status])).toEqual([[building.id, 'ACTIVE']]);
    const volumes = (await lab.seattle.serviceCloud.listVolumes()).filter(
      (v) => v.metadata?.protector_pg === md.id,
    );
    expect(volumes.map((v) => v.id)).toEqual(r.members[0]!.volumes.map((v) => v.volumeId));

    const audit = await readSite<{ stepExecutions: { stepKey: string; status: string; attempt: number }[] }>(
      lab.seattle,
      'stepExecutions(filter: { operationId: "c-failover" }) { stepKey status attempt }',
      lab.seattle.tokens.admin,
    );
    expect(audit.stepExecutions).toEqual([{ stepKey: 'materialize', status: 'SUCCEEDED', attempt: 2 }]);

    // And a third call replays the recorded result.
    const again = await stepOk<{ step: { replayed: boolean } }>(
      lab.seattle,
      'materializeRecoveryPoint',
      key,
      input,
      RECEIPT,
    );
    expect(again.step.replayed).toBe(true);
  }, 60_000);
});
