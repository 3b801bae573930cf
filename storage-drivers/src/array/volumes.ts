/**
 * Volumes: create, copy from a volume or snapshot (with overwrite), resize, move into and out of a
 * pod, destroy and eradicate; and the content (origin, version) a volume holds.
 */
import { randomUUID } from 'node:crypto';
import { sizeProblem, volumeNameProblem } from '@protector/schema';
import type { ArrayModel, PgroupSnapRow, VolumeRow, VolumeSnapRow } from './model.js';
import { podArrays, podOf, requireLivePod } from './pod-members.js';
import type { Item } from './query.js';
import { type Body, bad, names, type Query, required, requireExisting } from './rest.js';

/** A new serial number, as FlashArray gives every volume and snapshot. */
export const serial = () => randomUUID().replace(/-/g, '').slice(0, 24).toUpperCase();

export function volumeRow(m: ArrayModel, array: string, name: string): VolumeRow | undefined {
  return m.db.prepare('SELECT * FROM volumes WHERE array = ? AND name = ?').get(array, name) as
    | VolumeRow
    | undefined;
}

/** A volume that exists and is not destroyed; 400 otherwise. */
export function liveVolume(m: ArrayModel, array: string, name: string): VolumeRow {
  const row = volumeRow(m, array, name);
  if (!row || row.destroyed) throw bad(`Volume '${name}' does not exist.`, name);
  return row;
}

/** A reference to a pod (REST `Reference`; a pod's id is its name here). */
export const podRef = (name: string): Item | null => {
  const pod = podOf(name);
  return pod ? { id: pod, name: pod } : null;
};

/**
 * A volume as REST 2.26 returns it. `source` is the volume a copy came from (for a copy of a snapshot,
 * the snapshot's own source volume), as on an array; the content a volume holds is sim-only data and
 * is read through the store, never here.
 */
function volumeItem(m: ArrayModel, v: VolumeRow): Item {
  const source = v.source ? (volumeRow(m, v.array, v.source)?.serial ?? '') : null;
  return {
    id: v.serial,
    name: v.name,
    serial: v.serial,
    provisioned: v.provisioned,
    destroyed: v.destroyed === 1,
    created: v.created,
    source: v.source ? { id: source, name: v.source } : null,
    pod: podRef(v.name),
    subtype: 'regular',
    space: { total_provisioned: v.provisioned },
  };
}

/** `GET /volumes`: by `names` (each must exist), else all, optionally only `destroyed` or live ones. */
export function selectVolumes(m: ArrayModel, array: string, q: Query): Item[] {
  const wanted = names(q.names);
  const rows = m.db.prepare('SELECT * FROM volumes WHERE array = ? ORDER BY name').all(array) as VolumeRow[];
  if (wanted.length) {
    requireExisting(
      'Volume',
      wanted,
      rows.map((r) => r.name),
    );
    return rows.filter((r) => wanted.includes(r.name)).map((r) => volumeItem(m, r));
  }
  const destroyed = q.destroyed === undefined ? null : q.destroyed === 'true';
  return rows
    .filter((r) => destroyed === null || (r.destroyed === 1) === destroyed)
    .map((r) => volumeItem(m, r));
}

/** `POST /volumes`: a new volume of `provisioned` bytes (on every online pod array for `POD::VOL`), or a copy. */
export function postVolumes(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const list = required(q, 'names');
  const overwrite = q.overwrite === 'true';
  const source = (body.source as { name?: string } | undefined)?.name;
  return list.map((name) => {
    const problem = volumeNameProblem(name);
    if (problem) throw bad(problem, name);
    const existing = volumeRow(m, array, name);
    if (existing && (!overwrite || !source)) throw bad(`Volume '${name}' already exists.`, name);
    if (existing?.destroyed) throw bad(`Volume '${name}' already exists.`, name);
    const pod = podOf(name);
    if (pod) requireLivePod(m, pod, array);
    if (source) return volumeItem(m, copyVolume(m, array, name, source, existing));
    const size = body.provisioned;
    const sp = sizeProblem(size);
    if (sp) throw bad(sp, name);
    const row: VolumeRow = {
      array,
      name,
      serial: serial(),
      provisioned: size as number,
      destroyed: 0,
      created: m.now(),
      source: null,
      content_origin: null,
      content_version: 0,
    };
    row.content_origin = row.serial;
    const targets = pod ? podArrays(m, pod).filter((p) => p.status === 'online') : [];
    insertVolume(m, row);
    for (const peer of targets) if (peer.array !== array) insertVolume(m, { ...row, array: peer.array });
    return volumeItem(m, row);
  });
}

