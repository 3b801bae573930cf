/**
 * The storage driver logic shared by `mock` and `pure`: DR operations expressed as FlashArray REST
 * calls on two arrays. The two drivers differ only in how a request reaches an array (in process to
 * the SQLite model, or over HTTPS to a FlashArray), so both enforce the same rules and fail the same way.
 * What each replication mode does on the arrays is in `driver/async-replication.ts` (protection
 * groups) and `driver/sync-replication.ts` (pods); the input checks are in `driver/validation.ts`.
 */

import { type Clock, mapLimit, systemClock } from '@protector/platform';
import { flashArrayNameProblem, type Json, ProtectorError } from '@protector/schema';
import type { ArrayClient } from './client/array-client.js';
import { protectionGroups } from './driver/async-replication.js';
import { pickRef, replicaName, toVolume } from './driver/mapping.js';
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
  CompletedReplication,
  CompletedReplications,
  InitializeOptions,
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
/** Array requests a driver sends at once for bulk volume work, unless configured. */
export const DEFAULT_CONCURRENCY = 16;

/** A driver's `concurrency` option: a whole number from 1 (default DEFAULT_CONCURRENCY). */
export function checkConcurrency(value: number | undefined): number {
  if (value === undefined) return DEFAULT_CONCURRENCY;
  if (!Number.isInteger(value) || value < 1) {
    throw new ProtectorError('BAD_USER_INPUT', `concurrency must be a whole number from 1; got ${value}.`);
  }
  return value;
}

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

type Role = 'primary' | 'secondary';
const ROLES: readonly Role[] = ['primary', 'secondary'];

/** Errors that mean "this array cannot be used right now", as opposed to a bug or a bad request. */
const UNAVAILABLE = new Set(['STORAGE_UNREACHABLE', 'STORAGE_AUTH_FAILED', 'STORAGE_RATE_LIMITED']);

/** The name the array gives member `volume` of the group (`POD::VOL` in a pod), however it is given. */
export const groupMemberName = (ref: ReplicationGroupRef, volume: string): string =>
  mechanismFor(ref.mode).memberName(ref, volume);

export abstract class FlashArrayDriver implements StorageDriver {
  abstract readonly name: 'mock' | 'pure';
  private readonly infos = new Map<Role, ArrayInfo>();
  private readonly byName = new Map<string, ArrayClient>();
  private remember: InitializeOptions['remember'];

  /** Array requests sent at once for bulk volume work (create, destroy, copy): `concurrency` option. */
  protected concurrency = DEFAULT_CONCURRENCY;

  protected constructor(
    protected readonly clients: DriverArrays,
    protected readonly log: StorageLog,
    /** Names default snapshot suffixes and measures replication lag. */
    protected readonly clock: Clock = systemClock,
  ) {}

  /** The line logged once both arrays answered, as in the product docs. */
  protected abstract initializedMessage(): string;

  /** The name an array has by configuration, if the driver knows it without asking (mock arrays). */
  protected configuredName(_role: Role): string | null {
    return null;
  }

  /** What an operator should check when an array in `role` cannot be used, in the product's words. */
  protected abstract hint(role: Role, code: string): string;

  async initialize(opts: InitializeOptions = {}): Promise<void> {
    this.infos.clear();
    this.byName.clear();
    this.remember = opts.remember;
    for (const role of ROLES) {
      const endpoint = this.clients[role].endpoint;
      const known = opts.known?.find((k) => k.endpoint === endpoint);
      const name = this.configuredName(role) ?? known?.name ?? `unidentified-${role}-array`;
      this.setInfo({
        endpoint,
        name,
        id: known?.id ?? '',
        version: known?.version ?? '',
        role,
        available: false,
        error: null,
      });
      const problem = await this.probe(role);
      if (problem) {
        this.log(
          'WARNING',
          `protector.engine.storage.${this.name}`,
          `${role} array '${name}' is unavailable at start-up: ${problem.error}. Continuing without it; it is retried until it answers.`,
        );
      }
    }
    this.log('INFO', `protector.engine.storage.${this.name}`, this.initializedMessage());
  }

