/**
 * Volume snapshots: `GET`/`POST /volume-snapshots` (a pod volume's snapshot exists on every online
 * pod array), and the per-volume snapshots a protection group snapshot is made of.
 */

import { suffixProblem } from '@protector/schema';
import type { ArrayModel, VolumeRow, VolumeSnapRow } from './model.js';
import { podArrays, podOf } from './pod-members.js';
import { type Item, namePrefix } from './query.js';
import { type Body, bad, names, type Query, required } from './rest.js';
import { liveVolume, podRef, serial, snapSource, volumeRow } from './volumes.js';

/**
 * A volume snapshot as REST 2.26 returns it (its content is sim-only data, read through the store).
 * `serials` keeps the source volumes' serials already read, for a list of many snapshots.
 */
function volumeSnapItem(m: ArrayModel, s: VolumeSnapRow, serials = new Map<string, string>()): Item {
  const source = snapSource(s);
  let serial = serials.get(source);
  if (serial === undefined) {
    serial = volumeRow(m, s.array, source)?.serial ?? '';
    serials.set(source, serial);
  }
  return {
    id: s.serial,
    name: s.name,
    serial: s.serial,
    source: { id: serial, name: source },
    pod: podRef(s.name),
    provisioned: s.provisioned,
    created: s.created,
    destroyed: s.destroyed === 1,
    suffix: s.name.slice(s.name.lastIndexOf('.') + 1),
  };
}

/**
 * `GET /volume-snapshots`: oldest first, optionally by `names` and `source_names`; live and destroyed
 * unless `destroyed` says which, as on an array.
 */
export function selectVolumeSnaps(m: ArrayModel, array: string, q: Query): Item[] {
  const wanted = names(q.names);
  // Snapshots asked for by name, or by a name prefix in the filter (a point's, `<point>.*`), are read
  // by the primary key, not by reading all of them; the filter still decides.
  const prefix = namePrefix(q.filter);
  const rows = (
    wanted.length
      ? m.db
          .prepare(
            `SELECT * FROM volume_snaps WHERE array = ? AND name IN (${wanted.map(() => '?').join(',')}) ORDER BY created, name`,
          )
          .all(array, ...wanted)
      : prefix !== null
        ? m.db
            .prepare(
              'SELECT * FROM volume_snaps WHERE array = ? AND name >= ? AND name < ? ORDER BY created, name',
            )
            .all(array, prefix, `${prefix}\u{10FFFF}`)
        : m.db.prepare('SELECT * FROM volume_snaps WHERE array = ? ORDER BY created, name').all(array)
  ) as VolumeSnapRow[];
  const wantedSet = new Set(wanted);
  const sources = new Set(names(q.source_names));
  const destroyed = q.destroyed === undefined ? null : q.destroyed === 'true';
  const serials = new Map<string, string>();
  return rows
    .filter(
      (r) =>
        (!wantedSet.size || wantedSet.has(r.name)) &&
        (!sources.size || sources.has(snapSource(r))) &&
        (destroyed === null || (r.destroyed === 1) === destroyed),
    )
    .map((r) => volumeSnapItem(m, r, serials));
}

/** `POST /volume-snapshots?source_names=V,..`: `V.<suffix>` for each source volume. */
export function postVolumeSnaps(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const sources = required(q, 'source_names');
  const suffix = typeof body.suffix === 'string' ? body.suffix : String(m.now());
  const problem = suffixProblem(suffix);
  if (problem) throw bad(problem, suffix);
  return sources.map((volume) => {
    const vol = liveVolume(m, array, volume);
    const name = `${volume}.${suffix}`;
    const snap = insertVolumeSnap(m, array, name, vol, null);
    // A snapshot of a pod volume exists on every pod array (the pod is one object stretched across them).
    const pod = podOf(volume);
    if (pod) {
      for (const peer of podArrays(m, pod)) {
        const peerVol = peer.array !== array && volumeRow(m, peer.array, volume);
        if (peerVol && peer.status === 'online') insertVolumeSnap(m, peer.array, name, peerVol, null);
      }
    }
    return volumeSnapItem(m, snap);
  });
}

/** Snapshots `vol` as `name` on `array`, as part of group snapshot `pgroupSnap` when given. */
export function insertVolumeSnap(
  m: ArrayModel,
  array: string,
  name: string,
  vol: VolumeRow,
  pgroupSnap: string | null,
): VolumeSnapRow {
  if (m.db.prepare('SELECT 1 FROM volume_snaps WHERE array = ? AND name = ?').get(array, name)) {
    throw bad(`Snapshot '${name}' already exists.`, name);
  }
  const row: VolumeSnapRow = {
    array,
    name,
    volume: vol.name,
    pgroup_snap: pgroupSnap,
    provisioned: vol.provisioned,
    created: m.now(),
    serial: serial(),
    content_origin: vol.content_origin,
    content_version: vol.content_version,
    destroyed: 0,
  };
  m.db
    .prepare(
      `INSERT INTO volume_snaps VALUES (@array, @name, @volume, @pgroup_snap, @provisioned, @created, @serial,
       @content_origin, @content_version, @destroyed)`,
    )
    .run(row);
  return row;
}
