/**
 * The `/protection-group-snapshots` endpoints: list (with transfer progress on a target), take,
 * destroy or recover, eradicate, and the `/transfer` view.
 */
import type { ArrayModel, PgroupSnapRow } from './model.js';
import { livePgroup, pgroupRow } from './pgroups.js';
import type { Item } from './query.js';
import { dropPgroupSnap, takePgroupSnap } from './replication.js';
import { type Body, bad, names, type Query, required, requireExisting } from './rest.js';

function pgroupSnapItem(m: ArrayModel, s: PgroupSnapRow): Item {
  return {
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
      m.db
        .prepare('SELECT volume FROM volume_snaps WHERE array = ? AND pgroup_snap = ? ORDER BY volume')
        .all(s.array, s.name) as {
        volume: string;
      }[]
    ).map((v) => ({ name: v.volume })),
  };
}

/** `GET /protection-group-snapshots`: live ones, oldest first, by `names` and `source_names` (each must exist). */
export function selectPgroupSnaps(m: ArrayModel, array: string, q: Query): Item[] {
  const wanted = names(q.names);
  const sources = names(q.source_names);
  const rows = m.db
    .prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND destroyed = 0 ORDER BY created, name')
    .all(array) as PgroupSnapRow[];
  if (wanted.length) {
    requireExisting(
      'Protection group snapshot',
      wanted,
      rows.map((r) => r.name),
    );
  }
  for (const s of sources) {
    if (!pgroupRow(m, array, s)) throw bad(`Protection group '${s}' does not exist.`, s);
  }
  return rows
    .filter(
      (r) => (!wanted.length || wanted.includes(r.name)) && (!sources.length || sources.includes(r.pgroup)),
    )
    .map((r) => pgroupSnapItem(m, r));
}

/** `GET /protection-group-snapshots/transfer`: the transfer fields of the selected snapshots. */
export function selectPgroupTransfers(m: ArrayModel, array: string, q: Query): Item[] {
  return selectPgroupSnaps(m, array, q).map((snap) => ({
    name: snap.name,
    id: snap.id,
    started: snap.started,
    completed: snap.completed,
    progress: snap.progress,
  }));
}

/** `POST /protection-group-snapshots`: on the source only; `replicate_now` starts the transfers. */
export function postPgroupSnaps(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const sources = required(q, 'source_names');
  const replicate = q.replicate_now === 'true' || q.replicate === 'true';
  return sources.map((g) => {
    const row = livePgroup(m, array, g);
    if (row.source !== array)
      throw bad(`Protection group '${g}' is a replica; snapshots are taken on its source.`, g);
    const suffix = typeof body.suffix === 'string' ? body.suffix : undefined;
    return pgroupSnapItem(m, takePgroupSnap(m, row, suffix, replicate));
  });
}

/** `PATCH /protection-group-snapshots {destroyed}`: with their volume snapshots. */
export function patchPgroupSnaps(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const list = required(q, 'names');
  return list.map((name) => {
    const row = m.db.prepare('SELECT * FROM pgroup_snaps WHERE array = ? AND name = ?').get(array, name) as
      | PgroupSnapRow
      | undefined;
    if (!row) throw bad(`Protection group snapshot '${name}' does not exist.`, name);
    if (typeof body.destroyed === 'boolean') {
      m.db
        .prepare('UPDATE pgroup_snaps SET destroyed = ? WHERE array = ? AND name = ?')
        .run(body.destroyed ? 1 : 0, array, name);
      m.db
        .prepare('UPDATE volume_snaps SET destroyed = ? WHERE array = ? AND pgroup_snap = ?')
        .run(body.destroyed ? 1 : 0, array, name);
    }
    return pgroupSnapItem(m, { ...row, destroyed: body.destroyed ? 1 : 0 });
  });
}

/** `DELETE /protection-group-snapshots`: only destroyed snapshots can be eradicated. */
export function eradicatePgroupSnaps(m: ArrayModel, array: string, list: string[]): void {
  for (const name of list) {
    const row = m.db
      .prepare('SELECT destroyed FROM pgroup_snaps WHERE array = ? AND name = ?')
      .get(array, name) as { destroyed: number } | undefined;
    if (!row) throw bad(`Protection group snapshot '${name}' does not exist.`, name);
    if (!row.destroyed)
      throw bad(`Protection group snapshot '${name}' must be destroyed before it can be eradicated.`, name);
    dropPgroupSnap(m, array, name);
  }
}
