/**
 * ServerWatch's first look: a server just acted on is looked at soon, not at the next (long) tick, and
 * waiters that come while the loop waits bring its next list forward. The lister is an in-memory
 * project of servers answering `changes-since` as Nova does (`updated >= changes-since`).
 */
import { describe, expect, it } from 'vitest';
import { ServerWatch } from './server-watch.js';
import type { Server } from './types.js';

/** One project's servers, each `updated` moved on every change (Nova's clock is this counter). */
function project() {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const servers = new Map<string, Server>();
  const stamp = () => {
    clock += 1000;
    return new Date(clock).toISOString();
  };
  const lists: string[] = [];
  return {
    lists,
    put(id: string, status: Server['status']): Server {
      const s = {
        id,
        name: id,
        status,
        tenant_id: 'p1',
        updated: stamp(),
      } as Server;
      servers.set(id, s);
      return s;
    },
    changed: async (projectId: string, since: string) => {
      lists.push(since);
      return [...servers.values()].filter(
        (s) => s.tenant_id === projectId && Date.parse(s.updated) >= Date.parse(since),
      );
    },
  };
}

const active = (s: Server) => s.status === 'ACTIVE';
const errored = (s: Server) => (s.status === 'ERROR' ? 'ERROR' : undefined);

describe('ServerWatch', () => {
  it('looks at a server just acted on soon, though its ticks are a minute apart', async () => {
    const p = project();
    const watch = new ServerWatch(p.changed, 60_000, 5);
    const before = p.put('vm-1', 'SHUTOFF');
    p.put('vm-1', 'ACTIVE'); // started at once, as the simulated cloud and some Nova actions do
    const seen = await watch.wait(before, 'Starting vm-1', active, errored, 120_000);
    expect(seen.status).toBe('ACTIVE');
    expect(p.lists).toHaveLength(1);
  });

  it('a waiter that comes while the loop waits for its next tick brings that tick forward', async () => {
    const p = project();
    const watch = new ServerWatch(p.changed, 60_000, 5);
    // vm-1 stays BUILD past its first look: the loop then waits its whole minute.
    const slow = watch.wait(p.put('vm-1', 'BUILD'), 'Booting vm-1', active, errored, 120_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(p.lists).toHaveLength(1);
    const before = p.put('vm-2', 'SHUTOFF');
    p.put('vm-2', 'ACTIVE');
    p.put('vm-1', 'ACTIVE');
    // Without the early look, both would be seen a minute later (past this test's timeout).
    const [a, b] = await Promise.all([slow, watch.wait(before, 'Starting vm-2', active, errored, 120_000)]);
    expect([a.status, b.status]).toEqual(['ACTIVE', 'ACTIVE']);
    // One list answered both.
    expect(p.lists).toHaveLength(2);
  });
});
