/**
 * Site-local events (replication completed, RPO violated or restored, link state changed) and the
 * monitor that produces them by watching the array groups this site replicates to.
 */
import { randomUUID } from 'node:crypto';
import { EventHub, mapLimit } from '@protector/platform';
import { isProtectorError, rpoCompliance, type SiteEventKind } from '@protector/schema';
import type { CompletedReplication, ReplicationGroupRef, StorageDriver } from '@protector/storage-drivers';
import type { ProtectionGroupHead, ReplicationSchedule, SiteRepository } from '../db/index.js';
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

/** What the monitor knows of a group's replication to this site, as of its last poll. */
export interface WatchedReplication {
  readonly link: string;
  /** Newest complete recovery point on this site's array. */
  readonly lastPoint: {
    name: string;
    createdAt: Date;
    completedAt: Date | null;
    progress: number;
    complete: boolean;
  } | null;
  /** Seconds since `lastPoint` was created, now; null without one (0 for a connected pod). */
  lagSeconds(): number | null;
}

/** What the monitor knows of one group: the ref it was read with (a new direction is read again). */
interface Known {
  readonly ref: string;
  readonly mode: ReplicationGroupRef['mode'];
  link: string;
  point: WatchedReplication['lastPoint'];
}

/** One group's replication to this site, as the site reports it (`SiteStorage.replicationGroups`). */
export interface GroupReplicationState {
  readonly pg: ProtectionGroupHead;
  /** Its array group (protection group or pod). */
  readonly name: string;
  readonly policy: ReplicationSchedule | null;
  /** Newest complete recovery point on this site's array; null without one or when unreadable. */
  readonly lastPoint: WatchedReplication['lastPoint'];
  readonly lagSeconds: number | null;
}

/** The replication monitor: its poll, and what it knows of each group (for storage state reads). */
export interface ReplicationMonitor {
  stop(): void;
  pollNow(): Promise<void>;
  /**
   * Every group's replication to this site, from what the monitor knows: the arrays are not asked (a
   * health check costs no array request per group). A group the monitor has not read yet (just after
   * start, or just protected) has no point and no lag yet: its RPO compliance is UNKNOWN until then.
   */
  groups(): Promise<GroupReplicationState[]>;
}

/** Every group is listed again at least this often, even when the groups' mark says nothing changed. */
const RELIST_MS = 60_000;

/**
 * Every group of the site (its head) and every policy, listed again only when the groups changed: each
 * call asks for the groups' mark (one aggregate query), and lists (two queries) only when it moved or
 * the last listing is older than `RELIST_MS`. A poll with nothing new costs one small query, not a
 * listing of every group.
 */
function groupsReader(repo: SiteRepository) {
  let last: {
    mark: string;
    at: number;
    groups: ProtectionGroupHead[];
    policies: Map<string, ReplicationSchedule>;
  } | null = null;
  return async () => {
    // The mark first: a change made while listing moves it, so the next call lists again.
    const mark = await repo.protectionGroupsMark();
    if (last && last.mark === mark && Date.now() - last.at < RELIST_MS) return last;
    const [groups, policies] = await Promise.all([
      repo.listProtectionGroupHeads(),
      repo.getReplicationSchedules(),
    ]);
    last = { mark, at: Date.now(), groups, policies };
    return last;
  };
}

/** An async group without a stored array group name was never protected: nothing replicates. */
const unprotected = (pg: ProtectionGroupHead) => !pg.storageGroupName && pg.replicationType === 'async';

/**
 * Watches replication to this site for every group and publishes changes (replication completed, RPO
 * violated or restored, link state changed); records `lastReplicationAt` on the replica when a newer
 * complete point lands. Never overlaps itself.
 *
 * Its cost follows what changed, not the number of groups: a group's state is read from the arrays
 * once (when the monitor first sees it, or its direction changed); after that, one set-based listing
 * per poll (`completedReplications`) returns only the points that completed since the previous poll,
 * and lags and RPOs are computed from what is known. The groups themselves are listed from the
 * database only when they changed (`groupsReader`). Sync groups (pods) are read every poll.
 */