  /**
   * Asks the array in `role` who it is. Answers null when it answered (and records its identity), else
   * the reason it cannot be used, with the hint for the operator; it is then marked unavailable.
   */
  private async probe(role: Role): Promise<{ code: string; error: string } | null> {
    const client = this.clients[role];
    const before = this.infos.get(role)!;
    try {
      const [array] = await client.list<Json>('/arrays');
      if (!array)
        throw new ProtectorError('STORAGE_ERROR', `Array at ${client.endpoint} returned no array identity.`);
      const name = String(array.name);
      if (before.id && before.name !== name) {
        this.log(
          'WARNING',
          `protector.engine.storage.${this.name}`,
          `The ${role} array at ${client.endpoint} now reports the name '${name}' (was '${before.name}').`,
        );
      }
      this.setInfo({
        ...before,
        name,
        id: String(array.id),
        version: String(array.version ?? ''),
        available: true,
        error: null,
      });
      if (!before.available) {
        if (before.error) {
          this.log(
            'INFO',
            `protector.engine.storage.${this.name}`,
            `${role} array '${name}' is reachable again.`,
          );
        }
        this.remember?.([...this.infos.values()].filter((i) => i.id));
      }
      return null;
    } catch (err) {
      if (!(err instanceof ProtectorError) || !UNAVAILABLE.has(err.code)) throw err;
      const error = `${err.message} (${this.hint(role, err.code)})`;
      this.setInfo({ ...before, available: false, error });
      return { code: err.code, error };
    }
  }

  private setInfo(info: ArrayInfo): void {
    const old = this.infos.get(info.role);
    if (old && old.name !== info.name) this.byName.delete(old.name);
    this.infos.set(info.role, info);
    this.byName.set(info.name, this.clients[info.role]);
  }

  async reconnect(): Promise<readonly ArrayInfo[]> {
    const back: ArrayInfo[] = [];
    for (const role of ROLES) {
      if (this.infos.get(role)?.available === false && !(await this.probe(role)))
        back.push(this.infos.get(role)!);
    }
    return back;
  }

  async close(): Promise<void> {
    await Promise.all([this.clients.primary.transport.close(), this.clients.secondary.transport.close()]);
  }

  arrays(): readonly ArrayInfo[] {
    if (this.infos.size < 2)
      throw new ProtectorError(
        'INVALID_STATE',
        'The storage driver is not initialized; call initialize() first.',
      );
    return ROLES.map((r) => this.infos.get(r)!);
  }

  /**
   * A client of the array in `role` that logs in with `token` instead of the `[storage]` one (a
   * replication policy's). The mock driver has no tokens: it answers the default client.
   */
  protected abstract clientWithToken(role: Role, token: string): ArrayClient;

  /** The client for `array`, logged in with the group's own token for it when `ref` carries one. */
  private client(array: string, ref?: ReplicationGroupRef): ArrayClient {
    const token = ref?.apiTokens?.[array];
    if (token) {
      this.client(array);
      const role = this.infos.get('primary')?.name === array ? 'primary' : 'secondary';
      return this.clientWithToken(role, token);
    }
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
    for (const role of ROLES) {
      const problem = await this.probe(role);
      const info = this.infos.get(role)!;
      checks.push({
        array: info.name,
        role,
        endpoint: info.endpoint,
        // An array that refused the token answered: it is reachable.
        reachable: !problem || problem.code === 'STORAGE_AUTH_FAILED',
        authenticated: !problem,
        error: problem?.error ?? null,
      });
      if (problem) problems.push(`${role} array: ${problem.error}`);
    }
    let link: LinkState = 'unknown';
    const [primary, secondary] = this.arrays();
    if (primary!.available) {
      link = await this.linkBetween(primary!.name, secondary!.name);
      if (link !== 'connected') {
        problems.push(`Replication link from '${primary!.name}' to '${secondary!.name}' is ${link}.`);
      }
    }
    return { ok: problems.length === 0, driver: this.name, arrays: checks, link, problems };
  }

