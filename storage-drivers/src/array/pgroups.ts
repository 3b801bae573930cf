/**
 * Protection groups as configured on their source: create, schedule and retention, member volumes,
 * targets (a target gets the replica group `SOURCE:GROUP` and must allow it), destroy and eradicate.
 */
import { flashArrayNameProblem } from '@protector/schema';
import { arrayRef, connectionItems } from './arrays.js';
import type { ArrayModel, PgroupRow } from './model.js';
import type { Item } from './query.js';
import { dropPgroupSnap } from './replication.js';
import { type Body, bad, names, type Query, required, requireExisting } from './rest.js';
import { liveVolume, volumeRow } from './volumes.js';

export function pgroupRow(m: ArrayModel, array: string, name: string): PgroupRow | undefined {
  return m.db.prepare('SELECT * FROM pgroups WHERE array = ? AND name = ?').get(array, name) as
    | PgroupRow
    | undefined;
}

/** A protection group that exists and is not destroyed; 400 otherwise. */
export function livePgroup(m: ArrayModel, array: string, name: string): PgroupRow {
  const row = pgroupRow(m, array, name);
  if (!row || row.destroyed) throw bad(`Protection group '${name}' does not exist.`, name);
  return row;
}

/** A replica is named `SOURCE:GROUP` on its target; the part after the first ':'. */
const localName = (replica: string): string => replica.slice(replica.indexOf(':') + 1);

/** A reference to a protection group on `array` (REST `Reference`). */
const groupRef = (array: string, name: string): Item => ({ id: `${array}/${name}`, name });

/** A group's member volume as `/protection-groups/volumes` lists it. */
function membership(m: ArrayModel, array: string, group: string, volume: string): Item {
  const v = volumeRow(m, array, volume);
  return {
    group: groupRef(array, group),
    member: { id: v?.serial ?? '', name: volume, destroyed: v?.destroyed === 1 },
  };
}

function pgroupItem(m: ArrayModel, g: PgroupRow): Item {
  const targets = m.db
    .prepare('SELECT * FROM pgroup_targets WHERE array = ? AND pgroup = ?')
    .all(g.source, g.array === g.source ? g.name : localName(g.name)) as {
    target: string;
    allowed: number;
  }[];
  return {
    name: g.name,
    id: `${g.array}/${g.name}`,
    source: arrayRef(m, g.source),
    pod: null,
    is_local: g.array === g.source,
    destroyed: g.destroyed === 1,
    volume_count: (
      m.db
        .prepare('SELECT COUNT(*) n FROM pgroup_volumes WHERE array = ? AND pgroup = ?')
        .get(g.array, g.name) as {
        n: number;
      }
    ).n,
    target_count: targets.length,
    replication_schedule: { enabled: g.schedule_enabled === 1, frequency: g.frequency_ms },
    target_retention: { all_for_sec: g.all_for_sec, per_day: g.per_day, days: g.days },
  };
}

/** A new group on `array` whose source is `source` (itself, or the source array of a replica). */
function insertPgroup(m: ArrayModel, array: string, name: string, source: string): void {
  m.db
    .prepare('INSERT INTO pgroups (array, name, source, created) VALUES (?, ?, ?, ?)')
    .run(array, name, source, m.now());
}

/** `GET /protection-groups`: sources and replicas on this array, optionally by `names` (each must exist). */
export function selectPgroups(m: ArrayModel, array: string, q: Query): Item[] {
  const wanted = names(q.names);
  const rows = m.db.prepare('SELECT * FROM pgroups WHERE array = ? ORDER BY name').all(array) as PgroupRow[];
  if (wanted.length) {
    requireExisting(
      'Protection group',
      wanted,
      rows.map((r) => r.name),
    );
  }
  return rows.filter((r) => !wanted.length || wanted.includes(r.name)).map((r) => pgroupItem(m, r));
}

/** `POST /protection-groups`. */
export function postPgroups(m: ArrayModel, array: string, q: Query): Item[] {
  const list = required(q, 'names');
  return list.map((name) => {
    const problem = flashArrayNameProblem(name);
    if (problem) throw bad(problem, name);
    if (pgroupRow(m, array, name)) throw bad(`Protection group '${name}' already exists.`, name);
    insertPgroup(m, array, name, array);
    return pgroupItem(m, pgroupRow(m, array, name)!);
  });
}

/**
 * Renames the rows of group `from` (and its snapshots `from.SUFFIX`, their volume snapshots
 * `from.SUFFIX.VOLUME`) to `to` on the arrays `arrays`.
 */
function renameGroupRows(m: ArrayModel, arrays: readonly string[], from: string, to: string): void {
  const rest = from.length + 1;
  for (const a of arrays) {
    m.db.prepare('UPDATE pgroups SET name = ? WHERE array = ? AND name = ?').run(to, a, from);
    for (const table of ['pgroup_volumes', 'pgroup_targets']) {
      m.db.prepare(`UPDATE ${table} SET pgroup = ? WHERE array = ? AND pgroup = ?`).run(to, a, from);
    }
    m.db
      .prepare(
        'UPDATE pgroup_snaps SET pgroup = ?, name = ? || substr(name, ?) WHERE array = ? AND pgroup = ?',
      )
      .run(to, to, rest, a, from);
    m.db
      .prepare(
        'UPDATE volume_snaps SET pgroup_snap = ? || substr(pgroup_snap, ?), name = ? || substr(name, ?) WHERE array = ? AND substr(pgroup_snap, 1, ?) = ?',
      )
      .run(to, rest, to, rest, a, rest, `${from}.`);
  }
}

