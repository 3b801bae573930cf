/**
 * The storage driver logic shared by `mock` and `pure`: DR operations expressed as FlashArray REST
 * calls on two arrays. The two drivers differ only in how a request reaches an array (in process to
 * the SQLite model, or over HTTPS to a FlashArray), so both enforce the same rules and fail the same way.
 */

import { mapLimit } from '@protector/platform';
import {
  flashArrayNameProblem,
  type Json,
  ProtectorError,
  sizeProblem,
  suffixProblem,
  volumeNameProblem,
} from '@protector/schema';
import type { ArrayClient } from './client/array-client.js';
import type {
  ArrayCheck,
  ArrayInfo,
  LinkState,
  MaterializeOptions,
  MaterializeRequest,
  RecoveryPoint,
  ReplicationGroup,
  ReplicationGroupRef,
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

export const DEFAULT_SCHEDULE: ReplicationSchedule = {
  enabled: true,
  intervalSeconds: 300,
  retention: { allForSeconds: 86_400, perDay: 4, days: 7 },
};

export abstract class FlashArrayDriver implements StorageDriver {
  abstract readonly name: 'mock' | 'pure';
  private infos: ArrayInfo[] = [];
  private readonly byName = new Map<string, ArrayClient>();

  protected constructor(
    protected readonly clients: DriverArrays,
    protected readonly log: StorageLog,
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
    for (const s of specs) {
      const problem = volumeNameProblem(s.name) ?? sizeProblem(s.sizeBytes);
      if (problem) {
        throw new ProtectorError(volumeNameProblem(s.name) ? 'INVALID_NAME' : 'INVALID_SIZE', problem, {
          volume: s.name,
        });
      }
    }
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

  async ensureReplicationGroup(
    ref: ReplicationGroupRef,
    schedule?: ReplicationSchedule,
  ): Promise<ReplicationGroup> {
    this.checkRef(ref);
    const src = this.client(ref.sourceArray);
    const dst = this.client(ref.targetArray);
    if (ref.mode === 'async') {
      const [existing] = await src.listOrEmpty<Json>('/protection-groups', { names: ref.name });
      if (!existing) {
        await src.request({ method: 'POST', path: '/protection-groups', query: { names: ref.name } });
      } else if (existing.destroyed) {
        await src.request({
          method: 'PATCH',
          path: '/protection-groups',
          query: { names: ref.name },
          body: { destroyed: false },
        });
      }
      const targets = await src.list<Json>('/protection-groups/targets', { group_names: ref.name });
      if (!targets.some((t) => (t.member as Json).name === ref.targetArray)) {
        await src.request({
          method: 'POST',
          path: '/protection-groups/targets',
          query: { group_names: ref.name, member_names: ref.targetArray },
        });
      }
      await dst.request({
        method: 'PATCH',
        path: '/protection-groups/targets',
        query: { group_names: `${ref.sourceArray}:${ref.name}` },
        body: { allowed: true },
      });
      if (schedule) await this.setSchedule(ref, schedule);
    } else {
      const [pod] = await src.listOrEmpty<Json>('/pods', { names: ref.name });
      if (!pod) await src.request({ method: 'POST', path: '/pods', query: { names: ref.name } });
      const arrays = ((pod?.arrays as Json[] | undefined) ?? []).map((a) => a.name);
      if (!arrays.includes(ref.targetArray)) {
        await src.request({
          method: 'POST',
          path: '/pods/arrays',
          query: { group_names: ref.name, member_names: ref.targetArray },
        });
      }
    }
    return (await this.getReplicationGroup(ref))!;
  }

  async getReplicationGroup(ref: ReplicationGroupRef): Promise<ReplicationGroup | null> {
    this.checkRef(ref);
    const src = this.client(ref.sourceArray);
    if (ref.mode === 'async') {
      const [group] = await src.listOrEmpty<Json>('/protection-groups', { names: ref.name });
      if (!group || group.destroyed) return null;
      const members = await src.list<Json>('/protection-groups/volumes', { group_names: ref.name });
      const sched = group.replication_schedule as { enabled: boolean; frequency: number };
      const ret = group.target_retention as { all_for_sec: number; per_day: number; days: number };
      return {
        ...pickRef(ref),
        targetName: `${ref.sourceArray}:${ref.name}`,
        volumes: members.map((m) => String((m.member as Json).name)),
        schedule: {
          enabled: sched.enabled,
          intervalSeconds: Math.round(sched.frequency / 1000),
          retention: { allForSeconds: ret.all_for_sec, perDay: ret.per_day, days: ret.days },
        },
        podArrays: [],
      };
    }
    const [pod] = await src.listOrEmpty<Json>('/pods', { names: ref.name });
    if (!pod) return null;
    const vols = await src.list<Json>('/volumes', { filter: `name='${ref.name}::*'`, destroyed: 'false' });
    return {
      ...pickRef(ref),
      targetName: ref.name,
      volumes: vols.map((v) => String(v.name)),
      schedule: { enabled: false, intervalSeconds: 0, retention: DEFAULT_SCHEDULE.retention },
      podArrays: (pod.arrays as Json[]).map((a) => ({
        array: String(a.name),
        status: a.status as 'online',
        promotionStatus: a.promotion_status as 'promoted',
      })),
    };
  }

  async deleteReplicationGroup(ref: ReplicationGroupRef): Promise<void> {
    this.checkRef(ref);
    const src = this.client(ref.sourceArray);
    if (ref.mode === 'async') {
      const [group] = await src.listOrEmpty<Json>('/protection-groups', { names: ref.name });
      if (!group) return;
      if (!group.destroyed) {
        await src.request({
          method: 'PATCH',
          path: '/protection-groups',
          query: { names: ref.name },
          body: { destroyed: true },
        });
      }
      await src.request({ method: 'DELETE', path: '/protection-groups', query: { names: ref.name } });
      return;
    }
    const group = await this.getReplicationGroup(ref);
    if (!group) return;
    if (group.volumes.length) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Pod '${ref.name}' still holds ${group.volumes.length} volume(s); remove them from the group before deleting it.`,
        { volumes: group.volumes },
      );
    }
    for (const a of group.podArrays.filter((p) => p.array !== ref.sourceArray)) {
      await src.request({
        method: 'DELETE',
        path: '/pods/arrays',
        query: { group_names: ref.name, member_names: a.array },
      });
    }
    await src.request({
      method: 'PATCH',
      path: '/pods',
      query: { names: ref.name },
      body: { destroyed: true },
    });
    await src.request({ method: 'DELETE', path: '/pods', query: { names: ref.name } });
  }

  async addVolumes(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup> {
    const group = await this.requireGroup(ref);
    const src = this.client(ref.sourceArray);
    if (ref.mode === 'async') {
      const missing = volumes.filter((v) => !group.volumes.includes(v));
      if (missing.length) {
        await src.request({
          method: 'POST',
          path: '/protection-groups/volumes',
          query: { group_names: ref.name, member_names: missing.join(',') },
        });
      }
    } else {
      for (const v of volumes) {
        if (group.volumes.includes(v) || group.volumes.includes(`${ref.name}::${v}`)) continue;
        await src.request({
          method: 'PATCH',
          path: '/volumes',
          query: { names: v },
          body: { pod: { name: ref.name } },
        });
      }
    }
    return (await this.getReplicationGroup(ref))!;
  }

  async removeVolumes(ref: ReplicationGroupRef, volumes: readonly string[]): Promise<ReplicationGroup> {
    const group = await this.requireGroup(ref);
    const src = this.client(ref.sourceArray);
    const present = volumes.filter((v) => group.volumes.includes(v));
    if (ref.mode === 'async') {
      if (present.length) {
        await src.request({
          method: 'DELETE',
          path: '/protection-groups/volumes',
          query: { group_names: ref.name, member_names: present.join(',') },
        });
      }
    } else {
      for (const v of present) {
        await src.request({ method: 'PATCH', path: '/volumes', query: { names: v }, body: { pod: null } });
      }
    }
    return (await this.getReplicationGroup(ref))!;
  }

  async setSchedule(ref: ReplicationGroupRef, schedule: ReplicationSchedule): Promise<ReplicationGroup> {
    this.checkRef(ref);
    if (!Number.isInteger(schedule.intervalSeconds) || schedule.intervalSeconds < 1) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Replication interval ${schedule.intervalSeconds} is invalid: give a whole number of seconds, at least 1.`,
      );
    }
    if (ref.mode === 'sync') return this.requireGroup(ref); // pods replicate every write; no schedule
    await this.client(ref.sourceArray).request({
      method: 'PATCH',
      path: '/protection-groups',
      query: { names: ref.name },
      body: {
        replication_schedule: { enabled: schedule.enabled, frequency: schedule.intervalSeconds * 1000 },
        target_retention: {
          all_for_sec: schedule.retention.allForSeconds,
          per_day: schedule.retention.perDay,
          days: schedule.retention.days,
        },
      },
    });
    return this.requireGroup(ref);
  }

  // ---- recovery points ----

  async replicateNow(ref: ReplicationGroupRef, opts: { suffix?: string } = {}): Promise<RecoveryPoint> {
    const group = await this.requireGroup(ref);
    const suffix = opts.suffix ?? `dr${Date.now()}`;
    const problem = suffixProblem(suffix);
    if (problem) throw new ProtectorError('INVALID_NAME', problem, { suffix });
    const link = await this.linkBetween(ref.sourceArray, ref.targetArray);
    if (link !== 'connected') {
      throw new ProtectorError(
        'REPLICATION_LINK_DOWN',
        `Replication link from '${ref.sourceArray}' to '${ref.targetArray}' is ${link}; cannot replicate '${ref.name}' now. Restore the array connection, or use the latest complete recovery point.`,
        { group: ref.name, link },
      );
    }
    if (ref.mode === 'async') {
      await this.client(ref.sourceArray).request({
        method: 'POST',
        path: '/protection-group-snapshots',
        query: { source_names: ref.name, replicate_now: 'true' },
        body: { suffix },
      });
      const [item] = await this.client(ref.targetArray).list<Json>('/protection-group-snapshots', {
        names: `${ref.sourceArray}:${ref.name}.${suffix}`,
      });
      return toAsyncPoint(ref, item!);
    }
    if (!group.volumes.length) {
      throw new ProtectorError(
        'INVALID_STATE',
        `Pod '${ref.name}' holds no volumes; there is nothing to snapshot.`,
      );
    }
    await this.client(ref.targetArray).request({
      method: 'POST',
      path: '/volume-snapshots',
      query: { source_names: group.volumes.join(',') },
      body: { suffix },
    });
    const points = await this.listRecoveryPoints(ref);
    return points.find((p) => p.name === `${ref.name}.${suffix}`)!;
  }

  async listRecoveryPoints(ref: ReplicationGroupRef): Promise<RecoveryPoint[]> {
    this.checkRef(ref);
    const dst = this.client(ref.targetArray);
    if (ref.mode === 'async') {
      const items = await dst.listOrEmpty<Json>('/protection-group-snapshots', {
        source_names: `${ref.sourceArray}:${ref.name}`,
        sort: 'created-,name-',
      });
      return items.map((i) => toAsyncPoint(ref, i));
    }
    const snaps = await dst.list<Json>('/volume-snapshots', { filter: `name='${ref.name}::*'` });
    const bySuffix = new Map<string, Json[]>();
    for (const s of snaps) {
      const suffix = String(s.suffix);
      bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), s]);
    }
    return [...bySuffix.entries()]
      .map(([suffix, list]): RecoveryPoint => {
        const created = new Date(Math.min(...list.map((s) => Number(s.created))));
        return {
          name: `${ref.name}.${suffix}`,
          group: ref.name,
          sourceArray: ref.sourceArray,
          targetArray: ref.targetArray,
          createdAt: created,
          completedAt: created,
          progress: 1,
          complete: true,
          volumes: list.map((s) => String((s.source as Json).name)),
        };
      })
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name));
  }

  async materialize(
    ref: ReplicationGroupRef,
    point: string,
    requests: readonly MaterializeRequest[],
    opts: MaterializeOptions = {},
  ): Promise<Volume[]> {
    const rp = (await this.listRecoveryPoints(ref)).find((p) => p.name === point);
    if (!rp) {
      throw new ProtectorError(
        'NOT_FOUND',
        `Recovery point '${point}' does not exist on array '${ref.targetArray}'.`,
        { point },
      );
    }
    if (!rp.complete) {
      throw new ProtectorError(
        'RECOVERY_POINT_INCOMPLETE',
        `Recovery point '${point}' is still replicating (progress ${rp.progress.toFixed(2)}); wait for it to complete or choose a complete recovery point.`,
        { point, progress: rp.progress },
      );
    }
    for (const r of requests) {
      if (!rp.volumes.includes(r.sourceVolume)) {
        throw new ProtectorError(
          'NOT_FOUND',
          `Recovery point '${point}' holds no snapshot of volume '${r.sourceVolume}'.`,
          {
            point,
            volume: r.sourceVolume,
          },
        );
      }
      const problem = volumeNameProblem(r.targetVolume);
      if (problem) throw new ProtectorError('INVALID_NAME', problem, { volume: r.targetVolume });
    }
    const dst = this.client(ref.targetArray);
    const suffix = point.slice(point.lastIndexOf('.') + 1);
    const snapshotName = (v: string) => (ref.mode === 'async' ? `${point}.${v}` : `${v}.${suffix}`);
    return mapLimit(requests, CONCURRENCY, async (r) => {
      const source = snapshotName(r.sourceVolume);
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
    if (ref.mode !== 'sync') {
      throw new ProtectorError(
        'INVALID_STATE',
        `Group '${ref.name}' replicates asynchronously; only sync (pod) groups are promoted or demoted. Materialize a recovery point instead.`,
      );
    }
    await this.client(array).request({
      method: 'PATCH',
      path: '/pods',
      query: { names: ref.name },
      body: { requested_promotion_state: state },
    });
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
          ? Math.max(0, Math.round((Date.now() - lastPoint.createdAt.getTime()) / 1000))
          : null;
    return { group: ref.name, link, lagSeconds, lastPoint, inProgress };
  }

  private async requireGroup(ref: ReplicationGroupRef): Promise<ReplicationGroup> {
    const group = await this.getReplicationGroup(ref);
    if (!group) {
      const kind = ref.mode === 'async' ? 'Protection group' : 'Pod';
      throw new ProtectorError(
        'NOT_FOUND',
        `${kind} '${ref.name}' does not exist on array '${ref.sourceArray}'.`,
        {
          group: ref.name,
        },
      );
    }
    return group;
  }

  private checkRef(ref: ReplicationGroupRef): void {
    const problem = flashArrayNameProblem(ref.name);
    if (problem) throw new ProtectorError('INVALID_NAME', problem, { group: ref.name });
    if (ref.sourceArray === ref.targetArray) {
      throw new ProtectorError(
        'BAD_USER_INPUT',
        `Group '${ref.name}' must replicate to a different array than '${ref.sourceArray}'.`,
      );
    }
    this.client(ref.sourceArray);
    this.client(ref.targetArray);
  }
}

const pickRef = (ref: ReplicationGroupRef): ReplicationGroupRef => ({
  name: ref.name,
  mode: ref.mode,
  sourceArray: ref.sourceArray,
  targetArray: ref.targetArray,
});

function toVolume(array: string, item: Json): Volume {
  const content = item.content as { origin: string; version: number } | null | undefined;
  return {
    name: String(item.name),
    array,
    serial: String(item.serial ?? item.id),
    sizeBytes: Number(item.provisioned),
    destroyed: Boolean(item.destroyed),
    createdAt: new Date(Number(item.created)),
    source: ((item.source as Json | null)?.name as string | undefined) ?? null,
    content: content ? { origin: content.origin, version: content.version } : null,
  };
}

function toAsyncPoint(ref: ReplicationGroupRef, item: Json): RecoveryPoint {
  const progress = Number(item.progress ?? 0);
  const prefix = `${String(item.name)}.`;
  return {
    name: String(item.name),
    group: ref.name,
    sourceArray: ref.sourceArray,
    targetArray: ref.targetArray,
    createdAt: new Date(Number(item.created)),
    completedAt: item.completed ? new Date(Number(item.completed)) : null,
    progress,
    complete: progress >= 1,
    volumes: ((item.volumes as Json[] | undefined) ?? []).map((v) => String(v.name).replace(prefix, '')),
  };
}
