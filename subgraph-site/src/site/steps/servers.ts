/** Steps on the group's servers: stop, start, fence. */
import type { StepKey, StepKit } from './kit.js';

export function serverSteps(kit: StepKit) {
  const { ctx, once, serverAction } = kit;
  return {
    async stopServers(
      key: StepKey,
      input: { protectionGroupId: string; serverIds?: string[] | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'stopServers', input, () =>
        serverAction(input.protectionGroupId, input.serverIds, 'stop', input.timeoutSeconds ?? 300),
      );
    },

    async startServers(
      key: StepKey,
      input: { protectionGroupId: string; serverIds?: string[] | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'startServers', input, () =>
        serverAction(input.protectionGroupId, input.serverIds, 'start', input.timeoutSeconds ?? 300),
      );
    },

    /** Stops the servers so a workload never runs on both sites; a server already gone counts as fenced. */
    async fenceServers(
      key: StepKey,
      input: { protectionGroupId: string; serverIds?: string[] | null; timeoutSeconds?: number | null },
    ) {
      return once(key, 'fenceServers', input, async () => {
        const result = await serverAction(
          input.protectionGroupId,
          input.serverIds,
          'stop',
          input.timeoutSeconds ?? 300,
        );
        ctx.log(
          'WARNING',
          `fenced servers of ${input.protectionGroupId}: ${result.servers.map((s) => `${s.serverId}=${s.status}`).join(', ')}`,
        );
        return result;
      });
    },
  };
}