  private async linkBetween(source: string, target: string): Promise<LinkState> {
    const conns = await this.client(source).list<Json>('/array-connections');
    // REST 2.26 names a connection after the remote array (`name`); `remote` only exists from 2.40.
    const conn = conns.find((c) => c.name === target);
    return conn ? (String(conn.status) as LinkState) : 'disconnected';
  }

  // ---- volumes ----

  async createVolumes(array: string, specs: readonly VolumeSpec[]): Promise<Volume[]> {
    const client = this.client(array);
    checkVolumeSpecs(specs);
    return mapLimit(specs, this.concurrency, async (s) => {
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

  async renameVolume(array: string, from: string, to: string): Promise<Volume> {
    const client = this.client(array);
    const [current] = await client.listOrEmpty<Json>('/volumes', { names: from });
    if (!current) {
      // A repeat after a crash finds the rename done.
      const [done] = await client.listOrEmpty<Json>('/volumes', { names: to });
      if (done && !done.destroyed) return toVolume(array, done);
    }
    const res = await client.request<{ items: Json[] }>({
      method: 'PATCH',
      path: '/volumes',
      query: { names: from },
      body: { name: to },
    });
    return toVolume(array, res.items[0]!);
  }

  async destroyVolumes(
    array: string,
    names: readonly string[],
    opts: { eradicate?: boolean } = {},
  ): Promise<void> {
    const client = this.client(array);
    await mapLimit(names, this.concurrency, async (name) => {
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
      src: this.client(ref.sourceArray, ref),
      dst: this.client(ref.targetArray, ref),
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

  async renameReplicationGroup(ref: ReplicationGroupRef, to: string): Promise<ReplicationGroup> {
    const problem = flashArrayNameProblem(to);
    if (problem) throw new ProtectorError('INVALID_NAME', `Group name '${to}': ${problem}`, { name: to });
    const renamed: ReplicationGroupRef = { ...pickRef(ref), name: to };
    const g = this.group(ref);
    const [current, taken] = await Promise.all([g.mechanism.get(g), this.getReplicationGroup(renamed)]);
    if (!current && taken) return taken;
    if (!current) {
      throw new ProtectorError(
        'NOT_FOUND',
        `${g.mechanism.kind} '${ref.name}' does not exist on array '${ref.sourceArray}'.`,
        { group: ref.name },
      );
    }
    if (taken) {
      throw new ProtectorError(
        'ALREADY_EXISTS',
        `Array '${ref.sourceArray}' already has a ${g.mechanism.kind.toLowerCase()} named '${to}'; choose another name or remove that one from the array.`,
        { name: to },
      );
    }
    await g.mechanism.rename(g, to);
    return (await this.getReplicationGroup(renamed))!;
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
    const present = volumes
      .map((v) => g.mechanism.memberName(ref, v))
      .filter((v) => group.volumes.includes(v));
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
    // A pod snapshots its mirrored copy on the target (which must be current); a protection group
    // sends a snapshot over the link.
    const link = ref.mode === 'sync' ? 'connected' : await this.linkBetween(ref.sourceArray, ref.targetArray);
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

  getRecoveryPoint(
    ref: ReplicationGroupRef,
    name: string,
    volumes: readonly string[] = [],
  ): Promise<RecoveryPoint | null> {
    const g = this.group(ref);
    return g.mechanism.point(
      g,
      name,
      volumes.map((v) => g.mechanism.memberName(ref, v)),
    );
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
    const mechanism = mechanismFor(ref.mode);
    const named = requests.map((r) => ({ ...r, sourceVolume: mechanism.memberName(ref, r.sourceVolume) }));
    const listed = await this.getRecoveryPoint(
      ref,
      point,
      requests.map((r) => r.sourceVolume),
    );
    checkMaterialize(ref, point, listed ?? undefined, named);
    const dst = this.client(ref.targetArray, ref);
    return mapLimit(named, this.concurrency, async (r) => {
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
        // A repeated materialize (after a crash) finds its own earlier copy: that is success. An
        // array names a copy's source volume (the snapshot's own source), not the snapshot.
        if (err instanceof ProtectorError && err.code === 'ALREADY_EXISTS') {
          const [existing] = await dst.listOrEmpty<Json>('/volumes', { names: r.targetVolume });
          const [snap] = await dst.listOrEmpty<Json>('/volume-snapshots', { names: source });
          const from = (item: Json | undefined) => (item?.source as Json | null | undefined)?.name;
          if (existing && !existing.destroyed && snap && from(existing) === from(snap)) {
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
    await mechanism.setPromotion(this.client(array, ref), ref, state, this.clock);
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

  async completedReplications(
    targetArray: string,
    refs: readonly ReplicationGroupRef[],
    since: Date | null,
  ): Promise<CompletedReplications> {
    // One listing per credential the groups read the array with (most share the site's own).
    const byClient = new Map<ArrayClient, Map<string, ReplicationGroupRef>>();
    for (const ref of refs) {
      this.checkRef(ref);
      if (ref.mode !== 'async' || ref.targetArray !== targetArray) {
        throw new ProtectorError(
          'BAD_USER_INPUT',
          `completedReplications watches async groups replicating to '${targetArray}'; '${ref.name}' is ${ref.mode} to '${ref.targetArray}'.`,
        );
      }
      const client = this.client(targetArray, ref);
      const named = byClient.get(client) ?? new Map<string, ReplicationGroupRef>();
      named.set(replicaName(ref), ref);
      byClient.set(client, named);
    }
    if (!byClient.size) byClient.set(this.client(targetArray), new Map());
    const completed = new Map<string, CompletedReplication>();
    let until: number | null = since?.getTime() ?? null;
    // Only snapshots replicated in from the groups' source arrays (`SOURCE:GROUP.suffix`).
    const from = [...new Set(refs.map((r) => r.sourceArray))];
    for (const [client, named] of byClient) {
      const transfers = since
        ? (
            await Promise.all(
              (from.length ? from : [null]).map((source) =>
                client.list<Json>('/protection-group-snapshots/transfer', {
                  destroyed: 'false',
                  filter: `${source ? `name='${source}:*' and ` : ''}progress="1.0" and completed>=${since.getTime()}`,
                }),
              ),
            )
          ).flat()
        : (
            await client.request<{ items: Json[] }>({
              method: 'GET',
              path: '/protection-group-snapshots/transfer',
              query: { destroyed: 'false', filter: 'progress="1.0"', sort: 'completed-', limit: '1' },
            })
          ).items;
      const newest = new Map<string, Json>();
      for (const t of transfers) {
        const at = Number(t.completed);
        if (until === null || at > until) until = at;
        const name = String(t.name);
        const group = named.get(name.slice(0, name.lastIndexOf('.')));
        if (!since || !group) continue;
        const seen = newest.get(group.name);
        if (!seen || at > Number(seen.completed)) newest.set(group.name, t);
      }
      const names = [...newest.values()].map((t) => String(t.name));
      for (let i = 0; i < names.length; i += 50) {
        const snaps = await client.list<Json>('/protection-group-snapshots', {
          names: names.slice(i, i + 50).join(','),
        });
        for (const snap of snaps) {
          const name = String(snap.name);
          const group = named.get(name.slice(0, name.lastIndexOf('.')))!;
          completed.set(group.name, {
            group: group.name,
            point: name,
            createdAt: new Date(Number(snap.created)),
            completedAt: new Date(Number(newest.get(group.name)!.completed)),
          });
        }
      }
    }
    return { completed, until: until === null ? null : new Date(until) };
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
