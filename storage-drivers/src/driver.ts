/**
 * The storage driver logic shared by `mock` and `pure`: DR operations expressed as FlashArray REST
 * calls on two arrays. The two drivers differ only in how a request reaches an array (in process to
 * the SQLite model, or over HTTPS to a FlashArray), so both enforce the same rules and fail the same way.
 * What each replication mode does on the arrays is in `driver/async-replication.ts` (protection
 * groups) and `driver/sync-replication.ts` (pods); the input checks are in `driver/validation.ts`.
 */

import { type Clock, mapLimit, systemClock } from '@protector/platform';
import { type Json, ProtectorError } from '@protector/schema';
import type { ArrayClient } from './client/array-client.js';
import { protectionGroups } from './driver/async-replication.js';
import { pickRef, toVolume } from './driver/mapping.js';
import { DEFAULT_SCHEDULE, type GroupArrays, type ReplicationMechanism } from './driver/mechanism.js';
import { pods } from './driver/sync-replication.js';
import {
  checkGroupRef,
  checkInterval,
  checkMaterialize,
  checkSuffix,
  checkVolumeSpecs,
} from './driver/validation.js';
import type {
  ArrayCheck,
  ArrayInfo,
  LinkState,
  MaterializeOptions,
  MaterializeRequest,
  RecoveryPoint,
  ReplicationGroup,
  ReplicationGroupRef,
  ReplicationMode,
  ReplicationSchedule,
  ReplicationStatus,
  StorageDriver,
  StorageValidation,
  Volume,
  VolumeSpec,
} from './types.js';

/** Where driver log lines go; `logger` is the dotted logger name, e.g. `protector.engine.storage.mock`. */
export type StorageLog = (level: 'INFO' | 'WARNING' | 'ERROR', logger: string, message: string) => void;

export const stderrLog: StorageLog = (level, logger, message) => {
  process.stderr.write(`${new Date().toISOString()} ${level} ${logger} [-] ${message}\n`);
};

export interface DriverArrays {
  readonly primary: ArrayClient;
  readonly secondary: ArrayClient;
}

/** How many requests a bulk operation keeps in flight per array. */
const CONCURRENCY = 16;

/** The arrays-side implementation of a replication mode. */
function mechanismFor(mode: ReplicationMode): ReplicationMechanism {
  switch (mode) {
    case 'async':
      return protectionGroups;
    case 'sync':
      return pods;
    default: {
      const unreachable: never = mode;
      throw new ProtectorError('BAD_USER_INPUT', `Unknown replication mode '${String(unreachable)}'.`);
    }
  }
}

export abstract class FlashArrayDriver implements StorageDriver {
  abstract readonly name: 'mock' | 'pure';
  private infos: ArrayInfo[] = [];
  private readonly byName = new Map<string, ArrayClient>();

  protected constructor(
    protected readonly clients: DriverArrays,
    protected readonly log: StorageLog,
    /** Names default snapshot suffixes and measures replication lag. */
    protected readonly clock: Clock = systemClock,
  ) {}

  /** The line logged once both arrays answered, as in the product docs. */
  protected abstract initializedMessage(): string;

  async initialize(): Promise<void> {
    this.infos = [];
    this.byName.clear();
    for (const role of ['primary', 'secondary'] as const) {
      const client = this.clients[role];
      const [array] = await client.list<Json>('/arrays');
      if (!array)
        throw new ProtectorError('STORAGE_ERROR', `Array at ${client.endpoint} returned no array identity.`);
      const info: ArrayInfo = {
        name: String(array.name),
        id: String(array.id),
        role,
        endpoint: client.endpoint,
        version: String(array.version ?? ''),
      };
      this.infos.push(info);
      this.byName.set(info.name, client);
    }
    this.log('INFO', `protector.engine.storage.${this.name}`, this.initializedMessage());
  }

  async close(): Promise<void> {
    await Promise.all([this.clients.primary.transport.close(), this.clients.secondary.transport.close()]);
  }

