/**
 * Site-local events (replication completed, RPO violated or restored, link state changed) and the
 * monitor that produces them by watching the array groups this site replicates to.
 */
import { randomUUID } from 'node:crypto';
import { EventHub } from '@protector/platform';
import { isProtectorError, rpoCompliance, type SiteEventKind } from '@protector/schema';
import type { StorageDriver } from '@protector/storage-drivers';
import type { SiteRepository } from '../db/index.js';
import { groupRef, type SiteContext, storageGroupNameOf } from './context.js';

export type { SiteEventKind };

export interface SiteEvent {
  readonly id: string;
  readonly kind: SiteEventKind;
  readonly occurredAt: string;
  readonly protectionGroupId: string | null;
  /** The group's project (not part of the GraphQL event): who may receive the event. */
  readonly projectId: string | null;
  readonly storageGroupName: string | null;
  readonly recoveryPoint: {
    name: string;
    createdAt: string;
    completedAt: string | null;
    progress: number;
    complete: boolean;
  } | null;
  readonly lagSeconds: number | null;
  readonly rpoMinutes: number | null;
  readonly linkState: string | null;
  readonly previousLinkState: string | null;
  readonly message: string;
}

/** The site's event hub; `publish` stamps each event with an id and the time. */
export class SiteEvents extends EventHub<SiteEvent> {
  override publish(event: Omit<SiteEvent, 'id' | 'occurredAt'>): void {
    super.publish({ id: randomUUID(), occurredAt: new Date().toISOString(), ...event });
  }
}

const linkState = (s: string) => s.toUpperCase();

/**
 * Polls replication status of every group replicating to (or from) this site and publishes changes.
 * Also records `lastReplicationAt` on the replica when a newer complete point lands.
 */
export function startReplicationMonitor(deps: {
  repo: SiteRepository;
  driver: StorageDriver;
  events: SiteEvents;
  siteName: string;
  /** This site's and the peer's array, by their current names. */
  arrays: Pick<SiteContext, 'localArray' | 'peerArray' | 'arrayTokens'>;
  intervalMs: number;
  log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
}): { stop(): void; pollNow(): Promise<void> } {
  const lastPoint = new Map<string, string>();
  // Points completed before the monitor started are history, not news; later ones are reported even when
  // they are the first point of a group (the group's first replication).
  const startedAt = Date.now();
  const violated = new Map<string, boolean>();
  let link: string | null = null;
  let running: Promise<void> | null = null;

  const poll = async () => {
    try {
      const validation = await deps.driver.validate();
      const now = linkState(validation.link);
      if (link !== null && now !== link) {
        deps.events.publish({
          kind: 'LINK_STATE_CHANGED',
          protectionGroupId: null,
          projectId: null,
          storageGroupName: null,
          recoveryPoint: null,
          lagSeconds: null,
          rpoMinutes: null,
          linkState: now,
          previousLinkState: link,
          message: `Replication link ${deps.arrays.localArray} <-> ${deps.arrays.peerArray} changed from ${link} to ${now}.`,
        });
        deps.log('WARNING', `replication link changed from ${link} to ${now}`);
      }
      link = now;
      // Every group, a page at a time (a site may hold thousands), with the page's policies in one read.
      for (let after: string | null = null, more = true; more; ) {
        const page = await deps.repo.listProtectionGroups({}, { first: 500, after });
        after = page.pageInfo.endCursor;
        more = page.pageInfo.hasNextPage;
        const policies = await deps.repo.getReplicationPolicies(page.nodes.map((pg) => pg.id));
        for (const pg of page.nodes) {
          if (!pg.storageGroupName && pg.replicationType === 'async') continue;
          const name = storageGroupNameOf(pg);
          // Watch the direction where this site is the target: that is where recovery points land.
          const ref = groupRef(deps.arrays, pg, 'to-here');
          let status: Awaited<ReturnType<StorageDriver['replicationStatus']>>;
          try {
            status = await deps.driver.replicationStatus(ref);
          } catch (err) {
            if (isProtectorError(err)) continue;
            throw err;
          }
          const rpo = policies.get(pg.id)?.rpoMinutes ?? null;
          const p = status.lastPoint;
          if (p && lastPoint.get(pg.id) !== p.name) {
            if (lastPoint.has(pg.id) || (p.completedAt?.getTime() ?? 0) >= startedAt) {
              deps.events.publish({
                kind: 'REPLICATION_COMPLETED',
                protectionGroupId: pg.id,
                projectId: pg.projectId,
                storageGroupName: name,
                recoveryPoint: pointJson(p),
                lagSeconds: status.lagSeconds,
                rpoMinutes: rpo,
                linkState: linkState(status.link),
                previousLinkState: null,
                message: `Recovery point ${p.name} of '${pg.name}' completed replication.`,
              });
            }
            lastPoint.set(pg.id, p.name);
            if (!pg.lastReplicationAt || pg.lastReplicationAt < p.createdAt)
              await deps.repo.recordReplication(pg.id, p.createdAt);
          }
          if (rpo !== null && status.lagSeconds !== null) {
            const isViolated = rpoCompliance(status.lagSeconds, rpo) === 'VIOLATED';
            if (isViolated !== (violated.get(pg.id) ?? false)) {
              deps.events.publish({
                kind: isViolated ? 'RPO_VIOLATED' : 'RPO_RESTORED',
                protectionGroupId: pg.id,
                projectId: pg.projectId,
                storageGroupName: name,
                recoveryPoint: p ? pointJson(p) : null,
                lagSeconds: status.lagSeconds,
                rpoMinutes: rpo,
                linkState: linkState(status.link),
                previousLinkState: null,
                message: isViolated
                  ? `'${pg.name}' violates its RPO: the newest complete recovery point is ${status.lagSeconds} s old (RPO ${rpo} min).`
                  : `'${pg.name}' meets its RPO again (lag ${status.lagSeconds} s).`,
              });
            }
            violated.set(pg.id, isViolated);
          }
        }
      }
    } catch (err) {
      deps.log('WARNING', `replication monitor: ${(err as Error).message}`);
    }
  };

  const pollNow = () => {
    running ??= poll().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void pollNow(), deps.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), pollNow };
}

export function pointJson(p: {
  name: string;
  createdAt: Date;
  completedAt: Date | null;
  progress: number;
  complete: boolean;
}) {
  return {
    name: p.name,
    createdAt: p.createdAt.toISOString(),
    completedAt: p.completedAt?.toISOString() ?? null,
    progress: p.progress,
    complete: p.complete,
  };
}
