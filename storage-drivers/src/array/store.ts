/**
 * A FlashArray model in SQLite: several arrays, their replication connections, volumes, protection
 * groups with targets and schedules, group snapshots whose transfer takes simulated time, pods, and
 * destroy vs eradicate. It answers REST 2.x requests (`handle`) with FlashArray's envelopes and error
 * texts, so the in-process mock driver and the HTTP simulator (`fa-sim`) enforce the same rules.
 * Several processes may open the same data dir, a fresh one too (`openSqlite`); time-based work (transfers,
 * schedules, retention, pod resync) is brought up to date at the start of every request.
 */
import { randomUUID } from 'node:crypto';
import { openSqlite } from '@protector/platform/sqlite';
import { flashArrayNameProblem, sizeProblem, suffixProblem, volumeNameProblem } from '@protector/schema';
import type Database from 'better-sqlite3';
import type { ArrayRequest, ArrayResponse } from '../client/wire.js';
import { type Item, listEnvelope } from './query.js';

/** Faults an array can be given; they survive in the database so every process sees them. */
export interface ArrayFaults {
  /** The array answers nothing (connections refused or dropped). */
  readonly down: boolean;
  /** The next N requests are answered 429. */
  readonly rateLimit: number;
  /** Multiplies snapshot transfer time for groups replicating from this array. */
  readonly slowFactor: number;
}

export interface FlashArrayStoreOptions {
  /** SQLite file, e.g. `<data dir>/flasharray.sqlite`. */
  readonly file: string;
  /** Arrays to create when absent; every pair is connected for replication. */
  readonly arrays?: readonly string[];
  /** Simulated time to transfer one group snapshot to its target, before `slowFactor`. */
  readonly transferMs?: number;
  readonly now?: () => number;
}

