/** DR drill steps: the isolated test network and the cleanup of everything a drill created. */
import { mapLimit } from '@protector/platform';
import {
  errorJson,
  isProtectorError,
  type Json,
  ProtectorError,
  testNetworkCidrProblem,
} from '@protector/schema';

import { networkJson, type StepKey, type StepKit, short, TAG } from './kit.js';

/** Drill volumes a cleanup deletes at once. */

export function testNetworkSteps(kit: StepKit) {
  const { ctx, repo, cloud, driver, once, tenantCloud, arrayNameOf } = kit;
  async function deleteNetwork(networkId: string): Promise<void> {
    try {
      for (const port of await cloud.listPorts({ network_id: networkId })) {
        await cloud.deletePort(port.id).catch((err) => {
          if (!isProtectorError(err, 'NOT_FOUND')) throw err;
        });
      }
      for (const subnet of await cloud.listSubnets({ network_id: networkId }))
        await cloud.deleteSubnet(subnet.id);
      await cloud.deleteNetwork(networkId);
    } catch (err) {
      if (!isProtectorError(err, 'NOT_FOUND')) throw err;
    }
  }

  return {
    async createTestNetwork(
      key: StepKey,
      input: { protectionGroupId: string; name: string; cidr?: string | null },
    ) {
      const cidrProblem = input.cidr ? testNetworkCidrProblem(input.cidr) : null;
      if (cidrProblem) throw new ProtectorError('BAD_USER_INPUT', `cidr: ${cidrProblem}.`, { field: 'cidr' });
      return once(key, 'createTestNetwork', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const tc = await tenantCloud(pg);
        const existing = (await tc.listNetworks({ name: input.name })).find((n) => n.name === input.name);
        const network =
          existing ??
          (await tc.createNetwork({
            name: input.name,
            description: `${TAG.test}:${pg.id}`,
            admin_state_up: true,
          } as never));
        const subnets = await tc.listSubnets({ network_id: network.id });
        const subnet =
          subnets[0] ??
          (await tc.createSubnet({
            network_id: network.id,
            cidr: input.cidr ?? '192.168.250.0/24',
            ip_version: 4,
            name: `${input.name}-subnet`,
          } as never));
        return { network: networkJson(network, [subnet], true) };
      });
    },

    async deleteTestNetwork(key: StepKey, input: { protectionGroupId: string; networkId: string }) {
      return once(key, 'deleteTestNetwork', input, async () => {
        await deleteNetwork(input.networkId);
        return {};
      });
    },

    async cleanupTestFailover(
      key: StepKey,
      input: { protectionGroupId: string; testOperationId?: string | null },
    ) {
      return once(key, 'cleanupTestFailover', input, async () => {
        const pg = await repo.requireProtectionGroup(input.protectionGroupId);
        const errors: Json[] = [];
        const mine = (md: Record<string, string> | undefined) =>
          md?.[TAG.pg] === pg.id && md?.[TAG.test] === 'true';
        const servers = (await cloud.listServers({ allTenants: true })).filter((s) => mine(s.metadata));
        const deletedServerIds: string[] = [];
        await Promise.all(
          servers.map(async (s) => {
            try {
              await cloud.deleteServer(s.id);
              await cloud.waitForServerDeleted(s.id, { timeoutMs: 120_000 });
              deletedServerIds.push(s.id);
            } catch (err) {
              if (isProtectorError(err, 'NOT_FOUND')) deletedServerIds.push(s.id);
              else errors.push(errorJson(err));
            }
          }),
        );
        const volumes = (await cloud.listVolumes({ allTenants: true })).filter((v) => mine(v.metadata));
        const deletedVolumeIds: string[] = [];
        const destroyedStorageVolumes: string[] = [];
        // Several at a time: each waits for its server's detach, and they do not depend on each other.
        await mapLimit(volumes, ctx.recoveryConcurrency, async (v) => {
          try {
            if (v.status !== 'available') {
              await cloud
                .waitForVolumeStatus(v.id, 'available', { timeoutMs: 60_000 })
                .catch(() => undefined);
            }
            await cloud.deleteVolume(v.id);
            deletedVolumeIds.push(v.id);
            destroyedStorageVolumes.push(arrayNameOf(v));
          } catch (err) {
            if (!isProtectorError(err, 'NOT_FOUND')) errors.push(errorJson(err));
          }
        });
        // Array copies that never made it into Cinder (a drill interrupted between copy and manage):
        // named t-<operation>-<member volume> (see recoverMember), so findable when the drill is named.
        if (input.testOperationId) {
          const opTag = short(input.testOperationId, 8);
          const names = (await repo.listMembers(pg.id))
            .flatMap((m) => m.volumes.map((v) => `t-${opTag}-${short(v.id, 12)}`))
            .filter((name) => !destroyedStorageVolumes.includes(name));
          const found = await Promise.all(
            names.map((name) => driver.getVolumes(ctx.localArray, [name]).catch(() => [])),
          );
          const stray = found
            .flat()
            .filter((v) => !v.destroyed)
            .map((v) => v.name);
          if (stray.length) {
            try {
              await driver.destroyVolumes(ctx.localArray, stray, { eradicate: true });
              destroyedStorageVolumes.push(...stray);
            } catch (err) {
              errors.push(errorJson(err));
            }
          }
        }
        const deletedNetworkIds: string[] = [];
        for (const n of await cloud.listNetworks()) {
          if ((n as unknown as { description?: string }).description === `${TAG.test}:${pg.id}`) {
            try {
              await deleteNetwork(n.id);
              deletedNetworkIds.push(n.id);
            } catch (err) {
              errors.push(errorJson(err));
            }
          }
        }
        return { deletedServerIds, deletedVolumeIds, deletedNetworkIds, destroyedStorageVolumes, errors };
      });
    },
  };
}