/** Renames a source group; its replicas become `SOURCE:NEW` and the snapshots follow, as on an array. */
function renamePgroup(m: ArrayModel, array: string, row: PgroupRow, to: string): void {
  const problem = flashArrayNameProblem(to);
  if (problem) throw bad(problem, to);
  if (row.source !== array)
    throw bad(`Protection group '${row.name}' is a replica and cannot be modified.`, row.name);
  if (pgroupRow(m, array, to)) throw bad(`Protection group '${to}' already exists.`, to);
  renameGroupRows(m, [array], row.name, to);
  const targets = (
    m.db.prepare('SELECT array FROM pgroups WHERE name = ?').all(`${array}:${row.name}`) as {
      array: string;
    }[]
  ).map((t) => t.array);
  renameGroupRows(m, targets, `${array}:${row.name}`, `${array}:${to}`);
}

/** `PATCH /protection-groups`: name, replication schedule, target retention, destroyed. */
export function patchPgroups(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const list = required(q, 'names');
  return list.map((given) => {
    let name = given;
    let row = pgroupRow(m, array, name);
    if (!row) throw bad(`Protection group '${name}' does not exist.`, name);
    if (typeof body.name === 'string' && body.name !== name) {
      renamePgroup(m, array, row, body.name);
      name = body.name;
      row = pgroupRow(m, array, name)!;
    }
    const sched = body.replication_schedule as { enabled?: boolean; frequency?: number } | undefined;
    if (sched) {
      if (sched.frequency !== undefined && (!Number.isInteger(sched.frequency) || sched.frequency < 1000)) {
        throw bad(
          `Invalid replication frequency '${sched.frequency}'. Frequency must be at least 1000 ms.`,
          name,
        );
      }
      m.db
        .prepare(
          'UPDATE pgroups SET schedule_enabled = ?, frequency_ms = ?, last_scheduled = ? WHERE array = ? AND name = ?',
        )
        .run(
          (sched.enabled ?? row.schedule_enabled === 1) ? 1 : 0,
          sched.frequency ?? row.frequency_ms,
          row.last_scheduled ?? m.now(),
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
      m.db
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
      m.db
        .prepare('UPDATE pgroups SET destroyed = ? WHERE array = ? AND name = ?')
        .run(body.destroyed ? 1 : 0, array, name);
    }
    return pgroupItem(m, pgroupRow(m, array, name)!);
  });
}

/** Drops every snapshot of a group on one array. */
function dropGroupSnaps(m: ArrayModel, array: string, pgroup: string): void {
  for (const snap of m.db
    .prepare('SELECT name FROM pgroup_snaps WHERE array = ? AND pgroup = ?')
    .all(array, pgroup) as { name: string }[]) {
    dropPgroupSnap(m, array, snap.name);
  }
}

/** `DELETE /protection-groups`: only destroyed groups; their snapshots and their replicas on targets go too. */
export function eradicatePgroups(m: ArrayModel, array: string, list: string[]): void {
  for (const name of list) {
    const row = pgroupRow(m, array, name);
    if (!row) throw bad(`Protection group '${name}' does not exist.`, name);
    if (!row.destroyed)
      throw bad(`Protection group '${name}' must be destroyed before it can be eradicated.`, name);
    dropGroupSnaps(m, array, name);
    m.db.prepare('DELETE FROM pgroup_volumes WHERE array = ? AND pgroup = ?').run(array, name);
    m.db.prepare('DELETE FROM pgroup_targets WHERE array = ? AND pgroup = ?').run(array, name);
    m.db.prepare('DELETE FROM pgroups WHERE array = ? AND name = ?').run(array, name);
    // The copies this group had on its targets go with it.
    const replica = `${array}:${name}`;
    for (const t of m.db.prepare('SELECT array FROM pgroups WHERE name = ?').all(replica) as {
      array: string;
    }[]) {
      dropGroupSnaps(m, t.array, replica);
      m.db.prepare('DELETE FROM pgroups WHERE array = ? AND name = ?').run(t.array, replica);
    }
  }
}

/** `GET /protection-groups/volumes`: memberships, optionally of `group_names` (each must be live). */
export function selectPgroupVolumes(m: ArrayModel, array: string, q: Query): Item[] {
  const groups = names(q.group_names);
  for (const g of groups) livePgroup(m, array, g);
  const rows = m.db
    .prepare('SELECT * FROM pgroup_volumes WHERE array = ? ORDER BY pgroup, volume')
    .all(array) as {
    pgroup: string;
    volume: string;
  }[];
  return rows
    .filter((r) => !groups.length || groups.includes(r.pgroup))
    .map((r) => membership(m, array, r.pgroup, r.volume));
}

/** `POST` (`add`) or `DELETE /protection-groups/volumes`; only on the group's source array. */
export function changePgroupVolumes(m: ArrayModel, array: string, q: Query, add: boolean): Item[] {
  const groups = required(q, 'group_names');
  const members = required(q, 'member_names');
  const out: Item[] = [];
  for (const g of groups) {
    const row = livePgroup(m, array, g);
    if (row.source !== array) throw bad(`Protection group '${g}' is a replica and cannot be modified.`, g);
    for (const v of members) {
      const has = m.db
        .prepare('SELECT 1 FROM pgroup_volumes WHERE array = ? AND pgroup = ? AND volume = ?')
        .get(array, g, v);
      if (add) {
        liveVolume(m, array, v);
        if (has) throw bad(`Volume '${v}' is already a member of protection group '${g}'.`, v);
        m.db.prepare('INSERT INTO pgroup_volumes VALUES (?, ?, ?)').run(array, g, v);
      } else {
        if (!has) throw bad(`Volume '${v}' is not a member of protection group '${g}'.`, v);
        m.db
          .prepare('DELETE FROM pgroup_volumes WHERE array = ? AND pgroup = ? AND volume = ?')
          .run(array, g, v);
      }
      out.push(membership(m, array, g, v));
    }
  }
  return out;
}

/** `GET /protection-groups/targets`: this array's groups' targets and the replicas it is a target of. */
export function selectPgroupTargets(m: ArrayModel, array: string, q: Query): Item[] {
  const groups = names(q.group_names);
  const all = m.db.prepare('SELECT * FROM pgroup_targets').all() as {
    array: string;
    pgroup: string;
    target: string;
    allowed: number;
  }[];
  return all
    .filter((r) => r.array === array || r.target === array)
    .map((r) => ({
      group: groupRef(array, r.array === array ? r.pgroup : `${r.array}:${r.pgroup}`),
      member: arrayRef(m, r.target),
      allowed: r.allowed === 1,
    }))
    .filter((i) => !groups.length || groups.includes((i.group as { name: string }).name));
}

/** `POST /protection-groups/targets`: not yet allowed; the target gets the replica group. */
export function postPgroupTargets(m: ArrayModel, array: string, q: Query): Item[] {
  const groups = required(q, 'group_names');
  const targets = required(q, 'member_names');
  const out: Item[] = [];
  for (const g of groups) {
    livePgroup(m, array, g);
    for (const target of targets) {
      if (target === array)
        throw bad(`Array '${target}' cannot be a target of its own protection group.`, target);
      const connected = connectionItems(m, array).some((c) => c.name === target);
      if (!connected) throw bad(`Array '${target}' is not connected to this array.`, target);
      if (
        m.db
          .prepare('SELECT 1 FROM pgroup_targets WHERE array = ? AND pgroup = ? AND target = ?')
          .get(array, g, target)
      ) {
        throw bad(`Target '${target}' already exists in protection group '${g}'.`, target);
      }
      m.db.prepare('INSERT INTO pgroup_targets VALUES (?, ?, ?, 0)').run(array, g, target);
      const replica = `${array}:${g}`;
      const existing = pgroupRow(m, target, replica);
      if (!existing) insertPgroup(m, target, replica, array);
      out.push({ group: groupRef(array, g), member: arrayRef(m, target), allowed: false });
    }
  }
  return out;
}

/** `PATCH /protection-groups/targets {allowed}` on the target, naming replicas `SOURCE:GROUP`. */
export function patchPgroupTargets(m: ArrayModel, array: string, q: Query, body: Body): Item[] {
  const groups = required(q, 'group_names');
  if (typeof body.allowed !== 'boolean') throw bad('Missing required body field allowed.', 'allowed');
  return groups.map((replica) => {
    const [source, group] = replica.includes(':') ? replica.split(':') : [undefined, undefined];
    if (!source || !group) throw bad(`Protection group '${replica}' does not exist.`, replica);
    const info = m.db
      .prepare('SELECT 1 FROM pgroup_targets WHERE array = ? AND pgroup = ? AND target = ?')
      .get(source, group, array);
    if (!info) throw bad(`Protection group '${replica}' does not exist.`, replica);
    m.db
      .prepare('UPDATE pgroup_targets SET allowed = ? WHERE array = ? AND pgroup = ? AND target = ?')
      .run(body.allowed ? 1 : 0, source, group, array);
    return { group: groupRef(array, replica), member: arrayRef(m, array), allowed: body.allowed };
  });
}

/** `DELETE /protection-groups/targets`. */
export function deletePgroupTargets(m: ArrayModel, array: string, q: Query): void {
  const groups = names(q.group_names);
  const targets = names(q.member_names);
  for (const g of groups) {
    for (const t of targets) {
      const res = m.db
        .prepare('DELETE FROM pgroup_targets WHERE array = ? AND pgroup = ? AND target = ?')
        .run(array, g, t);
      if (!res.changes) throw bad(`Target '${t}' does not exist in protection group '${g}'.`, t);
    }
  }
}