/** An array-level error: FlashArray's HTTP status and message. */
export class ArrayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly context: string,
  ) {
    super(message);
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS arrays (
  name TEXT PRIMARY KEY, id TEXT NOT NULL, down INTEGER NOT NULL DEFAULT 0,
  rate_limit INTEGER NOT NULL DEFAULT 0, slow_factor REAL NOT NULL DEFAULT 1, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS links (
  a TEXT NOT NULL, b TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (a, b));
CREATE TABLE IF NOT EXISTS volumes (
  array TEXT NOT NULL, name TEXT NOT NULL, serial TEXT NOT NULL, provisioned INTEGER NOT NULL,
  destroyed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, source TEXT,
  content_origin TEXT, content_version INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS pgroups (
  array TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL, destroyed INTEGER NOT NULL DEFAULT 0,
  schedule_enabled INTEGER NOT NULL DEFAULT 0, frequency_ms INTEGER NOT NULL DEFAULT 3600000,
  last_scheduled INTEGER, all_for_sec INTEGER NOT NULL DEFAULT 86400, per_day INTEGER NOT NULL DEFAULT 4,
  days INTEGER NOT NULL DEFAULT 7, created INTEGER NOT NULL, snap_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS pgroup_volumes (
  array TEXT NOT NULL, pgroup TEXT NOT NULL, volume TEXT NOT NULL, PRIMARY KEY (array, pgroup, volume));
CREATE TABLE IF NOT EXISTS pgroup_targets (
  array TEXT NOT NULL, pgroup TEXT NOT NULL, target TEXT NOT NULL, allowed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (array, pgroup, target));
CREATE TABLE IF NOT EXISTS pgroup_snaps (
  array TEXT NOT NULL, name TEXT NOT NULL, pgroup TEXT NOT NULL, source_array TEXT NOT NULL,
  suffix TEXT NOT NULL, created INTEGER NOT NULL, duration_ms INTEGER NOT NULL DEFAULT 0,
  transferred_ms INTEGER NOT NULL DEFAULT 0, last_tick INTEGER NOT NULL, completed INTEGER,
  destroyed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS volume_snaps (
  array TEXT NOT NULL, name TEXT NOT NULL, volume TEXT NOT NULL, pgroup_snap TEXT,
  provisioned INTEGER NOT NULL, created INTEGER NOT NULL, serial TEXT NOT NULL,
  content_origin TEXT, content_version INTEGER NOT NULL DEFAULT 0, destroyed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (array, name));
CREATE TABLE IF NOT EXISTS pods (name TEXT PRIMARY KEY, created INTEGER NOT NULL, destroyed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS pod_arrays (
  pod TEXT NOT NULL, array TEXT NOT NULL, status TEXT NOT NULL, promotion TEXT NOT NULL,
  position INTEGER NOT NULL, PRIMARY KEY (pod, array));
`;

type Row = Record<string, unknown> & { [k: string]: never | unknown };
interface ArrayRow {
  name: string;
  id: string;
  down: number;
  rate_limit: number;
  slow_factor: number;
  created: number;
}
interface VolumeRow {
  array: string;
  name: string;
  serial: string;
  provisioned: number;
  destroyed: number;
  created: number;
  source: string | null;
  content_origin: string | null;
  content_version: number;
}
interface PgroupRow {
  array: string;
  name: string;
  source: string;
  destroyed: number;
  schedule_enabled: number;
  frequency_ms: number;
  last_scheduled: number | null;
  all_for_sec: number;
  per_day: number;
  days: number;
  created: number;
  snap_seq: number;
}
interface PgroupSnapRow {
  array: string;
  name: string;
  pgroup: string;
  source_array: string;
  suffix: string;
  created: number;
  duration_ms: number;
  transferred_ms: number;
  last_tick: number;
  completed: number | null;
  destroyed: number;
}
interface VolumeSnapRow {
  array: string;
  name: string;
  volume: string;
  pgroup_snap: string | null;
  provisioned: number;
  created: number;
  serial: string;
  content_origin: string | null;
  content_version: number;
  destroyed: number;
}
interface PodArrayRow {
  pod: string;
  array: string;
  status: 'online' | 'offline' | 'resyncing';
  promotion: 'promoted' | 'demoted';
  position: number;
}

const bad = (message: string, context: string) => new ArrayError(400, message, context);
const serial = () => randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase();
const names = (q: string | undefined): string[] => (q ? q.split(',').filter(Boolean) : []);

/** The comma-separated names of a query parameter the request cannot do without. */
function required(q: Readonly<Record<string, string | undefined>>, param: string): string[] {
  const list = names(q[param]);
  if (!list.length) throw bad(`Missing required query parameter ${param}.`, param);
  return list;
}

/** The FlashArray model. One instance per process; any number of processes per file. */
export class FlashArrayStore {
  private readonly db: Database.Database;
  private readonly now: () => number;
  private readonly transferMs: number;

  private constructor(opts: FlashArrayStoreOptions) {
    this.db = openSqlite(opts.file, { schema: SCHEMA });
    this.now = opts.now ?? Date.now;
    this.transferMs = opts.transferMs ?? 2000;
  }

  /** Opens (creating when needed) the model and makes sure `arrays` exist and are connected pairwise. */
  static open(opts: FlashArrayStoreOptions): FlashArrayStore {
    const store = new FlashArrayStore(opts);
    store.tx(() => {
      const arrays = opts.arrays ?? [];
      for (const name of arrays) {
        const problem = flashArrayNameProblem(name);
        if (problem) throw new Error(problem);
        store.db
          .prepare('INSERT OR IGNORE INTO arrays (name, id, created) VALUES (?, ?, ?)')
          .run(name, randomUUID(), store.now());
      }
      for (const a of arrays) {
        for (const b of arrays) {
          if (a < b) store.db.prepare("INSERT OR IGNORE INTO links VALUES (?, ?, 'connected')").run(a, b);
        }
      }
    });
    return store;
  }

  close(): void {
    this.db.close();
  }

  // ---- simulation controls (not part of the REST API) ----

  arrayNames(): string[] {
    return (this.db.prepare('SELECT name FROM arrays ORDER BY name').all() as { name: string }[]).map(
      (r) => r.name,
    );
  }

  faults(array: string): ArrayFaults {
    const row = this.arrayRow(array);
    return { down: row.down === 1, rateLimit: row.rate_limit, slowFactor: row.slow_factor };
  }

  /** Injects or clears faults on one array. */
  setFaults(array: string, faults: Partial<ArrayFaults>): void {
    this.tx(() => {
      this.advance();
      const cur = this.faults(array);
      const next = { ...cur, ...faults };
      this.db
        .prepare('UPDATE arrays SET down = ?, rate_limit = ?, slow_factor = ? WHERE name = ?')
        .run(next.down ? 1 : 0, next.rateLimit, next.slowFactor, array);
    });
  }

  /** Brings the replication link between two arrays up or down. */
  setLink(a: string, b: string, status: 'connected' | 'disconnected'): void {
    this.tx(() => {
      this.advance();
      const [x, y] = a < b ? [a, b] : [b, a];
      this.db.prepare('UPDATE links SET status = ? WHERE a = ? AND b = ?').run(status, x, y);
    });
  }

  linkStatus(a: string, b: string): 'connected' | 'disconnected' {
    const [x, y] = a < b ? [a, b] : [b, a];
    const row = this.db.prepare('SELECT status FROM links WHERE a = ? AND b = ?').get(x, y) as
      | { status: 'connected' | 'disconnected' }
      | undefined;
    if (!row) return 'disconnected';
    // A link to an array that is down carries nothing.
    if (this.arrayRow(a).down || this.arrayRow(b).down) return 'disconnected';
    return row.status;
  }

  /**
   * A host write to a volume: its content version advances. For a pod volume the write is mirrored
   * synchronously to every pod array that can be reached; the others fall offline until resynced.
   */
  simulateWrite(array: string, volume: string): { origin: string; version: number } {
    return this.tx(() => {
      this.advance();
      if (this.arrayRow(array).down) throw new ArrayError(503, `Array '${array}' is down.`, array);
      const vol = this.liveVolume(array, volume);
      const origin = vol.content_origin ?? vol.serial;
      const version = vol.content_version + 1;
      const pod = podOf(volume);
      if (pod) {
        const me = this.podArray(pod, array);
        if (!me || me.status !== 'online' || me.promotion !== 'promoted') {
          throw bad(`Pod '${pod}' is not writable on array '${array}'.`, volume);
        }
        for (const peer of this.podArrays(pod)) {
          if (peer.array === array) continue;
          if (peer.status === 'online' && this.linkStatus(array, peer.array) === 'connected') {
            this.setContent(peer.array, volume, origin, version);
          } else {
            this.db
              .prepare("UPDATE pod_arrays SET status = 'offline' WHERE pod = ? AND array = ?")
              .run(pod, peer.array);
          }
        }
      }
      this.setContent(array, volume, origin, version);
      return { origin, version };
    });
  }

  /** Brings scheduled snapshots, transfers and pod resync up to date; simulators call it on a timer. */
  tick(): void {
    this.tx(() => this.advance());
  }

  /** Brings transfers, schedules, retention and pod resync up to date. Called by every request. */
  private advance(): void {
    const now = this.now();
    this.runSchedules(now);
    for (const snap of this.db
      .prepare(
        'SELECT * FROM pgroup_snaps WHERE completed IS NULL AND destroyed = 0 AND array != source_array',
      )
      .all() as PgroupSnapRow[]) {
      const dt = Math.max(0, now - snap.last_tick);
      const up = this.linkStatus(snap.source_array, snap.array) === 'connected';
      // A slow link (fault) stretches the remaining transfer; a link that is down stalls it.
      const transferred = up
        ? snap.transferred_ms + dt / this.arrayRow(snap.source_array).slow_factor
        : snap.transferred_ms;
      const done = transferred >= snap.duration_ms;
      this.db
        .prepare(
          'UPDATE pgroup_snaps SET transferred_ms = ?, last_tick = ?, completed = ? WHERE array = ? AND name = ?',
        )
        .run(
          Math.min(Math.round(transferred), snap.duration_ms),
          now,
          done ? now - Math.round(transferred - snap.duration_ms) : null,
          snap.array,
          snap.name,
        );
    }
    for (const row of this.db
      .prepare("SELECT * FROM pod_arrays WHERE status != 'online'")
      .all() as PodArrayRow[]) {
      const donor = this.podArrays(row.pod).find(
        (p) => p.status === 'online' && this.linkStatus(p.array, row.array) === 'connected',
      );
      if (!donor || this.arrayRow(row.array).down) continue;
      for (const v of this.volumesInPod(donor.array, row.pod)) {
        this.setContent(row.array, v.name, v.content_origin, v.content_version, v.provisioned);
      }
      this.db
        .prepare("UPDATE pod_arrays SET status = 'online' WHERE pod = ? AND array = ?")
        .run(row.pod, row.array);
    }
  }

  // ---- REST ----

  /**
   * Answers one REST 2.x request on `array` the way a FlashArray does. The caller (HTTP server or
   * in-process transport) handles sessions; faults `down` and `rateLimit` are applied here.
   */
  handle(array: string, req: ArrayRequest): ArrayResponse {
    try {
      return this.tx(() => {
        const row = this.arrayRow(array);
        if (row.rate_limit > 0) {
          this.db.prepare('UPDATE arrays SET rate_limit = rate_limit - 1 WHERE name = ?').run(array);
          return {
            status: 429,
            body: { errors: [{ message: 'Rate limit exceeded.', context: array }] },
            headers: {
              'x-ratelimit-limit-second': '10',
              'x-ratelimit-remaining-second': '0',
              'retry-after': '0',
            },
          };
        }
        this.advance();
        return { status: 200, body: this.route(array, req) };
      });
    } catch (err) {
      if (err instanceof ArrayError) {
        return { status: err.status, body: { errors: [{ message: err.message, context: err.context }] } };
      }
      throw err;
    }
  }

  private route(array: string, req: ArrayRequest): unknown {
    const q = req.query;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const key = `${req.method} ${req.path}`;
    switch (key) {
      case 'GET /arrays':
        return this.list([this.arrayItem(array)], q);
      case 'GET /array-connections':
        return this.list(this.connectionItems(array), q);
      case 'GET /volumes':
        return this.list(this.selectVolumes(array, q), q);
      case 'POST /volumes':
        return { items: this.postVolumes(array, q, body) };
      case 'PATCH /volumes':
        return { items: this.patchVolumes(array, q, body) };
      case 'DELETE /volumes':
        this.eradicateVolumes(array, required(q, 'names'));
        return {};
      case 'GET /volume-snapshots':
        return this.list(this.selectVolumeSnaps(array, q), q);
      case 'POST /volume-snapshots':
        return { items: this.postVolumeSnaps(array, q, body) };
      case 'GET /protection-groups':
        return this.list(this.selectPgroups(array, q), q);
      case 'POST /protection-groups':
        return { items: this.postPgroups(array, q) };
      case 'PATCH /protection-groups':
        return { items: this.patchPgroups(array, q, body) };
      case 'DELETE /protection-groups':
        this.eradicatePgroups(array, required(q, 'names'));
        return {};
      case 'GET /protection-groups/volumes':
        return this.list(this.selectPgroupVolumes(array, q), q);
      case 'POST /protection-groups/volumes':
        return { items: this.changePgroupVolumes(array, q, true) };
      case 'DELETE /protection-groups/volumes':
        this.changePgroupVolumes(array, q, false);
        return {};
      case 'GET /protection-groups/targets':
        return this.list(this.selectPgroupTargets(array, q), q);
      case 'POST /protection-groups/targets':
        return { items: this.postPgroupTargets(array, q) };
      case 'PATCH /protection-groups/targets':
        return { items: this.patchPgroupTargets(array, q, body) };
      case 'DELETE /protection-groups/targets':
        this.deletePgroupTargets(array, q);
        return {};
      case 'GET /protection-group-snapshots':
        return this.list(this.selectPgroupSnaps(array, q), q);
      case 'POST /protection-group-snapshots':
        return { items: this.postPgroupSnaps(array, q, body) };
      case 'PATCH /protection-group-snapshots':
        return { items: this.patchPgroupSnaps(array, q, body) };
      case 'DELETE /protection-group-snapshots':
        this.eradicatePgroupSnaps(array, required(q, 'names'));
        return {};
      case 'GET /protection-group-snapshots/transfer':
        return this.list(this.selectPgroupSnaps(array, q).map(transferItem), q);
      case 'GET /pods':
        return this.list(this.selectPods(array, q), q);
      case 'POST /pods':
        return { items: this.postPods(array, q) };
      case 'PATCH /pods':
        return { items: this.patchPods(array, q, body) };
      case 'DELETE /pods':
        this.eradicatePods(array, required(q, 'names'));
        return {};
      case 'GET /pods/arrays':
      case 'GET /pods/members':
        return this.list(this.selectPodArrays(q), q);
      case 'POST /pods/arrays':
      case 'POST /pods/members':
        return { items: this.stretchPod(array, q) };
      case 'DELETE /pods/arrays':
      case 'DELETE /pods/members':
        this.unstretchPod(q);
        return {};
      default:
        throw new ArrayError(
          404,
          `The requested resource '${req.method} ${req.path}' was not found.`,
          req.path,
        );
    }
  }

  private list(items: Item[], q: Readonly<Record<string, string | undefined>>) {
    try {
      return listEnvelope(items, q);
    } catch (err) {
      throw bad((err as Error).message, 'query');
    }
  }

  // ---- arrays and connections ----

  private arrayRow(name: string): ArrayRow {
    const row = this.db.prepare('SELECT * FROM arrays WHERE name = ?').get(name) as ArrayRow | undefined;
    if (!row) throw new ArrayError(404, `Array '${name}' does not exist.`, name);
    return row;
  }

  private arrayItem(name: string): Item {
    const row = this.arrayRow(name);
    return { name: row.name, id: row.id, os: 'Purity//FA', version: '6.5.0', _as_of: this.now() };
  }

  private connectionItems(array: string): Item[] {
    return this.arrayNames()
      .filter((n) => n !== array)
      .map((remote) => ({
        remote: { name: remote, id: this.arrayRow(remote).id },
        status: this.linkStatus(array, remote),
        type: 'async-replication',
        replication_transport: 'ip',
      }));
  }

  // ---- volumes ----

  private volumeRow(array: string, name: string): VolumeRow | undefined {
    return this.db.prepare('SELECT * FROM volumes WHERE array = ? AND name = ?').get(array, name) as
      | VolumeRow
      | undefined;
  }

  private liveVolume(array: string, name: string): VolumeRow {
    const row = this.volumeRow(array, name);
    if (!row || row.destroyed) throw bad(`Volume '${name}' does not exist.`, name);
    return row;
  }

  private volumeItem = (v: VolumeRow): Item => ({
    name: v.name,
    id: v.serial,
    serial: v.serial,
    provisioned: v.provisioned,
    destroyed: v.destroyed === 1,
    created: v.created,
    source: v.source ? { name: v.source } : null,
    pod: podOf(v.name) ? { name: podOf(v.name) } : null,
    space: { total_provisioned: v.provisioned },
    content: v.content_origin ? { origin: v.content_origin, version: v.content_version } : null,
  });

  private selectVolumes(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const wanted = names(q.names);
    const rows = this.db
      .prepare('SELECT * FROM volumes WHERE array = ? ORDER BY name')
      .all(array) as VolumeRow[];
    if (wanted.length) {
      const missing = wanted.filter((n) => !rows.some((r) => r.name === n));
      if (missing.length) throw bad(`Volume '${missing[0]}' does not exist.`, missing[0]!);
      return rows.filter((r) => wanted.includes(r.name)).map(this.volumeItem);
    }
    const destroyed = q.destroyed === undefined ? null : q.destroyed === 'true';
    return rows.filter((r) => destroyed === null || (r.destroyed === 1) === destroyed).map(this.volumeItem);
  }

  private postVolumes(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const list = required(q, 'names');
    const overwrite = q.overwrite === 'true';
    const source = (body.source as { name?: string } | undefined)?.name;
    return list.map((name) => {
      const problem = volumeNameProblem(name);
      if (problem) throw bad(problem, name);
      const existing = this.volumeRow(array, name);
      if (existing && (!overwrite || !source)) throw bad(`Volume '${name}' already exists.`, name);
      if (existing?.destroyed) throw bad(`Volume '${name}' already exists.`, name);
      const pod = podOf(name);
      if (pod) this.requireLivePod(pod, array);
      if (source) return this.volumeItem(this.copyVolume(array, name, source, existing));
      const size = body.provisioned;
      const sp = sizeProblem(size);
      if (sp) throw bad(sp, name);
      const row: VolumeRow = {
        array,
        name,
        serial: serial(),
        provisioned: size as number,
        destroyed: 0,
        created: this.now(),
        source: null,
        content_origin: null,
        content_version: 0,
      };
      row.content_origin = row.serial;
      const targets = pod ? this.podArrays(pod).filter((p) => p.status === 'online') : [];
      this.insertVolume(row);
      for (const peer of targets) if (peer.array !== array) this.insertVolume({ ...row, array: peer.array });
      return this.volumeItem(row);
    });
  }

  private insertVolume(row: VolumeRow): void {
    this.db
      .prepare(
        `INSERT INTO volumes (array, name, serial, provisioned, destroyed, created, source, content_origin, content_version)
         VALUES (@array, @name, @serial, @provisioned, @destroyed, @created, @source, @content_origin, @content_version)`,
      )
      .run(row);
  }

  /** `POST /volumes?names=V {source:{name}}`: copy a volume or a volume snapshot into V. */
  private copyVolume(
    array: string,
    name: string,
    source: string,
    existing: VolumeRow | undefined,
  ): VolumeRow {
    const snap = this.db
      .prepare('SELECT * FROM volume_snaps WHERE array = ? AND name = ? AND destroyed = 0')
      .get(array, source) as VolumeSnapRow | undefined;
    let from: { provisioned: number; origin: string | null; version: number };
    if (snap) {
      if (snap.pgroup_snap) {
        const pg = this.db
          .prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND name = ?')
          .get(array, snap.pgroup_snap) as PgroupSnapRow;
        if (pg.completed === null) {
          const progress = pg.duration_ms ? pg.transferred_ms / pg.duration_ms : 0;
          throw bad(
            `Snapshot '${source}' is not fully replicated yet (transfer progress ${progress.toFixed(2)}).`,
            source,
          );
        }
      }
      from = { provisioned: snap.provisioned, origin: snap.content_origin, version: snap.content_version };
    } else {
      const vol = this.volumeRow(array, source);
      if (!vol || vol.destroyed) throw bad(`Volume or snapshot '${source}' does not exist.`, source);
      from = { provisioned: vol.provisioned, origin: vol.content_origin, version: vol.content_version };
    }
    if (existing) {
      this.db
        .prepare(
          'UPDATE volumes SET provisioned = ?, source = ?, content_origin = ?, content_version = ? WHERE array = ? AND name = ?',
        )
        .run(from.provisioned, source, from.origin, from.version, array, name);
      return this.volumeRow(array, name)!;
    }
    const row: VolumeRow = {
      array,
      name,
      serial: serial(),
      provisioned: from.provisioned,
      destroyed: 0,
      created: this.now(),
      source,
      content_origin: from.origin,
      content_version: from.version,
    };
    this.insertVolume(row);
    return row;
  }

  private patchVolumes(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const list = required(q, 'names');
    return list.map((name) => {
      const row = this.volumeRow(array, name);
      if (!row) throw bad(`Volume '${name}' does not exist.`, name);
      if (body.pod !== undefined)
        return this.volumeItem(this.moveVolume(array, row, body.pod as { name?: string } | null));
      if (typeof body.destroyed === 'boolean') {
        this.db
          .prepare('UPDATE volumes SET destroyed = ? WHERE array = ? AND name = ?')
          .run(body.destroyed ? 1 : 0, array, name);
        if (body.destroyed)
          this.db.prepare('DELETE FROM pgroup_volumes WHERE array = ? AND volume = ?').run(array, name);
      }
      if (body.provisioned !== undefined) {
        const sp = sizeProblem(body.provisioned);
        if (sp) throw bad(sp, name);
        if ((body.provisioned as number) < row.provisioned) {
          throw bad(`Volume '${name}' cannot be shrunk without truncate=true.`, name);
        }
        this.db
          .prepare('UPDATE volumes SET provisioned = ? WHERE array = ? AND name = ?')
          .run(body.provisioned, array, name);
      }
      return this.volumeItem(this.volumeRow(array, name)!);
    });
  }

  /**
   * `PATCH /volumes {pod:{name}}` moves a volume into a pod (it becomes `pod::name` and is mirrored to
   * every online pod array); `{pod: null}` moves it back out (the mirrors go).
   */
  private moveVolume(array: string, row: VolumeRow, pod: { name?: string } | null): VolumeRow {
    const current = podOf(row.name);
    const local = current ? row.name.slice(current.length + 2) : row.name;
    const target = pod?.name ?? null;
    if (target === current) return row;
    if (target) this.requireLivePod(target, array);
    const newName = target ? `${target}::${local}` : local;
    if (this.volumeRow(array, newName)) throw bad(`Volume '${newName}' already exists.`, newName);
    if (this.db.prepare('SELECT 1 FROM pgroup_volumes WHERE array = ? AND volume = ?').get(array, row.name)) {
      throw bad(`Volume '${row.name}' is a member of a protection group and cannot be moved.`, row.name);
    }
    this.db.prepare('UPDATE volumes SET name = ? WHERE array = ? AND name = ?').run(newName, array, row.name);
    if (current) this.db.prepare('DELETE FROM volumes WHERE name = ? AND array != ?').run(row.name, array);
    if (target) {
      for (const peer of this.podArrays(target)) {
        if (peer.array !== array && peer.status === 'online') {
          this.setContent(peer.array, newName, row.content_origin, row.content_version, row.provisioned);
        }
      }
    }
    return this.volumeRow(array, newName)!;
  }

  private eradicateVolumes(array: string, list: string[]): void {
    for (const name of list) {
      const row = this.volumeRow(array, name);
      if (!row) throw bad(`Volume '${name}' does not exist.`, name);
      if (!row.destroyed) throw bad(`Volume '${name}' must be destroyed before it can be eradicated.`, name);
      this.db.prepare('DELETE FROM volumes WHERE array = ? AND name = ?').run(array, name);
    }
  }

  private setContent(
    array: string,
    volume: string,
    origin: string | null,
    version: number,
    size?: number,
  ): void {
    const existing = this.volumeRow(array, volume);
    if (existing) {
      this.db
        .prepare('UPDATE volumes SET content_origin = ?, content_version = ? WHERE array = ? AND name = ?')
        .run(origin, version, array, volume);
    } else if (size !== undefined) {
      this.insertVolume({
        array,
        name: volume,
        serial: serial(),
        provisioned: size,
        destroyed: 0,
        created: this.now(),
        source: null,
        content_origin: origin,
        content_version: version,
      });
    }
  }

  // ---- volume snapshots ----

  private volumeSnapItem = (s: VolumeSnapRow): Item => ({
    name: s.name,
    id: s.serial,
    serial: s.serial,
    source: { name: s.volume },
    provisioned: s.provisioned,
    created: s.created,
    destroyed: s.destroyed === 1,
    suffix: s.name.slice(s.name.lastIndexOf('.') + 1),
    content: s.content_origin ? { origin: s.content_origin, version: s.content_version } : null,
  });

  private selectVolumeSnaps(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const rows = this.db
      .prepare('SELECT * FROM volume_snaps WHERE array = ? AND destroyed = 0 ORDER BY created, name')
      .all(array) as VolumeSnapRow[];
    const wanted = names(q.names);
    const sources = names(q.source_names);
    return rows
      .filter(
        (r) => (!wanted.length || wanted.includes(r.name)) && (!sources.length || sources.includes(r.volume)),
      )
      .map(this.volumeSnapItem);
  }

  private postVolumeSnaps(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const sources = required(q, 'source_names');
    const suffix = typeof body.suffix === 'string' ? body.suffix : String(this.now());
    const problem = suffixProblem(suffix);
    if (problem) throw bad(problem, suffix);
    return sources.map((volume) => {
      const vol = this.liveVolume(array, volume);
      const name = `${volume}.${suffix}`;
      const snap = this.insertVolumeSnap(array, name, vol, null);
      // A snapshot of a pod volume exists on every pod array (the pod is one object stretched across them).
      const pod = podOf(volume);
      if (pod) {
        for (const peer of this.podArrays(pod)) {
          const peerVol = peer.array !== array && this.volumeRow(peer.array, volume);
          if (peerVol && peer.status === 'online') this.insertVolumeSnap(peer.array, name, peerVol, null);
        }
      }
      return this.volumeSnapItem(snap);
    });
  }

  private insertVolumeSnap(
    array: string,
    name: string,
    vol: VolumeRow,
    pgroupSnap: string | null,
  ): VolumeSnapRow {
    if (this.db.prepare('SELECT 1 FROM volume_snaps WHERE array = ? AND name = ?').get(array, name)) {
      throw bad(`Snapshot '${name}' already exists.`, name);
    }
    const row: VolumeSnapRow = {
      array,
      name,
      volume: vol.name,
      pgroup_snap: pgroupSnap,
      provisioned: vol.provisioned,
      created: this.now(),
      serial: serial(),
      content_origin: vol.content_origin,
      content_version: vol.content_version,
      destroyed: 0,
    };
    this.db
      .prepare(
        `INSERT INTO volume_snaps VALUES (@array, @name, @volume, @pgroup_snap, @provisioned, @created, @serial,
         @content_origin, @content_version, @destroyed)`,
      )
      .run(row);
    return row;
  }

  // ---- protection groups ----

  private pgroupRow(array: string, name: string): PgroupRow | undefined {
    return this.db.prepare('SELECT * FROM pgroups WHERE array = ? AND name = ?').get(array, name) as
      | PgroupRow
      | undefined;
  }

  private livePgroup(array: string, name: string): PgroupRow {
    const row = this.pgroupRow(array, name);
    if (!row || row.destroyed) throw bad(`Protection group '${name}' does not exist.`, name);
    return row;
  }

  private pgroupItem = (g: PgroupRow): Item => {
    const targets = this.db
      .prepare('SELECT * FROM pgroup_targets WHERE array = ? AND pgroup = ?')
      .all(g.source, g.array === g.source ? g.name : localName(g.name)) as {
      target: string;
      allowed: number;
    }[];
    return {
      name: g.name,
      id: `${g.array}/${g.name}`,
      source: { name: g.source },
      is_local: g.array === g.source,
      destroyed: g.destroyed === 1,
      volume_count: (
        this.db
          .prepare('SELECT COUNT(*) n FROM pgroup_volumes WHERE array = ? AND pgroup = ?')
          .get(g.array, g.name) as {
          n: number;
        }
      ).n,
      target_count: targets.length,
      replication_schedule: { enabled: g.schedule_enabled === 1, frequency: g.frequency_ms },
      target_retention: { all_for_sec: g.all_for_sec, per_day: g.per_day, days: g.days },
    };
  };

  private selectPgroups(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const wanted = names(q.names);
    const rows = this.db
      .prepare('SELECT * FROM pgroups WHERE array = ? ORDER BY name')
      .all(array) as PgroupRow[];
    if (wanted.length) {
      const missing = wanted.filter((n) => !rows.some((r) => r.name === n));
      if (missing.length) throw bad(`Protection group '${missing[0]}' does not exist.`, missing[0]!);
    }
    return rows.filter((r) => !wanted.length || wanted.includes(r.name)).map(this.pgroupItem);
  }

  private postPgroups(array: string, q: Readonly<Record<string, string | undefined>>) {
    const list = required(q, 'names');
    return list.map((name) => {
      const problem = flashArrayNameProblem(name);
      if (problem) throw bad(problem, name);
      if (this.pgroupRow(array, name)) throw bad(`Protection group '${name}' already exists.`, name);
      this.db
        .prepare('INSERT INTO pgroups (array, name, source, created) VALUES (?, ?, ?, ?)')
        .run(array, name, array, this.now());
      return this.pgroupItem(this.pgroupRow(array, name)!);
    });
  }

  private patchPgroups(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const list = required(q, 'names');
    return list.map((name) => {
      const row = this.pgroupRow(array, name);
      if (!row) throw bad(`Protection group '${name}' does not exist.`, name);
      const sched = body.replication_schedule as { enabled?: boolean; frequency?: number } | undefined;
      if (sched) {
        if (sched.frequency !== undefined && (!Number.isInteger(sched.frequency) || sched.frequency < 1000)) {
          throw bad(
            `Invalid replication frequency '${sched.frequency}'. Frequency must be at least 1000 ms.`,
            name,
          );
        }
        this.db
          .prepare(
            'UPDATE pgroups SET schedule_enabled = ?, frequency_ms = ?, last_scheduled = ? WHERE array = ? AND name = ?',
          )
          .run(
            (sched.enabled ?? row.schedule_enabled === 1) ? 1 : 0,
            sched.frequency ?? row.frequency_ms,
            row.last_scheduled ?? this.now(),
            array,
            name,
          );
      }
      const ret = body.target_retention as
        | { all_for_sec?: number; per_day?: number; days?: number }
        | undefined;
      if (ret) {
        for (const [k, v] of Object.entries(ret)) {
          if (!Number.isInteger(v) || (v as number) < 0)
            throw bad(`Invalid target_retention.${k} '${v}'.`, name);
        }
        this.db
          .prepare('UPDATE pgroups SET all_for_sec = ?, per_day = ?, days = ? WHERE array = ? AND name = ?')
          .run(
            ret.all_for_sec ?? row.all_for_sec,
            ret.per_day ?? row.per_day,
            ret.days ?? row.days,
            array,
            name,
          );
      }
      if (typeof body.destroyed === 'boolean') {
        this.db
          .prepare('UPDATE pgroups SET destroyed = ? WHERE array = ? AND name = ?')
          .run(body.destroyed ? 1 : 0, array, name);
      }
      return this.pgroupItem(this.pgroupRow(array, name)!);
    });
  }

  private eradicatePgroups(array: string, list: string[]): void {
    for (const name of list) {
      const row = this.pgroupRow(array, name);
      if (!row) throw bad(`Protection group '${name}' does not exist.`, name);
      if (!row.destroyed)
        throw bad(`Protection group '${name}' must be destroyed before it can be eradicated.`, name);
      for (const snap of this.db
        .prepare('SELECT name FROM pgroup_snaps WHERE array = ? AND pgroup = ?')
        .all(array, name) as {
        name: string;
      }[]) {
        this.dropPgroupSnap(array, snap.name);
      }
      this.db.prepare('DELETE FROM pgroup_volumes WHERE array = ? AND pgroup = ?').run(array, name);
      this.db.prepare('DELETE FROM pgroup_targets WHERE array = ? AND pgroup = ?').run(array, name);
      this.db.prepare('DELETE FROM pgroups WHERE array = ? AND name = ?').run(array, name);
      // The copies this group had on its targets go with it.
      for (const t of this.db.prepare('SELECT array FROM pgroups WHERE name = ?').all(`${array}:${name}`) as {
        array: string;
      }[]) {
        for (const snap of this.db
          .prepare('SELECT name FROM pgroup_snaps WHERE array = ? AND pgroup = ?')
          .all(t.array, `${array}:${name}`) as { name: string }[]) {
          this.dropPgroupSnap(t.array, snap.name);
        }
        this.db.prepare('DELETE FROM pgroups WHERE array = ? AND name = ?').run(t.array, `${array}:${name}`);
      }
    }
  }

  private selectPgroupVolumes(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const groups = names(q.group_names);
    for (const g of groups) this.livePgroup(array, g);
    const rows = this.db
      .prepare('SELECT * FROM pgroup_volumes WHERE array = ? ORDER BY pgroup, volume')
      .all(array) as {
      pgroup: string;
      volume: string;
    }[];
    return rows
      .filter((r) => !groups.length || groups.includes(r.pgroup))
      .map((r) => ({ group: { name: r.pgroup }, member: { name: r.volume } }));
  }

  private changePgroupVolumes(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    add: boolean,
  ): Item[] {
    const groups = required(q, 'group_names');
    const members = required(q, 'member_names');
    const out: Item[] = [];
    for (const g of groups) {
      const row = this.livePgroup(array, g);
      if (row.source !== array) throw bad(`Protection group '${g}' is a replica and cannot be modified.`, g);
      for (const v of members) {
        const has = this.db
          .prepare('SELECT 1 FROM pgroup_volumes WHERE array = ? AND pgroup = ? AND volume = ?')
          .get(array, g, v);
        if (add) {
          this.liveVolume(array, v);
          if (has) throw bad(`Volume '${v}' is already a member of protection group '${g}'.`, v);
          this.db.prepare('INSERT INTO pgroup_volumes VALUES (?, ?, ?)').run(array, g, v);
        } else {
          if (!has) throw bad(`Volume '${v}' is not a member of protection group '${g}'.`, v);
          this.db
            .prepare('DELETE FROM pgroup_volumes WHERE array = ? AND pgroup = ? AND volume = ?')
            .run(array, g, v);
        }
        out.push({ group: { name: g }, member: { name: v } });
      }
    }
    return out;
  }

  private selectPgroupTargets(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const groups = names(q.group_names);
    const all = this.db.prepare('SELECT * FROM pgroup_targets').all() as {
      array: string;
      pgroup: string;
      target: string;
      allowed: number;
    }[];
    return all
      .filter((r) => r.array === array || r.target === array)
      .map((r) => ({
        group: { name: r.array === array ? r.pgroup : `${r.array}:${r.pgroup}` },
        member: { name: r.target },
        allowed: r.allowed === 1,
      }))
      .filter((i) => !groups.length || groups.includes((i.group as { name: string }).name));
  }

  private postPgroupTargets(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const groups = required(q, 'group_names');
    const targets = required(q, 'member_names');
    const out: Item[] = [];
    for (const g of groups) {
      this.livePgroup(array, g);
      for (const target of targets) {
        if (target === array)
          throw bad(`Array '${target}' cannot be a target of its own protection group.`, target);
        const connected = this.connectionItems(array).some(
          (c) => (c.remote as { name: string }).name === target,
        );
        if (!connected) throw bad(`Array '${target}' is not connected to this array.`, target);
        if (
          this.db
            .prepare('SELECT 1 FROM pgroup_targets WHERE array = ? AND pgroup = ? AND target = ?')
            .get(array, g, target)
        ) {
          throw bad(`Target '${target}' already exists in protection group '${g}'.`, target);
        }
        this.db.prepare('INSERT INTO pgroup_targets VALUES (?, ?, ?, 0)').run(array, g, target);
        const replica = `${array}:${g}`;
        const existing = this.pgroupRow(target, replica);
        if (!existing) {
          this.db
            .prepare('INSERT INTO pgroups (array, name, source, created) VALUES (?, ?, ?, ?)')
            .run(target, replica, array, this.now());
        }
        out.push({ group: { name: g }, member: { name: target }, allowed: false });
      }
    }
    return out;
  }

  private patchPgroupTargets(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const groups = required(q, 'group_names');
    if (typeof body.allowed !== 'boolean') throw bad('Missing required body field allowed.', 'allowed');
    return groups.map((replica) => {
      const [source, group] = replica.includes(':') ? replica.split(':') : [undefined, undefined];
      if (!source || !group) throw bad(`Protection group '${replica}' does not exist.`, replica);
      const info = this.db
        .prepare('SELECT 1 FROM pgroup_targets WHERE array = ? AND pgroup = ? AND target = ?')
        .get(source, group, array);
      if (!info) throw bad(`Protection group '${replica}' does not exist.`, replica);
      this.db
        .prepare('UPDATE pgroup_targets SET allowed = ? WHERE array = ? AND pgroup = ? AND target = ?')
        .run(body.allowed ? 1 : 0, source, group, array);
      return { group: { name: replica }, member: { name: array }, allowed: body.allowed };
    });
  }

  private deletePgroupTargets(array: string, q: Readonly<Record<string, string | undefined>>): void {
    const groups = names(q.group_names);
    const targets = names(q.member_names);
    for (const g of groups) {
      for (const t of targets) {
        const res = this.db
          .prepare('DELETE FROM pgroup_targets WHERE array = ? AND pgroup = ? AND target = ?')
          .run(array, g, t);
        if (!res.changes) throw bad(`Target '${t}' does not exist in protection group '${g}'.`, t);
      }
    }
  }

  // ---- protection group snapshots and replication ----

  private pgroupSnapItem = (s: PgroupSnapRow): Item => ({
    name: s.name,
    id: `${s.array}/${s.name}`,
    source: { name: s.pgroup },
    suffix: s.suffix,
    created: s.created,
    destroyed: s.destroyed === 1,
    started: s.array === s.source_array ? s.created : s.created,
    completed: s.array === s.source_array ? s.created : s.completed,
    progress:
      s.array === s.source_array || s.completed !== null
        ? 1
        : s.duration_ms
          ? s.transferred_ms / s.duration_ms
          : 0,
    volumes: (
      this.db
        .prepare('SELECT volume FROM volume_snaps WHERE array = ? AND pgroup_snap = ? ORDER BY volume')
        .all(s.array, s.name) as {
        volume: string;
      }[]
    ).map((v) => ({ name: v.volume })),
  });

  private selectPgroupSnaps(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const wanted = names(q.names);
    const sources = names(q.source_names);
    const rows = this.db
      .prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND destroyed = 0 ORDER BY created, name')
      .all(array) as PgroupSnapRow[];
    if (wanted.length) {
      const missing = wanted.filter((n) => !rows.some((r) => r.name === n));
      if (missing.length) throw bad(`Protection group snapshot '${missing[0]}' does not exist.`, missing[0]!);
    }
    for (const s of sources) {
      if (!this.pgroupRow(array, s)) throw bad(`Protection group '${s}' does not exist.`, s);
    }
    return rows
      .filter(
        (r) => (!wanted.length || wanted.includes(r.name)) && (!sources.length || sources.includes(r.pgroup)),
      )
      .map(this.pgroupSnapItem);
  }

  private postPgroupSnaps(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const sources = required(q, 'source_names');
    const replicate = q.replicate_now === 'true' || q.replicate === 'true';
    return sources.map((g) => {
      const row = this.livePgroup(array, g);
      if (row.source !== array)
        throw bad(`Protection group '${g}' is a replica; snapshots are taken on its source.`, g);
      const suffix = typeof body.suffix === 'string' ? body.suffix : undefined;
      return this.pgroupSnapItem(this.takePgroupSnap(row, suffix, replicate));
    });
  }

  /** Snapshots every member volume, and, when replicating, starts the transfer to each allowed target. */
  private takePgroupSnap(group: PgroupRow, suffix: string | undefined, replicate: boolean): PgroupSnapRow {
    const now = this.now();
    const seq = group.snap_seq + 1;
    this.db
      .prepare('UPDATE pgroups SET snap_seq = ? WHERE array = ? AND name = ?')
      .run(seq, group.array, group.name);
    const sfx = suffix ?? String(seq);
    const problem = suffixProblem(sfx);
    if (problem) throw bad(problem, sfx);
    const name = `${group.name}.${sfx}`;
    if (this.db.prepare('SELECT 1 FROM pgroup_snaps WHERE array = ? AND name = ?').get(group.array, name)) {
      throw bad(`Protection group snapshot '${name}' already exists.`, name);
    }
    const volumes = (
      this.db
        .prepare('SELECT volume FROM pgroup_volumes WHERE array = ? AND pgroup = ?')
        .all(group.array, group.name) as {
        volume: string;
      }[]
    ).map((r) => this.liveVolume(group.array, r.volume));
    const insert = this.db.prepare(
      `INSERT INTO pgroup_snaps (array, name, pgroup, source_array, suffix, created, duration_ms, transferred_ms, last_tick, completed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    insert.run(group.array, name, group.name, group.array, sfx, now, 0, 0, now, now);
    for (const v of volumes) this.insertVolumeSnap(group.array, `${name}.${v.name}`, v, name);
    if (replicate) {
      const targets = this.db
        .prepare('SELECT target FROM pgroup_targets WHERE array = ? AND pgroup = ? AND allowed = 1')
        .all(group.array, group.name) as { target: string }[];
      const duration = this.transferMs;
      for (const { target } of targets) {
        const remoteGroup = `${group.array}:${group.name}`;
        const remoteName = `${group.array}:${name}`;
        insert.run(
          target,
          remoteName,
          remoteGroup,
          group.array,
          sfx,
          now,
          duration,
          0,
          now,
          duration === 0 ? now : null,
        );
        for (const v of volumes) this.insertVolumeSnap(target, `${remoteName}.${v.name}`, v, remoteName);
        this.applyRetention(target, remoteGroup, group);
      }
    }
    this.applyRetention(group.array, group.name, group);
    return this.db
      .prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND name = ?')
      .get(group.array, name) as PgroupSnapRow;
  }

  /** FlashArray retention: keep all snapshots younger than all_for_sec; then per_day x days more, newest first. */
  private applyRetention(array: string, pgroup: string, policy: PgroupRow): void {
    const now = this.now();
    const snaps = this.db
      .prepare(
        'SELECT * FROM pgroup_snaps WHERE array = ? AND pgroup = ? AND destroyed = 0 ORDER BY created DESC, name DESC',
      )
      .all(array, pgroup) as PgroupSnapRow[];
    let extra = policy.per_day * policy.days;
    for (const s of snaps) {
      if (now - s.created <= policy.all_for_sec * 1000) continue;
      if (s.completed === null) continue;
      if (extra > 0) {
        extra--;
        continue;
      }
      this.dropPgroupSnap(array, s.name);
    }
  }

  private runSchedules(now: number): void {
    const due = this.db
      .prepare(
        'SELECT * FROM pgroups WHERE schedule_enabled = 1 AND destroyed = 0 AND array = source AND last_scheduled + frequency_ms <= ?',
      )
      .all(now) as PgroupRow[];
    for (const group of due) {
      if (this.arrayRow(group.array).down) continue;
      this.db
        .prepare('UPDATE pgroups SET last_scheduled = ? WHERE array = ? AND name = ?')
        .run(now, group.array, group.name);
      this.takePgroupSnap(group, undefined, true);
    }
  }

  private patchPgroupSnaps(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const list = required(q, 'names');
    return list.map((name) => {
      const row = this.db
        .prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND name = ?')
        .get(array, name) as PgroupSnapRow | undefined;
      if (!row) throw bad(`Protection group snapshot '${name}' does not exist.`, name);
      if (typeof body.destroyed === 'boolean') {
        this.db
          .prepare('UPDATE pgroup_snaps SET destroyed = ? WHERE array = ? AND name = ?')
          .run(body.destroyed ? 1 : 0, array, name);
        this.db
          .prepare('UPDATE volume_snaps SET destroyed = ? WHERE array = ? AND pgroup_snap = ?')
          .run(body.destroyed ? 1 : 0, array, name);
      }
      return this.pgroupSnapItem({ ...row, destroyed: body.destroyed ? 1 : 0 });
    });
  }

  private eradicatePgroupSnaps(array: string, list: string[]): void {
    for (const name of list) {
      const row = this.db
        .prepare('SELECT destroyed FROM pgroup_snaps WHERE array = ? AND name = ?')
        .get(array, name) as { destroyed: number } | undefined;
      if (!row) throw bad(`Protection group snapshot '${name}' does not exist.`, name);
      if (!row.destroyed)
        throw bad(`Protection group snapshot '${name}' must be destroyed before it can be eradicated.`, name);
      this.dropPgroupSnap(array, name);
    }
  }

  private dropPgroupSnap(array: string, name: string): void {
    this.db.prepare('DELETE FROM volume_snaps WHERE array = ? AND pgroup_snap = ?').run(array, name);
    this.db.prepare('DELETE FROM pgroup_snaps WHERE array = ? AND name = ?').run(array, name);
  }

  // ---- pods ----

  private podArrays(pod: string): PodArrayRow[] {
    return this.db
      .prepare('SELECT * FROM pod_arrays WHERE pod = ? ORDER BY position')
      .all(pod) as PodArrayRow[];
  }

  private podArray(pod: string, array: string): PodArrayRow | undefined {
    return this.podArrays(pod).find((p) => p.array === array);
  }

  private volumesInPod(array: string, pod: string): VolumeRow[] {
    return this.db
      .prepare('SELECT * FROM volumes WHERE array = ? AND name LIKE ? AND destroyed = 0')
      .all(array, `${pod}::%`) as VolumeRow[];
  }

  private requireLivePod(pod: string, array: string): PodArrayRow {
    const row = this.db.prepare('SELECT * FROM pods WHERE name = ? AND destroyed = 0').get(pod);
    const member = this.podArray(pod, array);
    if (!row || !member) throw bad(`Pod '${pod}' does not exist.`, pod);
    return member;
  }

  private podItem(array: string, pod: string): Item {
    const arrays = this.podArrays(pod);
    const me = arrays.find((a) => a.array === array);
    return {
      name: pod,
      id: pod,
      arrays: arrays.map((a) => ({ name: a.array, status: a.status, promotion_status: a.promotion })),
      array_count: arrays.length,
      promotion_status: me?.promotion ?? 'demoted',
      requested_promotion_state: me?.promotion ?? 'demoted',
      destroyed: false,
      volume_count: this.volumesInPod(array, pod).length,
    };
  }

  private selectPods(array: string, q: Readonly<Record<string, string | undefined>>): Item[] {
    const wanted = names(q.names);
    const pods = (
      this.db
        .prepare(
          'SELECT p.name FROM pods p JOIN pod_arrays a ON a.pod = p.name WHERE a.array = ? AND p.destroyed = 0 ORDER BY p.name',
        )
        .all(array) as { name: string }[]
    ).map((r) => r.name);
    const missing = wanted.filter((n) => !pods.includes(n));
    if (missing.length) throw bad(`Pod '${missing[0]}' does not exist.`, missing[0]!);
    return pods.filter((p) => !wanted.length || wanted.includes(p)).map((p) => this.podItem(array, p));
  }

  private postPods(array: string, q: Readonly<Record<string, string | undefined>>) {
    const list = required(q, 'names');
    return list.map((name) => {
      const problem = flashArrayNameProblem(name);
      if (problem) throw bad(problem, name);
      if (this.db.prepare('SELECT 1 FROM pods WHERE name = ?').get(name))
        throw bad(`Pod '${name}' already exists.`, name);
      this.db.prepare('INSERT INTO pods (name, created) VALUES (?, ?)').run(name, this.now());
      this.db.prepare("INSERT INTO pod_arrays VALUES (?, ?, 'online', 'promoted', 0)").run(name, array);
      return this.podItem(array, name);
    });
  }

  private stretchPod(array: string, q: Readonly<Record<string, string | undefined>>) {
    const pods = required(q, 'group_names');
    const members = required(q, 'member_names');
    return pods.flatMap((pod) => {
      this.requireLivePod(pod, array);
      return members.map((target) => {
        this.arrayRow(target);
        if (this.podArray(pod, target))
          throw bad(`Array '${target}' is already a member of pod '${pod}'.`, target);
        if (this.linkStatus(array, target) !== 'connected') {
          throw bad(`Array '${target}' is not connected to this array; cannot stretch pod '${pod}'.`, target);
        }
        const position = this.podArrays(pod).length;
        this.db
          .prepare("INSERT INTO pod_arrays VALUES (?, ?, 'online', 'promoted', ?)")
          .run(pod, target, position);
        for (const v of this.volumesInPod(array, pod)) {
          this.setContent(target, v.name, v.content_origin, v.content_version, v.provisioned);
        }
        return { pod: { name: pod }, member: { name: target }, status: 'online' };
      });
    });
  }

  private unstretchPod(q: Readonly<Record<string, string | undefined>>): void {
    for (const pod of names(q.group_names)) {
      for (const member of names(q.member_names)) {
        if (!this.podArray(pod, member))
          throw bad(`Array '${member}' is not a member of pod '${pod}'.`, member);
        if (this.podArrays(pod).length < 2) throw bad(`Pod '${pod}' is not stretched.`, pod);
        this.db.prepare('DELETE FROM pod_arrays WHERE pod = ? AND array = ?').run(pod, member);
        this.db.prepare('DELETE FROM volumes WHERE array = ? AND name LIKE ?').run(member, `${pod}::%`);
      }
    }
  }

  private patchPods(
    array: string,
    q: Readonly<Record<string, string | undefined>>,
    body: Record<string, unknown>,
  ) {
    const list = required(q, 'names');
    return list.map((pod) => {
      this.requireLivePod(pod, array);
      const state = body.requested_promotion_state;
      if (state !== undefined) {
        if (state !== 'promoted' && state !== 'demoted') {
          throw bad(
            `Invalid requested_promotion_state '${String(state)}'. Use 'promoted' or 'demoted'.`,
            pod,
          );
        }
        if (this.podArrays(pod).length < 2) {
          throw bad(
            `Pod '${pod}' is not stretched; promotion state can only change on a stretched pod.`,
            pod,
          );
        }
        this.db
          .prepare('UPDATE pod_arrays SET promotion = ? WHERE pod = ? AND array = ?')
          .run(state, pod, array);
      }
      if (body.destroyed === true) {
        if (this.volumesInPod(array, pod).length)
          throw bad(`Pod '${pod}' contains volumes and cannot be destroyed.`, pod);
        this.db.prepare('UPDATE pods SET destroyed = 1 WHERE name = ?').run(pod);
      }
      return this.podItem(array, pod);
    });
  }

  private eradicatePods(array: string, list: string[]): void {
    for (const pod of list) {
      const row = this.db.prepare('SELECT destroyed FROM pods WHERE name = ?').get(pod) as
        | { destroyed: number }
        | undefined;
      if (!row || !this.podArray(pod, array)) throw bad(`Pod '${pod}' does not exist.`, pod);
      if (!row.destroyed) throw bad(`Pod '${pod}' must be destroyed before it can be eradicated.`, pod);
      this.db.prepare('DELETE FROM pod_arrays WHERE pod = ?').run(pod);
      this.db.prepare('DELETE FROM pods WHERE name = ?').run(pod);
    }
  }

  private selectPodArrays(q: Readonly<Record<string, string | undefined>>): Item[] {
    return names(q.group_names).flatMap((pod) =>
      this.podArrays(pod).map((a) => ({ pod: { name: pod }, member: { name: a.array }, status: a.status })),
    );
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}

const podOf = (volume: string): string | null => (volume.includes('::') ? volume.split('::')[0]! : null);
const localName = (replica: string): string => replica.slice(replica.indexOf(':') + 1);

function transferItem(snap: Item): Item {
  return {
    name: snap.name,
    id: snap.id,
    started: snap.started,
    completed: snap.completed,
    progress: snap.progress,
  };
}

export type { Row };
