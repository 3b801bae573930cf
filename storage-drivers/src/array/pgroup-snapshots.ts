/**
 * The `/protection-group-snapshots` endpoints: list, take,
 * destroy or recover, eradicate, and the `/transfer` view.
 */
import type { ArrayModel, PgroupSnapRow } from './model.js';
import { livePgroup, pgroupRow } from './pgroups.js';
import { type Item, wildcard } from './query.js';
import { dropPgroupSnap, takePgroupSnap } from './replication.js';
import { type Body, bad, names, type Query, required } from './rest.js';

/** A protection group snapshot as REST 2.26 returns it: no progress, completion or volume list (see /transfer). */
function pgroupSnapItem(s: PgroupSnapRow): Item {
  return {
    id: `${s.array}/${s.name}`,
    name: s.name,
    created: s.created,
    destroyed: s.destroyed === 1,
    pod: null,
    source: { id: `${s.array}/${s.pgroup}`, name: s.pgroup },
    suffix: s.suffix,
    time_remaining: null,
  };
}

/** The total size of a group snapshot's volume snapshots, in bytes. */
function snapBytes(m: ArrayModel, s: PgroupSnapRow): number {
  return (
    m.db
      .prepare('SELECT COALESCE(SUM(provisioned), 0) n FROM volume_snaps WHERE array = ? AND pgroup_snap = ?')
      .get(s.array, s.name) as { n: number }
  ).n;
}

/**
 * A snapshot's replication as `/protection-group-snapshots/transfer` reports it, the same on both
 * arrays: on the target from its own copy, on the source from the copy it sent (none sent: nulls).
 */
function transferItem(m: ArrayModel, s: PgroupSnapRow): Item {
  const copy =
    s.array !== s.source_array
      ? s
      : (m.db
          .prepare('SELECT * FROM pgroup_snaps WHERE name = ? AND source_array = ? AND array != ? LIMIT 1')
          .get(`${s.array}:${s.name}`, s.array, s.array) as PgroupSnapRow | undefined);
  const base = { id: `${s.array}/${s.name}`, name: s.name, destroyed: s.destroyed === 1 };
  if (!copy) {
    return {
      ...base,
      started: null,
      completed: null,
      progress: null,
      data_transferred: null,
      physical_bytes_written: null,
    };
  }
  const progress =
    copy.completed !== null ? 1 : copy.duration_ms ? Math.min(1, copy.transferred_ms / copy.duration_ms) : 0;
  const bytes = Math.round(snapBytes(m, copy) * progress);
  return {
    ...base,
    started: copy.created,
    completed: copy.completed,
    progress,
    data_transferred: bytes,
    physical_bytes_written: bytes,
  };
}

/**
 * The group snapshots on `array` that `names` and `source_names` select, oldest first, live and
 * destroyed unless `destroyed` says which. A name is a snapshot's (which must exist), a group's (all
 * its snapshots), or a pattern with `*`.
 */
function selectSnapRows(m: ArrayModel, array: string, q: Query): PgroupSnapRow[] {
  const wanted = names(q.names);
  const sources = names(q.source_names);
  const destroyed = q.destroyed === undefined ? null : q.destroyed === 'true';
  const rows = candidateSnapRows(m, array, wanted, sources);
  for (const s of sources) {
    if (!pgroupRow(m, array, s)) throw bad(`Protection group '${s}' does not exist.`, s);
  }
  const matchers = wanted.map((w) => {
    if (w.includes('*')) {
      const re = wildcard(w);
      return (r: PgroupSnapRow) => re.test(r.name);
    }
    if (pgroupRow(m, array, w)) return (r: PgroupSnapRow) => r.pgroup === w;
    if (!rows.some((r) => r.name === w)) throw bad(`Protection group snapshot '${w}' does not exist.`, w);
    return (r: PgroupSnapRow) => r.name === w;
  });
  return rows.filter(
    (r) =>
      (!matchers.length || matchers.some((match) => match(r))) &&
      (!sources.length || sources.includes(r.pgroup)) &&
      (destroyed === null || (r.destroyed === 1) === destroyed),
  );
}

/**
 * The rows `names` and `source_names` can select, read by index where they name groups or snapshots
 * exactly (a pattern reads the array's whole list), in list order.
 */
function candidateSnapRows(
  m: ArrayModel,
  array: string,
  wanted: readonly string[],
  sources: readonly string[],
): PgroupSnapRow[] {
  const order = 'ORDER BY created, name';
  const marks = (list: readonly string[]) => list.map(() => '?').join(', ');
  if (sources.length) {
    return m.db
      .prepare(`SELECT * FROM pgroup_snaps WHERE array = ? AND pgroup IN (${marks(sources)}) ${order}`)
      .all(array, ...sources) as PgroupSnapRow[];
  }
  if (wanted.length && !wanted.some((w) => w.includes('*'))) {
    return m.db
      .prepare(
        `SELECT * FROM pgroup_snaps WHERE array = ? AND (pgroup IN (${marks(wanted)}) OR name IN (${marks(wanted)})) ${order}`,
      )
      .all(array, ...wanted, ...wanted) as PgroupSnapRow[];
  }
  return m.db.prepare(`SELECT * FROM pgroup_snaps WHERE array = ? ${order}`).all(array) as PgroupSnapRow[];
}

/** `GET /protection-group-snapshots`. */
export function selectPgroupSnaps(m: ArrayModel, array: string, q: Query): Item[] {
  return selectSnapRows(m, array, q).map(pgroupSnapItem);
}

/** `GET /protection-group-snapshots/transfer`: where replication progress lives. */
export function selectPgroupTransfers(m: ArrayModel, array: string, q: Query): Item[] {
  return selectSnapRows(m, array, q).map((r) => transferItem(m, r));
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
    return pgroupSnapItem(takePgroupSnap(m, row, suffix, replicate));
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
    return pgroupSnapItem({ ...row, destroyed: body.destroyed ? 1 : 0 });
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