function insertVolume(m: ArrayModel, row: VolumeRow): void {
  m.db
    .prepare(
      `INSERT INTO volumes (array, name, serial, provisioned, destroyed, created, source, content_origin, content_version)
       VALUES (@array, @name, @serial, @provisioned, @destroyed, @created, @source, @content_origin, @content_version)`,
    )
    .run(row);
}

/**
 * The volume a snapshot was taken of, as its `source` names it: on the array that took it, the volume's
 * name; on a replication target (snapshot `SRC:PG.N.VOL`), the source array's volume, `SRC:VOL`.
 */
export function snapSource(s: VolumeSnapRow): string {
  const replica = s.pgroup_snap && !s.pgroup_snap.includes('::') ? s.pgroup_snap.split(':') : [];
  return replica.length === 2 ? `${replica[0]}:${s.volume}` : s.volume;
}

/** `POST /volumes?names=V {source:{name}}`: copy a volume or a volume snapshot into V. */
function copyVolume(
  m: ArrayModel,
  array: string,
  name: string,
  source: string,
  existing: VolumeRow | undefined,
): VolumeRow {
  const snap = m.db
    .prepare('SELECT * FROM volume_snaps WHERE array = ? AND name = ? AND destroyed = 0')
    .get(array, source) as VolumeSnapRow | undefined;
  let from: { provisioned: number; origin: string | null; version: number; source: string };
  if (snap) {
    if (snap.pgroup_snap) {
      const pg = m.db
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
    from = {
      provisioned: snap.provisioned,
      origin: snap.content_origin,
      version: snap.content_version,
      source: snapSource(snap),
    };
  } else {
    const vol = volumeRow(m, array, source);
    if (!vol || vol.destroyed) throw bad(`Volume or snapshot '${source}' does not exist.`, source);
    from = {
      provisioned: vol.provisioned,
      origin: vol.content_origin,
      version: vol.content_version,
      source: vol.name,
    };
  }
  if (existing) {
    m.db
      .prepare(
        'UPDATE volumes SET provisioned = ?, source = ?, content_origin = ?, content_version = ? WHERE array = ? AND name = ?',
      )
      .run(from.provisioned, from.source, from.origin, from.version, array, name);
    return volumeRow(m, array, name)!;
  }
  const row: VolumeRow = {
    array,
    name,
    serial: serial(),
    provisioned: from.provisioned,
    destroyed: 0,
    created: m.now(),
    source: from.source,
    content_origin: from.origin,
    content_version: from.version,
  };
  insertVolume(m, row);
  return row;
}

/** `PATCH /volumes`: rename, move into or out of a pod, destroy or recover, or grow. */
export function patchVolumes(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const list = required(q, 'names');
  return list.map((name) => {
    const row = volumeRow(m, array, name);
    if (!row) throw bad(`Volume '${name}' does not exist.`, name);
    if (typeof body.name === 'string' && body.name !== name)
      return volumeItem(m, renameVolume(m, array, row, body.name));
    if (body.pod !== undefined)
      return volumeItem(m, moveVolume(m, array, row, body.pod as { name?: string } | null));
    if (typeof body.destroyed === 'boolean') {
      m.db
        .prepare('UPDATE volumes SET destroyed = ? WHERE array = ? AND name = ?')
        .run(body.destroyed ? 1 : 0, array, name);
      if (body.destroyed)
        m.db.prepare('DELETE FROM pgroup_volumes WHERE array = ? AND volume = ?').run(array, name);
    }
    if (body.provisioned !== undefined) {
      const sp = sizeProblem(body.provisioned);
      if (sp) throw bad(sp, name);
      if ((body.provisioned as number) < row.provisioned) {
        throw bad(`Volume '${name}' cannot be shrunk without truncate=true.`, name);
      }
      m.db
        .prepare('UPDATE volumes SET provisioned = ? WHERE array = ? AND name = ?')
        .run(body.provisioned, array, name);
    }
    return volumeItem(m, volumeRow(m, array, name)!);
  });
}

/**
 * `PATCH /volumes {name}` renames a volume (as Cinder's Pure driver does when it manages one). A pod
 * volume keeps its pod (`POD::NEW`) and is renamed on every array of the pod; its group memberships follow.
 */
function renameVolume(m: ArrayModel, array: string, row: VolumeRow, to: string): VolumeRow {
  const problem = volumeNameProblem(to);
  if (problem) throw bad(problem, to);
  if (row.destroyed) throw bad(`Volume '${row.name}' is destroyed and cannot be renamed.`, row.name);
  const pod = podOf(row.name);
  if (podOf(to) !== pod) {
    throw bad(`Volume '${row.name}' cannot change pods by a rename; set pod to move it.`, row.name);
  }
  if (volumeRow(m, array, to)) throw bad(`Volume '${to}' already exists.`, to);
  const where = pod ? '' : ' AND array = ?';
  const args = pod ? [to, row.name] : [to, row.name, array];
  m.db.prepare(`UPDATE volumes SET name = ? WHERE name = ?${where}`).run(...args);
  m.db.prepare(`UPDATE pgroup_volumes SET volume = ? WHERE volume = ?${where}`).run(...args);
  return volumeRow(m, array, to)!;
}

/**
 * `PATCH /volumes {pod:{name}}` moves a volume into a pod (it becomes `pod::name` and is mirrored to
 * every online pod array); `{pod: null}` moves it back out (the mirrors go).
 */
function moveVolume(m: ArrayModel, array: string, row: VolumeRow, pod: { name?: string } | null): VolumeRow {
  const current = podOf(row.name);
  const local = current ? row.name.slice(current.length + 2) : row.name;
  const target = pod?.name ?? null;
  if (target === current) return row;
  if (target) requireLivePod(m, target, array);
  const newName = target ? `${target}::${local}` : local;
  if (volumeRow(m, array, newName)) throw bad(`Volume '${newName}' already exists.`, newName);
  if (m.db.prepare('SELECT 1 FROM pgroup_volumes WHERE array = ? AND volume = ?').get(array, row.name)) {
    throw bad(`Volume '${row.name}' is a member of a protection group and cannot be moved.`, row.name);
  }
  m.db.prepare('UPDATE volumes SET name = ? WHERE array = ? AND name = ?').run(newName, array, row.name);
  if (current) m.db.prepare('DELETE FROM volumes WHERE name = ? AND array != ?').run(row.name, array);
  if (target) {
    for (const peer of podArrays(m, target)) {
      if (peer.array !== array && peer.status === 'online') {
        setContent(m, peer.array, newName, row.content_origin, row.content_version, row.provisioned);
      }
    }
  }
  return volumeRow(m, array, newName)!;
}

/** `DELETE /volumes`: only destroyed volumes can be eradicated. */
export function eradicateVolumes(m: ArrayModel, array: string, list: string[]): void {
  for (const name of list) {
    const row = volumeRow(m, array, name);
    if (!row) throw bad(`Volume '${name}' does not exist.`, name);
    if (!row.destroyed) throw bad(`Volume '${name}' must be destroyed before it can be eradicated.`, name);
    m.db.prepare('DELETE FROM volumes WHERE array = ? AND name = ?').run(array, name);
  }
}

/** Sets a volume's content; with `size`, creates the volume (a pod mirror) when it is absent. */
export function setContent(
  m: ArrayModel,
  array: string,
  volume: string,
  origin: string | null,
  version: number,
  size?: number,
): void {
  const existing = volumeRow(m, array, volume);
  if (existing) {
    m.db
      .prepare('UPDATE volumes SET content_origin = ?, content_version = ? WHERE array = ? AND name = ?')
      .run(origin, version, array, volume);
  } else if (size !== undefined) {
    insertVolume(m, {
      array,
      name: volume,
      serial: serial(),
      provisioned: size,
      destroyed: 0,
      created: m.now(),
      source: null,
      content_origin: origin,
      content_version: version,
    });
  }
}

/** What a volume or volume snapshot holds: the serial of the volume first written and its write count. */
export interface ContentEntry {
  readonly name: string;
  readonly kind: 'volume' | 'snapshot';
  readonly origin: string | null;
  readonly version: number;
}

/** The content of the named (else all live) volumes and volume snapshots on `array`; sim-only data. */
export function contentOf(m: ArrayModel, array: string, wanted?: readonly string[]): ContentEntry[] {
  const rows = [
    ...(
      m.db
        .prepare('SELECT name, content_origin, content_version, destroyed FROM volumes WHERE array = ?')
        .all(array) as {
        name: string;
        content_origin: string | null;
        content_version: number;
        destroyed: number;
      }[]
    ).map((r) => ({ ...r, kind: 'volume' as const })),
    ...(
      m.db
        .prepare('SELECT name, content_origin, content_version, destroyed FROM volume_snaps WHERE array = ?')
        .all(array) as {
        name: string;
        content_origin: string | null;
        content_version: number;
        destroyed: number;
      }[]
    ).map((r) => ({ ...r, kind: 'snapshot' as const })),
  ];
  return rows
    .filter((r) => (wanted ? wanted.includes(r.name) : r.destroyed === 0))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((r) => ({ name: r.name, kind: r.kind, origin: r.content_origin, version: r.content_version }));
}