  arrays(): readonly ArrayInfo[] {
    if (!this.infos.length)
      throw new ProtectorError(
        'INVALID_STATE',
        'The storage driver is not initialized; call initialize() first.',
      );
    return this.infos;
  }

  private client(array: string): ArrayClient {
    const client = this.byName.get(array);
    if (!client) {
      const known = this.arrays()
        .map((a) => a.name)
        .join(', ');
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Array '${array}' is not one of this driver's arrays (${known}).`,
        { array },
      );
    }
    return client;
  }

  async validate(): Promise<StorageValidation> {
    const checks: ArrayCheck[] = [];
    const problems: string[] = [];
    for (const role of ['primary', 'secondary'] as const) {
      const client = this.clients[role];
      const info = this.infos.find((i) => i.role === role);
      try {
        await client.list('/arrays');
        checks.push({
          array: info?.name ?? client.endpoint,
          role,
          endpoint: client.endpoint,
          reachable: true,
          authenticated: true,
          error: null,
        });
      } catch (err) {
        const e = err as ProtectorError;
        const authFailed = e.code === 'STORAGE_AUTH_FAILED';
        checks.push({
          array: info?.name ?? client.endpoint,
          role,
          endpoint: client.endpoint,
          reachable: authFailed,
          authenticated: false,
          error: e.message,
        });
        problems.push(`${role} array: ${e.message}`);
      }
    }
    let link: LinkState = 'unknown';
    const [primary, secondary] = this.infos;
    if (primary && secondary && checks[0]?.authenticated) {
      link = await this.linkBetween(primary.name, secondary.name);
      if (link !== 'connected') {
        problems.push(`Replication link from '${primary.name}' to '${secondary.name}' is ${link}.`);
      }
    }
    return { ok: problems.length === 0, driver: this.name, arrays: checks, link, problems };
  }

  private async linkBetween(source: string, target: string): Promise<LinkState> {
    const conns = await this.client(source).list<Json>('/array-connections');
    const conn = conns.find((c) => (c.remote as Json | undefined)?.name === target);
    return conn ? (String(conn.status) as LinkState) : 'disconnected';
  }

  // ---- volumes ----

  async createVolumes(array: string, specs: readonly VolumeSpec[]): Promise<Volume[]> {
    const client = this.client(array);
    checkVolumeSpecs(specs);
    return mapLimit(specs, CONCURRENCY, async (s) => {
      const res = await client.request<{ items: Json[] }>({
        method: 'POST',
        path: '/volumes',
        query: { names: s.name },
        body: { provisioned: s.sizeBytes },
      });
      return toVolume(array, res.items[0]!);
    });
  }

  async getVolumes(array: string, names: readonly string[]): Promise<Volume[]> {
    if (!names.length) return [];
    const items = await this.client(array).list<Json>('/volumes', { names: names.join(',') });
    return items.map((i) => toVolume(array, i));
  }

  async destroyVolumes(
    array: string,
    names: readonly string[],
    opts: { eradicate?: boolean } = {},
  ): Promise<void> {
    const client = this.client(array);
    await mapLimit(names, CONCURRENCY, async (name) => {
      const [vol] = await client.listOrEmpty<Json>('/volumes', { names: name });
      if (!vol) return;
      if (!vol.destroyed) {
        await client.request({
          method: 'PATCH',
          path: '/volumes',
          query: { names: name },
          body: { destroyed: true },
        });
      }
      if (opts.eradicate)
        await client.request({ method: 'DELETE', path: '/volumes', query: { names: name } });
    });
  }

  // ---- replication groups ----

  /** Checks the ref and picks its arrays' clients and its mode's mechanism. */
  private group(ref: ReplicationGroupRef): GroupArrays & { readonly mechanism: ReplicationMechanism } {
    this.checkRef(ref);
    return {
      ref,
      src: this.client(ref.sourceArray),
      dst: this.client(ref.targetArray),
      mechanism: mechanismFor(ref.mode),
    };
  }

  async ensureReplicationGroup(
    ref: ReplicationGroupRef,
    schedule?: ReplicationSchedule,
  ): Promise<ReplicationGroup> {
    const g = this.group(ref);
    await g.mechanism.ensure(g);
    if (schedule && g.mechanism.applySchedule) await this.setSchedule(ref, schedule);
    return (await this.getReplicationGroup(ref))!;
  }

  async getReplicationGroup(ref: ReplicationGroupRef): Promise<ReplicationGroup | null> {
    const g = this.group(ref);
    return g.mechanism.get(g);
  }

  async deleteReplicationGroup(ref: ReplicationGroupRef): Promise<void> {
    const g = this.group(ref);
    await g.mechanism.delete(g);
  }

  async addVolumes(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup> {
    const group = await this.requireGroup(ref);
    const g = this.group(ref);
    await g.mechanism.add(g, group, volumes);
    return (await this.getReplicationGroup(ref))!;
  }

  async removeVolumes(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup> {
    const group = await this.requireGroup(ref);
    const g = this.group(ref);
    const present = volumes.filter((v) => group.volumes.includes(v));
    await g.mechanism.remove(g, group, present);
    return (await this.getReplicationGroup(ref))!;
  }

  async setSchedule(ref: ReplicationGroupRef, schedule: ReplicationSchedule): Promise<ReplicationGroup> {
    const g = this.group(ref);
    checkInterval(schedule);
    if (g.mechanism.applySchedule) await g.mechanism.applySchedule(g, schedule);
    return this.requireGroup(ref);
  }

  // ---- recovery points ----

  async replicateNow(ref: ReplicationGroupRef, opts: { suffix?: string } = {}): Promise<RecoveryPoint> {
    const group = await this.requireGroup(ref);
    const suffix = opts.suffix ?? `dr${this.clock.now()}`;
    checkSuffix(suffix);
    const link = await this.linkBetween(ref.sourceArray, ref.targetArray);
    if (link !== 'connected') {
      throw new ProtectorError(
        'REPLICATION_LINK_DOWN',
        `Replication link from '${ref.sourceArray}' to '${ref.targetArray}' is ${link}; cannot replicate '${ref.name}' now. Restore the array connection, or use the latest complete recovery point.`,
        { group: ref.name, link },
      );
    }
    const g = this.group(ref);
    return g.mechanism.snapshot(g, group, suffix);
  }

  async listRecoveryPoints(ref: ReplicationGroupRef): Promise<RecoveryPoint[]> {
    const g = this.group(ref);
    return g.mechanism.points(g);
  }

  async materialize(
    ref: ReplicationGroupRef,
    point: string,
    requests: readonly MaterializeRequest[],
    opts: MaterializeOptions = {},
  ): Promise<Volume[]> {
    const listed = (await this.listRecoveryPoints(ref)).find((p) => p.name === point);
    checkMaterialize(ref, point, listed, requests);
    const dst = this.client(ref.targetArray);
    const mechanism = mechanismFor(ref.mode);
    return mapLimit(requests, CONCURRENCY, async (r) => {
      const source = mechanism.volumeSnapshot(point, r.sourceVolume);
      try {
        const res = await dst.request<{ items: Json[] }>({
          method: 'POST',
          path: '/volumes',
          query: { names: r.targetVolume, ...(opts.overwrite ? { overwrite: 'true' } : {}) },
          body: { source: { name: source } },
        });
        return toVolume(ref.targetArray, res.items[0]!);
      } catch (err) {
        // A repeated materialize (after a crash) finds its own earlier copy: that is success.
        if (err instanceof ProtectorError && err.code === 'ALREADY_EXISTS') {
          const [existing] = await dst.listOrEmpty<Json>('/volumes', { names: r.targetVolume });
          if (existing && !existing.destroyed && (existing.source as Json | null)?.name === source) {
            return toVolume(ref.targetArray, existing);
          }
        }
        throw err;
      }
    });
  }

  // ---- pods and direction ----

  promote(ref: ReplicationGroupRef, array: string): Promise<ReplicationGroup> {
    return this.setPromotion(ref, array, 'promoted');
  }

  demote(ref: ReplicationGroupRef, array: string): Promise<ReplicationGroup> {
    return this.setPromotion(ref, array, 'demoted');
  }

  private async setPromotion(ref: ReplicationGroupRef, array: string, state: 'promoted' | 'demoted') {
    this.checkRef(ref);
    const mechanism = mechanismFor(ref.mode);
    if (!mechanism.setPromotion) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Group '${ref.name}' replicates asynchronously; only sync (pod) groups are promoted or demoted. Materialize a recovery point instead.`,
      );
    }
    await mechanism.setPromotion(this.client(array), ref, state);
    return (await this.getReplicationGroup({
      ...ref,
      sourceArray: array,
      targetArray: array === ref.sourceArray ? ref.targetArray : ref.sourceArray,
    }))!;
  }

  async reverseReplication(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup> {
    this.checkRef(ref);
    const reversed: ReplicationGroupRef = {
      ...pickRef(ref),
      sourceArray: ref.targetArray,
      targetArray: ref.sourceArray,
    };
    if (ref.mode === 'sync') {
      await this.promote(reversed, reversed.sourceArray);
      return this.addVolumes(reversed, volumes);
    }
    let schedule: ReplicationSchedule | undefined;
    try {
      const old = await this.getReplicationGroup(ref);
      if (old) {
        schedule = old.schedule;
        if (old.schedule.enabled) await this.setSchedule(ref, { ...old.schedule, enabled: false });
      }
    } catch (err) {
      // The old source may still be down; reprotect proceeds and its schedule is disabled on return.
      if (!(err instanceof ProtectorError && err.code === 'STORAGE_UNREACHABLE')) throw err;
    }
    const group = await this.ensureReplicationGroup(reversed, {
      ...(schedule ?? DEFAULT_SCHEDULE),
      enabled: true,
    });
    // Exactly these volumes: a group reused from an earlier direction may still hold volumes replaced since.
    const stale = group.volumes.filter((v) => !volumes.includes(v));
    if (stale.length) await this.removeVolumes(reversed, stale);
    return this.addVolumes(reversed, volumes);
  }

  async replicationStatus(ref: ReplicationGroupRef): Promise<ReplicationStatus> {
    this.checkRef(ref);
    let link: LinkState;
    try {
      link = await this.linkBetween(ref.sourceArray, ref.targetArray);
    } catch (err) {
      if (!(err instanceof ProtectorError && err.code === 'STORAGE_UNREACHABLE')) throw err;
      link = 'disconnected';
    }
    const points = await this.listRecoveryPoints(ref);
    const lastPoint = points.find((p) => p.complete) ?? null;
    const inProgress =
      points.find((p) => !p.complete && (!lastPoint || p.createdAt >= lastPoint.createdAt)) ?? null;
    const lagSeconds =
      ref.mode === 'sync' && link === 'connected'
        ? 0
        : lastPoint
          ? Math.max(0, Math.round((this.clock.now() - lastPoint.createdAt.getTime()) / 1000))
          : null;
    return { group: ref.name, link, lagSeconds, lastPoint, inProgress };
  }

  private async requireGroup(ref: ReplicationGroupRef): Promise<ReplicationGroup> {
    const group = await this.getReplicationGroup(ref);
    if (!group) {
      throw new ProtectorError(
        'NOT_FOUND',
        `${mechanismFor(ref.mode).kind} '${ref.name}' does not exist on array '${ref.sourceArray}'.`,
        {
          group: ref.name,
        },
      );
    }
    return group;
  }

  /** A valid ref between this driver's two arrays. */
  private checkRef(ref: ReplicationGroupRef): void {
    checkGroupRef(ref);
    this.client(ref.sourceArray);
    this.client(ref.targetArray);
  }
}