export function startReplicationMonitor(deps: {
  repo: SiteRepository;
  driver: StorageDriver;
  events: SiteEvents;
  siteName: string;
  /** This site's and the peer's array, by their current names. */
  arrays: Pick<SiteContext, 'localArray' | 'peerArray' | 'arrayTokens'>;
  intervalMs: number;
  /** Groups read from the arrays at once when first seen (`[storage] concurrency`). @default 1 */
  concurrency?: number;
  log: (level: 'INFO' | 'WARNING' | 'ERROR', message: string) => void;
}): ReplicationMonitor {
  // Points completed before the monitor started are history, not news; later ones are reported even when
  // they are the first point of a group (the group's first replication).
  const startedAt = Date.now();
  const allGroups = groupsReader(deps.repo);
  const violated = new Map<string, boolean>();
  const known = new Map<string, Known>();
  // Array time up to which completions were read (per target array): the next poll reads from there.
  const since = new Map<string, Date>();
  let link: string | null = null;
  let running: Promise<void> | null = null;
  const refKey = (r: ReplicationGroupRef) => `${r.mode}\n${r.sourceArray}\n${r.targetArray}\n${r.name}`;

  const watched = (k: Known): WatchedReplication => ({
    link: k.link,
    lastPoint: k.point,
    // A connected pod mirrors every write: no lag.
    lagSeconds: () =>
      k.mode === 'sync' && k.link === 'CONNECTED'
        ? 0
        : k.point === null
          ? null
          : Math.max(0, Math.round((Date.now() - k.point.createdAt.getTime()) / 1000)),
  });

  // `lastReplicationAt` of the points a poll saw, recorded together at its end (one transaction).
  const toRecord: { id: string; at: Date }[] = [];

  /** A newer complete point of a group: the event (unless history) and, at the poll's end, `lastReplicationAt`. */
  const landed = (
    pg: ProtectionGroupHead,
    name: string,
    point: NonNullable<WatchedReplication['lastPoint']>,
    rpo: number | null,
    state: Known,
  ) => {
    const first = state.point === null && !known.has(pg.id);
    if (state.point?.name === point.name) return;
    if (state.point && point.createdAt < state.point.createdAt) return;
    if (!first || (point.completedAt?.getTime() ?? 0) >= startedAt) {
      deps.events.publish({
        kind: 'REPLICATION_COMPLETED',
        protectionGroupId: pg.id,
        projectId: pg.projectId,
        storageGroupName: name,
        recoveryPoint: pointJson(point),
        lagSeconds: Math.max(0, Math.round((Date.now() - point.createdAt.getTime()) / 1000)),
        rpoMinutes: rpo,
        linkState: state.link,
        previousLinkState: null,
        message: `Recovery point ${point.name} of '${pg.name}' completed replication.`,
      });
    }
    state.point = point;
    if (!pg.lastReplicationAt || pg.lastReplicationAt < point.createdAt)
      toRecord.push({ id: pg.id, at: point.createdAt });
  };

  const checkRpo = (pg: ProtectionGroupHead, name: string, rpo: number | null, w: WatchedReplication) => {
    const lag = w.lagSeconds();
    if (rpo === null || lag === null) return;
    const isViolated = rpoCompliance(lag, rpo) === 'VIOLATED';
    if (isViolated === (violated.get(pg.id) ?? false)) return;
    violated.set(pg.id, isViolated);
    deps.events.publish({
      kind: isViolated ? 'RPO_VIOLATED' : 'RPO_RESTORED',
      protectionGroupId: pg.id,
      projectId: pg.projectId,
      storageGroupName: name,
      recoveryPoint: w.lastPoint ? pointJson(w.lastPoint) : null,
      lagSeconds: lag,
      rpoMinutes: rpo,
      linkState: w.link,
      previousLinkState: null,
      message: isViolated
        ? `'${pg.name}' violates its RPO: the newest complete recovery point is ${lag} s old (RPO ${rpo} min).`
        : `'${pg.name}' meets its RPO again (lag ${lag} s).`,
    });
  };

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
      const local = deps.arrays.localArray;
      // Learn where the array's completions stand before reading any group, so nothing completing
      // during the reads below is missed by the next listing.
      // (An array that never completed one: everything from now on is new.)
      if (!since.has(local)) {
        const { until } = await deps.driver.completedReplications(local, [], null);
        since.set(local, until ?? new Date(0));
      }
      const live = new Set<string>();
      // Groups already read once: watched together, by one listing of what completed since.
      const watchedAsync: { pg: ProtectionGroupHead; ref: ReplicationGroupRef; rpo: number | null }[] = [];
      const { groups, policies } = await allGroups();
      // Groups seen for the first time (all of them, at start), and sync groups: read below.
      const firstReads: {
        pg: ProtectionGroupHead;
        name: string;
        ref: ReplicationGroupRef;
        rpo: number | null;
        state: Known | undefined;
      }[] = [];
      for (const pg of groups) {
        if (unprotected(pg)) continue;
        live.add(pg.id);
        const name = storageGroupNameOf(pg);
        const rpo = policies.get(pg.id)?.rpoMinutes ?? null;
        // Watch the direction where this site is the target: that is where recovery points land.
        const ref = groupRef(deps.arrays, pg, 'to-here');
        const state = known.get(pg.id);
        if (ref.mode === 'async' && state?.ref === refKey(ref)) {
          state.link = now;
          watchedAsync.push({ pg, ref, rpo });
          continue;
        }
        firstReads.push({ pg, name, ref, rpo, state });
      }
      // Async groups seen for the first time (every group, at start) are read together: one listing of
      // every completed transfer to this array (and their snapshots, 50 a request), not four requests
      // a group. Sync groups, and async ones when that listing fails (e.g. one group's own array token
      // is refused), are read one by one, a few at once, each failure its own.
      const firstAsync = firstReads.filter((f) => f.ref.mode === 'async');
      const everything = firstAsync.length
        ? await deps.driver
            .completedReplications(
              local,
              firstAsync.map((f) => f.ref),
              new Date(0),
            )
            .catch((err: unknown) => {
              if (!isProtectorError(err)) throw err;
              deps.log(
                'WARNING',
                `replication monitor: reading new groups together: ${err.message}; one by one`,
              );
              return null;
            })
        : null;
      const oneByOne = everything ? firstReads.filter((f) => f.ref.mode !== 'async') : firstReads;
      if (everything) {
        for (const { pg, name, ref, rpo, state } of firstAsync) {
          const next: Known = { ref: refKey(ref), mode: ref.mode, link: now, point: state?.point ?? null };
          const done = everything.completed.get(ref.name);
          if (done) landed(pg, name, completedPoint(done), rpo, next);
          known.set(pg.id, next);
          checkRpo(pg, name, rpo, watched(next));
        }
      }
      await mapLimit(oneByOne, deps.concurrency ?? 1, async ({ pg, name, ref, rpo, state }) => {
        let status: Awaited<ReturnType<StorageDriver['replicationStatus']>>;
        try {
          status = await deps.driver.replicationStatus(ref);
        } catch (err) {
          if (isProtectorError(err)) return;
          throw err;
        }
        const next: Known = {
          ref: refKey(ref),
          mode: ref.mode,
          link: linkState(status.link),
          point: state?.point ?? null,
        };
        if (status.lastPoint) landed(pg, name, status.lastPoint, rpo, next);
        known.set(pg.id, next);
        checkRpo(pg, name, rpo, watched(next));
      });
      if (watchedAsync.length) {
        const from = since.get(local)!;
        const seen = await deps.driver.completedReplications(
          local,
          watchedAsync.map((w) => w.ref),
          from,
        );
        if (seen.until && seen.until > from) since.set(local, seen.until);
        for (const { pg, ref, rpo } of watchedAsync) {
          const state = known.get(pg.id)!;
          const done = seen.completed.get(ref.name);
          if (done) landed(pg, ref.name, completedPoint(done), rpo, state);
          checkRpo(pg, ref.name, rpo, watched(state));
        }
      }
      for (const id of known.keys()) if (!live.has(id)) known.delete(id);
    } catch (err) {
      deps.log('WARNING', `replication monitor: ${(err as Error).message}`);
    } finally {
      // What was seen is recorded even when the poll stopped half-way (a group deleted meanwhile is skipped).
      await deps.repo.recordReplications(toRecord.splice(0)).catch((err: unknown) => {
        deps.log('WARNING', `replication monitor: recording replications: ${(err as Error).message}`);
      });
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
  return {
    stop: () => clearInterval(timer),
    pollNow,
    groups: async () => {
      const { groups, policies } = await allGroups();
      return groups.map((pg): GroupReplicationState => {
        const state = known.get(pg.id);
        return {
          pg,
          name: storageGroupNameOf(pg),
          policy: policies.get(pg.id) ?? null,
          lastPoint: state?.point ?? null,
          lagSeconds: state ? watched(state).lagSeconds() : null,
        };
      });
    },
  };
}

/** A completed replication as the recovery point it landed. */
const completedPoint = (done: CompletedReplication): NonNullable<WatchedReplication['lastPoint']> => ({
  name: done.point,
  createdAt: done.createdAt,
  completedAt: done.completedAt,
  progress: 1,
  complete: true,
});

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
